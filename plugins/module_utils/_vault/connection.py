# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to Vault or OpenBao: options, authentication, one HTTP call path, readable errors.

Modules merge :data:`VAULT_CONNECTION_ARGSPEC` into their argument spec, document the options with
``extends_documentation_fragment: atlas.hardening.vault`` and call :func:`vault_client_from_module`
(or :func:`vault_client_from_params` outside a module).
Every failure is raised as a :class:`VaultError` (a ``HardeningError``) whose message names the
Vault URL, what was being done and what to check.

Retries (``vault_retries``): a request that could not be sent (connection refused, DNS, connect
timeout) is retried for every method, since Vault never saw it. A 5xx/429 answer, a read timeout
or a dropped connection is retried only for reads (GET, LIST, HEAD): for a write, Vault may have
applied it. KV v2 writes with check-and-set handle that case themselves (see ``vault_kv2.py``):
they read the key back to learn whether the lost write landed before trying again.
"""

from __future__ import annotations

import copy
import json as _json
import os
import re
import traceback
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

try:
    import hvac
    import requests
    import requests.adapters
    import requests.exceptions
    import urllib3
    from urllib3.util.retry import Retry
except ImportError:
    HAS_HVAC = False
    HVAC_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_HVAC = True
    HVAC_IMPORT_ERROR = None

AUTH_METHODS = ("token", "approle", "kubernetes")
DEFAULT_KUBERNETES_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 3
# Waits between attempts: 0 s, then RETRY_BACKOFF_FACTOR * 2 ** (n - 1) s (urllib3's schedule).
RETRY_BACKOFF_FACTOR = 0.5
RETRY_STATUSES = (429, 500, 502, 503, 504)
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "LIST", "OPTIONS"))
# Vault CLI semantics (Go strconv.ParseBool) for VAULT_SKIP_VERIFY.
_TRUE_STRINGS = frozenset(("1", "t", "true"))

VAULT_CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = {
    "vault_url": {"type": "str", "fallback": (env_fallback, ["VAULT_ADDR"])},
    "vault_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["VAULT_TOKEN"])},
    "vault_namespace": {"type": "str", "fallback": (env_fallback, ["VAULT_NAMESPACE"])},
    "vault_auth_method": {"type": "str", "default": "token", "choices": list(AUTH_METHODS)},
    "vault_auth_mount_point": {"type": "str"},
    "vault_role_id": {"type": "str", "no_log": True},
    "vault_secret_id": {"type": "str", "no_log": True},
    "vault_kubernetes_role": {"type": "str"},
    "vault_kubernetes_token_path": {"type": "path", "default": DEFAULT_KUBERNETES_TOKEN_PATH},
    "vault_ca_cert": {"type": "path", "fallback": (env_fallback, ["VAULT_CACERT"])},
    "vault_validate_certs": {"type": "bool"},
    "vault_timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
    "vault_retries": {"type": "int", "default": DEFAULT_RETRIES},
}


def retry_delay(retry_number: int) -> float:
    """Seconds to wait before the ``retry_number``-th retry (1-based), like urllib3: 0, 1, 2, 4..."""
    return 0.0 if retry_number <= 1 else RETRY_BACKOFF_FACTOR * (2 ** (retry_number - 1))


def vault_argument_spec() -> dict[str, dict[str, Any]]:
    """A fresh copy of :data:`VAULT_CONNECTION_ARGSPEC`, safe to modify."""
    return copy.deepcopy(VAULT_CONNECTION_ARGSPEC)


class VaultError(HardeningError):
    """Any Vault failure; the message says what failed, where, and what to check."""


class VaultConfigError(VaultError):
    """The connection options are incomplete or inconsistent (nothing was sent)."""


class VaultConnectionError(VaultError):
    """Vault could not be reached or did not answer.

    ``request_sent`` is False when the request never left (connection refused, DNS, TLS, connect
    timeout): Vault did not apply it. When True (read timeout, dropped connection) a write may or
    may not have been applied.
    """

    def __init__(self, message: str, request_sent: bool = False, **details: Any) -> None:
        super().__init__(message, **details)
        self.request_sent = request_sent


class VaultAuthError(VaultError):
    """Vault rejected the credentials: a wrong, expired or revoked token, or a failed login."""


class VaultPermissionError(VaultError):
    """The token is valid but its policies do not allow the operation."""


class VaultNotFoundError(VaultError):
    """Nothing at that path (or the path does not exist for this token)."""


class VaultRequestError(VaultError):
    """Vault refused the request (400) or failed (5xx); ``status`` and ``errors`` hold its answer."""

    def __init__(self, message: str, status: int = 0, errors: Optional[list[str]] = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.status = status
        self.errors = errors or []


@dataclass
class VaultResponse:
    """One HTTP answer from Vault: status code and parsed JSON body (None when empty)."""

    status: int
    body: Any

    @property
    def errors(self) -> list[str]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), list):
            return [line for error in self.body["errors"] for line in _split_multierror(str(error))]
        if self.body:
            # Not a Vault error body (a proxy or load balancer answered): show the start of it.
            return [_json.dumps(self.body, sort_keys=True)[:200]]
        return []

    @property
    def data(self) -> dict[str, Any]:
        if isinstance(self.body, dict) and isinstance(self.body.get("data"), dict):
            return self.body["data"]
        return {}


def _split_multierror(text: str) -> list[str]:
    """Vault wraps some errors as "1 error occurred:\n\t* permission denied\n\n": keep the items."""
    if re.match(r"^\d+ errors? occurred:", text):
        items = [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("* ")]
        if items:
            return items
    return [text.strip()]


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE_STRINGS


def _short_reason(exc: BaseException) -> str:
    """The human part of a requests/urllib3 connection error ("Connection refused", ...)."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if match:
        return match.group(1).strip()
    for marker in ("Name or service not known", "nodename nor servname", "Temporary failure in name resolution",
                   "Connection refused", "Connection reset", "Remote end closed connection",
                   "certificate verify failed", "Read timed out", "timed out"):
        if marker.lower() in text.lower():
            return marker
    return type(exc).__name__


