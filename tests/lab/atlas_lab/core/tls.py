"""The lab's certificate authority and server certificates (generated with ``cryptography``).

Every HTTPS service of the lab presents a certificate issued by one throw-away CA, so clients verify
TLS for real (kubectl, the kubernetes client, hvac, requests) with the CA file the lab writes,
instead of disabling verification. Keys are ECDSA P-256: generating them takes milliseconds.

Typical use::

    files = write_tls_files(lab_dir / "tls")            # ca.crt, server.crt, server.key
    context = server_ssl_context(files)                 # for http_base.serve(..., ssl_context=...)
    client = ssl.create_default_context(cafile=str(files.ca_file))
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTNAMES = ("localhost",)
DEFAULT_IPS = ("127.0.0.1", "::1")
CA_VALIDITY = datetime.timedelta(days=3650)
SERVER_VALIDITY = datetime.timedelta(days=825)


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    def _load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the lab CA key must be an EC key")
        return cert, key


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the files written by :func:`write_tls_files`."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    ca_key_file: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    # Backdate a little so that clients with a slightly late clock accept the certificates.
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)


def create_ca(common_name: str = "atlas-lab CA") -> CertificateAuthority:
    """Create a self-signed CA that may only sign certificates (path length 0)."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "atlas.hardening lab")])
    not_before = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_server_certificate(ca: CertificateAuthority, hostnames: Iterable[str] = DEFAULT_HOSTNAMES,
                             ips: Iterable[str] = DEFAULT_IPS,
                             common_name: str = "atlas-lab server") -> tuple[bytes, bytes]:
    """Return ``(cert_pem, key_pem)`` for a server certificate valid for ``hostnames`` and ``ips``."""
    alt_names: list[x509.GeneralName] = [x509.DNSName(host) for host in hostnames]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    return _issue(ca, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
                  ExtendedKeyUsageOID.SERVER_AUTH, alt_names)


def issue_client_certificate(ca: CertificateAuthority, user: str,
                             groups: Iterable[str] = ()) -> tuple[bytes, bytes]:
    """Return ``(cert_pem, key_pem)`` for a client certificate as kube-apiserver reads one: the
    common name is the user, each organization a group."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    return _issue(ca, x509.Name(attributes), ExtendedKeyUsageOID.CLIENT_AUTH, [])


def _issue(ca: CertificateAuthority, subject: x509.Name, usage: x509.ObjectIdentifier,
           alt_names: list[x509.GeneralName]) -> tuple[bytes, bytes]:
    ca_cert, ca_key = ca._load()  # pylint: disable=protected-access
    key = _new_key()
    not_before = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + SERVER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=True, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _write(path: Path, data: bytes, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_or_create_ca(directory: Path) -> CertificateAuthority:
    """Reuse ``directory/ca.crt`` + ``ca.key`` when both exist, otherwise create and write a new CA."""
    ca_file, ca_key_file = directory / "ca.crt", directory / "ca.key"
    if ca_file.is_file() and ca_key_file.is_file():
        return CertificateAuthority(ca_file.read_bytes(), ca_key_file.read_bytes())
    ca = create_ca()
    _write(ca_file, ca.cert_pem, private=False)
    _write(ca_key_file, ca.key_pem, private=True)
    return ca


def write_tls_files(directory: Path | str, hostnames: Iterable[str] = DEFAULT_HOSTNAMES,
                    ips: Iterable[str] = DEFAULT_IPS, name: str = "server") -> TLSFiles:
    """Write (or reuse) the lab CA in ``directory`` and issue ``<name>.crt``/``<name>.key`` from it."""
    directory = Path(directory)
    ca = load_or_create_ca(directory)
    cert_pem, key_pem = issue_server_certificate(ca, hostnames, ips)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    _write(cert_file, cert_pem, private=False)
    _write(key_file, key_pem, private=True)
    return TLSFiles(ca_file=directory / "ca.crt", cert_file=cert_file, key_file=key_file,
                    ca_key_file=directory / "ca.key")


def server_ssl_context(files: TLSFiles) -> ssl.SSLContext:
    """A server-side context presenting ``files.cert_file`` (TLS 1.2+, HTTP/1.1 only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.cert_file), str(files.key_file))
    # Go clients offer h2 first; the lab servers speak HTTP/1.1 only.
    context.set_alpn_protocols(["http/1.1"])
    return context


def client_ssl_context(files: TLSFiles) -> ssl.SSLContext:
    """A client-side context trusting only the lab CA."""
    return ssl.create_default_context(cafile=str(files.ca_file))