class VaultConnection:
    """An authenticated connection to one Vault/OpenBao server (and namespace).

    ``client`` is the underlying ``hvac.Client`` for operations this layer does not wrap; call it
    inside ``with connection.errors("do X"):`` to get the same readable errors.
    """

    def __init__(self, url: str, *, token: Optional[str] = None, namespace: Optional[str] = None,
                 verify: Any = True, timeout: int = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 auth_method: str = "token") -> None:
        if not HAS_HVAC:
            raise VaultConfigError(missing_required_lib("hvac"), exception=HVAC_IMPORT_ERROR)
        self.url = url.rstrip("/")
        self.namespace = namespace or None
        self.timeout = timeout
        self.retries = max(0, retries)
        self.auth_method = auth_method
        self.verify = verify
        # API calls made (a call the transport retried counts once; the lab proxy counts attempts).
        self.request_count = 0
        # Tokens obtained by a login: modules add these to module.no_log_values.
        self.no_log_values: set[str] = set()
        session = requests.Session()
        session.verify = verify
        adapter = requests.adapters.HTTPAdapter(max_retries=self._retry_policy())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        if verify is False:
            # The user asked for no verification (a test server): one warning per request is noise.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.client = hvac.Client(url=self.url, token=token or None, verify=verify, timeout=timeout,
                                  namespace=self.namespace, session=session)
        # hvac falls back to VAULT_TOKEN / ~/.vault-token when token is None; we decide explicitly.
        self.client.token = token or None

    # ------------------------------------------------------------------------------------------
    # Where we talk to, for messages
    @property
    def where(self) -> str:
        return "Vault at %s%s" % (self.url, " (namespace %s)" % self.namespace if self.namespace else "")

    def _retry_policy(self) -> "Retry":
        return Retry(
            total=self.retries, connect=self.retries, read=self.retries, status=self.retries, other=0,
            allowed_methods=IDEMPOTENT_METHODS, status_forcelist=RETRY_STATUSES,
            backoff_factor=RETRY_BACKOFF_FACTOR, raise_on_status=False, respect_retry_after_header=True,
        )

    # ------------------------------------------------------------------------------------------
    # Authentication
    def login_approle(self, role_id: str, secret_id: str, mount_point: str = "approle") -> None:
        """Log in with AppRole; the resulting token is used for every later call."""
        response = self.send("POST", "auth/%s/login" % mount_point.strip("/"),
                             json={"role_id": role_id, "secret_id": secret_id},
                             action="log in with AppRole (mount auth/%s)" % mount_point.strip("/"),
                             authenticated=False)
        if response.status != 200:
            raise self._login_error(response, "AppRole", mount_point,
                                    "check vault_role_id and vault_secret_id (the secret ID may be expired, "
                                    "used up or bound to other CIDRs) and that AppRole is enabled at "
                                    "auth/%s" % mount_point.strip("/"))
        self._use_login_token(response)

    def login_kubernetes(self, role: str, jwt: str, mount_point: str = "kubernetes") -> None:
        """Log in with a Kubernetes service-account token (JWT); Vault checks it with a TokenReview."""
        response = self.send("POST", "auth/%s/login" % mount_point.strip("/"), json={"role": role, "jwt": jwt},
                             action="log in with Kubernetes auth as role %r (mount auth/%s)"
                             % (role, mount_point.strip("/")),
                             authenticated=False)
        if response.status != 200:
            raise self._login_error(response, "Kubernetes", mount_point,
                                    "check vault_kubernetes_role (the role must bind this service account "
                                    "and namespace), that the kubernetes auth method is enabled at auth/%s, "
                                    "and that Vault can reach the Kubernetes TokenReview API"
                                    % mount_point.strip("/"))
        self._use_login_token(response)

    def _use_login_token(self, response: VaultResponse) -> None:
        auth = response.body.get("auth") if isinstance(response.body, dict) else None
        token = auth.get("client_token") if isinstance(auth, dict) else None
        if not token:
            raise VaultAuthError("%s answered the login without a client token: is this a Vault API?" % self.where)
        self.no_log_values.add(token)
        self.client.token = token

    def _login_error(self, response: VaultResponse, method: str, mount_point: str, hint: str) -> VaultError:
        reason = "; ".join(response.errors) or "HTTP %d" % response.status
        if response.status in (400, 401, 403):
            return VaultAuthError("%s rejected the %s login at auth/%s (%s): %s."
                                  % (self.where, method, mount_point.strip("/"), reason, hint))
        return self.http_error(response, "log in with %s at auth/%s" % (method, mount_point.strip("/")))

    def lookup_self(self) -> Optional[dict[str, Any]]:
        """The token's own metadata (policies, ttl...), or None when Vault rejects the token."""
        response = self.send("GET", "auth/token/lookup-self", action="look up the token")
        if response.status in (401, 403):
            return None
        if response.status != 200:
            raise self.http_error(response, "look up the token")
        data = dict(response.data)
        # The token itself comes back in "id": never keep it in a value that could be returned.
        data.pop("id", None)
        return data

    # ------------------------------------------------------------------------------------------
    # HTTP
    def send(self, method: str, path: str, *, json: Any = None, params: Optional[Mapping[str, Any]] = None,
             action: str, authenticated: bool = True) -> VaultResponse:
        """One API call to ``/v1/<path>``; returns any HTTP answer, raises only when none came back.

        Transport failures become :class:`VaultConnectionError`. ``authenticated=False`` sends no
        token (logins).
        """
        api_path = "/v1/" + path.lstrip("/")
        saved_token = self.client.token
        if not authenticated:
            self.client.token = None
        self.request_count += 1
        try:
            raw = self.client.adapter.request(method, api_path, raise_exception=False, json=json,
                                              params=dict(params) if params else None)
        except requests.exceptions.RequestException as exc:
            raise self.transport_error(exc, action) from None
        finally:
            if not authenticated:
                self.client.token = saved_token
        if isinstance(raw, dict):  # hvac's JSONAdapter decodes 200 answers itself
            return VaultResponse(200, raw)
        body: Any = None
        if raw.content:
            try:
                body = raw.json()
            except ValueError:
                body = {"errors": [raw.text.strip()[:300]]}
        return VaultResponse(raw.status_code, body)

    def request(self, method: str, path: str, *, json: Any = None, params: Optional[Mapping[str, Any]] = None,
                action: str, missing_ok: bool = False) -> Optional[dict[str, Any]]:
        """An API call that must succeed: returns the JSON body ({} for 204), None for a 404 when
        ``missing_ok``, and raises a readable :class:`VaultError` otherwise."""
        response = self.send(method, path, json=json, params=params, action=action)
        if response.status in (200, 204):
            return response.body if isinstance(response.body, dict) else {}
        if response.status == 404 and missing_ok:
            return None
        raise self.http_error(response, action, path=path)

    # ------------------------------------------------------------------------------------------
    # Errors
    def transport_error(self, exc: BaseException, action: str) -> VaultConnectionError:
        """Map a requests exception (no HTTP answer) to one readable error."""
        attempts = "" if self.retries == 0 else " (%d attempts)" % (self.retries + 1)
        if isinstance(exc, requests.exceptions.SSLError):
            return VaultConnectionError(
                "TLS verification failed for %s while trying to %s: %s. Check vault_ca_cert / VAULT_CACERT "
                "(the CA that signed Vault's certificate), or set vault_validate_certs=false (VAULT_SKIP_VERIFY) "
                "for a test server." % (self.where, action, _short_reason(exc)))
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return VaultConnectionError(
                "%s did not accept a connection within %s s while trying to %s%s: check vault_url / VAULT_ADDR, "
                "firewalls, and vault_timeout." % (self.where, self.timeout, action, attempts))
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return VaultConnectionError(
                "%s did not answer within %s s while trying to %s%s; a write may or may not have been applied. "
                "Check Vault's health and vault_timeout." % (self.where, self.timeout, action, attempts),
                request_sent=True)
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema)):
            return VaultConnectionError("vault_url %r is not a usable URL (%s): use e.g. https://vault.example:8200."
                                        % (self.url, exc))
        reason = _short_reason(exc)
        sent = not _is_connect_failure(exc)
        suffix = "; a write may or may not have been applied" if sent else ""
        return VaultConnectionError(
            "Cannot reach %s while trying to %s: %s%s%s. Check vault_url / VAULT_ADDR and that Vault is running "
            "and reachable from this host." % (self.where, action, reason, attempts, suffix), request_sent=sent)

    def http_error(self, response: VaultResponse, action: str, path: str = "") -> VaultError:
        """Map an HTTP error answer to one readable error (diagnosing 403 with one extra call)."""
        reason = "; ".join(response.errors) or "no error text"
        status = response.status
        if status == 403:
            return self._forbidden(action, reason)
        if status == 401:
            return VaultAuthError("%s rejected the credentials (401: %s) while trying to %s: check VAULT_TOKEN / "
                                  "vault_token or the login options." % (self.where, reason, action))
        if status == 404:
            return VaultNotFoundError("%s has nothing at %s (404) while trying to %s: check the path and mount "
                                      "point." % (self.where, path or "that path", action))
        if status == 429:
            return VaultRequestError("%s is rate limiting this client (429: %s) while trying to %s: retry later or "
                                     "raise vault_retries." % (self.where, reason, action), status, response.errors)
        if status == 503:
            return VaultRequestError("%s is sealed or unavailable (503: %s) while trying to %s: unseal it or wait "
                                     "for the active node." % (self.where, reason, action), status, response.errors)
        if status >= 500:
            return VaultRequestError("%s failed (%d: %s) while trying to %s; for a write, the outcome is unknown: "
                                     "check Vault's logs." % (self.where, status, reason, action),
                                     status, response.errors)
        return VaultRequestError("%s refused to %s (%d: %s)." % (self.where, action, status, reason),
                                 status, response.errors)

    def _forbidden(self, action: str, reason: str) -> VaultError:
        # Vault answers 403 both for a bad token and for a missing policy: one lookup-self tells which.
        # It costs a request only on this failure path.
        try:
            info = self.lookup_self()
        except VaultError:
            info = None
        if info is None:
            if self.auth_method == "token":
                hint = "check VAULT_TOKEN / vault_token (the token may be wrong, expired or revoked)"
            else:
                hint = "the token from the %s login was refused; check the auth role's token settings" % (
                    self.auth_method)
            return VaultAuthError("%s rejected the token (%s) while trying to %s: %s."
                                  % (self.where, reason, action, hint))
        policies = ", ".join(sorted(set(info.get("policies") or []) | set(info.get("identity_policies") or [])))
        return VaultPermissionError("%s denied permission to %s (%s): the token is valid but its policies (%s) do "
                                    "not allow it. Grant the needed capabilities on that path."
                                    % (self.where, action, reason, policies or "none"))

    def errors(self, action: str) -> "_HvacErrors":
        """Context manager mapping hvac/requests exceptions raised inside it to a :class:`VaultError`."""
        return _HvacErrors(self, action)

    # ------------------------------------------------------------------------------------------
    # Mounts
    def mount_info(self, mount_point: str) -> dict[str, Any]:
        """Type and options of the secrets engine mounted at ``mount_point`` (sys/internal/ui/mounts).

        Any token with a capability under the mount may call this; it is what the Vault CLI uses.
        """
        mount_point = mount_point.strip("/")
        action = "look up the secrets engine mounted at %s/" % mount_point
        response = self.send("GET", "sys/internal/ui/mounts/%s" % mount_point, action=action)
        if response.status == 200:
            return response.data
        if response.status in (400, 403, 404):
            reason = "; ".join(response.errors) or "HTTP %d" % response.status
            if response.status == 403:
                error = self._forbidden(action, reason)
                if isinstance(error, VaultAuthError):
                    raise error
            raise VaultNotFoundError("%s has no secrets engine mounted at %s/ that this token may use (%s): check "
                                     "the mount point and the token's policies." % (self.where, mount_point, reason))
        raise self.http_error(response, action)


def _is_connect_failure(exc: BaseException) -> bool:
    """True when the request never reached the server (so it was certainly not applied)."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    seen = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
            return True
        reason = getattr(current, "reason", None)
        args = getattr(current, "args", ())
        current = reason if isinstance(reason, BaseException) else (
            args[0] if args and isinstance(args[0], BaseException) else current.__context__)
    return False


class _HvacErrors:
    def __init__(self, connection: VaultConnection, action: str) -> None:
        self.connection = connection
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, HardeningError):
            return False
        if isinstance(exc, requests.exceptions.RequestException):
            raise self.connection.transport_error(exc, self.action) from None
        if isinstance(exc, hvac.exceptions.VaultError):
            status = _HVAC_STATUS.get(type(exc), 0)
            body = exc.json if isinstance(exc.json, dict) else {"errors": exc.errors or [str(exc.args[0])]}
            raise self.connection.http_error(VaultResponse(status, body), self.action) from None
        return False


_HVAC_STATUS: dict[Any, int] = {}
if HAS_HVAC:
    _HVAC_STATUS = {
        hvac.exceptions.InvalidRequest: 400, hvac.exceptions.Unauthorized: 401, hvac.exceptions.Forbidden: 403,
        hvac.exceptions.InvalidPath: 404, hvac.exceptions.RateLimitExceeded: 429,
        hvac.exceptions.InternalServerError: 500, hvac.exceptions.VaultNotInitialized: 501,
        hvac.exceptions.BadGateway: 502, hvac.exceptions.VaultDown: 503,
    }


def _verify_setting(params: Mapping[str, Any]) -> Any:
    """requests' ``verify``: False, True, or the CA bundle path (VAULT_SKIP_VERIFY honoured)."""
    validate = params.get("vault_validate_certs")
    if validate is None:
        validate = not _env_true("VAULT_SKIP_VERIFY")
    if not validate:
        return False
    ca_cert = params.get("vault_ca_cert")
    if ca_cert:
        if not os.path.isfile(ca_cert):
            raise VaultConfigError("vault_ca_cert %s does not exist or is not a file: give the PEM file of the CA "
                                   "that signed Vault's certificate (or set VAULT_CACERT)." % ca_cert)
        return ca_cert
    return True


def _read_service_account_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            jwt = handle.read().strip()
    except FileNotFoundError:
        raise VaultConfigError(
            "Vault Kubernetes auth: no service-account token at %s. Run inside a Pod whose service account token "
            "is mounted, or set vault_kubernetes_token_path to the JWT file." % path) from None
    except OSError as exc:
        raise VaultConfigError("Vault Kubernetes auth: cannot read the service-account token %s (%s): check "
                               "vault_kubernetes_token_path and file permissions." % (path, exc.strerror)) from None
    if not jwt:
        raise VaultConfigError("Vault Kubernetes auth: the service-account token file %s is empty: check "
                               "vault_kubernetes_token_path." % path)
    return jwt


def vault_client_from_params(params: Mapping[str, Any]) -> VaultConnection:
    """Build and authenticate a :class:`VaultConnection` from module parameters (``vault_*`` options).

    Token auth sends nothing here (a bad token shows at the first call, with a clear message);
    AppRole and Kubernetes auth log in now.
    """
    if not HAS_HVAC:
        raise VaultConfigError(missing_required_lib("hvac"), exception=HVAC_IMPORT_ERROR)
    url = (params.get("vault_url") or "").strip()
    if not url:
        raise VaultConfigError("No Vault address: set vault_url or the VAULT_ADDR environment variable "
                               "(e.g. https://vault.example:8200).")
    if not re.match(r"^https?://[^/]+", url):
        raise VaultConfigError("vault_url %r is not an http(s) URL: use e.g. https://vault.example:8200." % url)
    method = params.get("vault_auth_method") or "token"
    if method not in AUTH_METHODS:
        raise VaultConfigError("vault_auth_method %r is not supported: use one of %s."
                               % (method, ", ".join(AUTH_METHODS)))
    timeout = params.get("vault_timeout")
    retries = params.get("vault_retries")
    connection = VaultConnection(
        url,
        token=params.get("vault_token") if method == "token" else None,
        namespace=params.get("vault_namespace"),
        verify=_verify_setting(params),
        timeout=DEFAULT_TIMEOUT if timeout is None else int(timeout),
        retries=DEFAULT_RETRIES if retries is None else int(retries),
        auth_method=method,
    )
    mount_point = params.get("vault_auth_mount_point") or method
    if method == "token":
        if not params.get("vault_token"):
            raise VaultConfigError("No Vault token: set vault_token or VAULT_TOKEN, or use vault_auth_method "
                                   "approle or kubernetes.")
    elif method == "approle":
        missing = [name for name in ("vault_role_id", "vault_secret_id") if not params.get(name)]
        if missing:
            raise VaultConfigError("vault_auth_method=approle needs %s." % " and ".join(missing))
        connection.login_approle(params["vault_role_id"], params["vault_secret_id"], mount_point)
    else:
        role = params.get("vault_kubernetes_role")
        if not role:
            raise VaultConfigError("vault_auth_method=kubernetes needs vault_kubernetes_role (the Vault role bound "
                                   "to this service account).")
        jwt = _read_service_account_token(params.get("vault_kubernetes_token_path") or DEFAULT_KUBERNETES_TOKEN_PATH)
        connection.no_log_values.add(jwt)
        connection.login_kubernetes(role, jwt, mount_point)
    return connection


def vault_client_from_module(module: Any) -> VaultConnection:
    """:func:`vault_client_from_params` for an AnsibleModule: fail_json with the readable message on
    any error, and hide every token and JWT the connection holds or obtains later (shared set)."""
    try:
        connection = vault_client_from_params(module.params)
    except HardeningError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.no_log_values.update(connection.no_log_values)
    connection.no_log_values = module.no_log_values
    return connection
