# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the HTTP transport to one Vault/OpenBao server (and namespace).

:func:`...config.vault_client_from_params` builds it from the ``vault_*`` options; logins live in
``auth.py`` and error messages in ``errors.py``.

Retries (``vault_retries``): a request that could not be sent (connection refused, DNS, connect
timeout) is retried for every method, since Vault never saw it. A 5xx/429 answer, a read timeout
or a dropped connection is retried only for reads (GET, LIST, HEAD): for a write, Vault may have
applied it. KV v2 writes with check-and-set handle that case themselves (see ``kv2.py``): they
read the key back to learn whether the lost write landed before trying again.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any, Literal

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._vault import auth
from ansible_collections.atlas.hardening.plugins.module_utils._vault.errors import (
    VaultAuthError,
    VaultConfigError,
    VaultConnectionError,
    VaultError,
    VaultNotFoundError,
    VaultResponse,
    forbidden_error,
    http_error,
    transport_error,
)
from ansible_collections.atlas.hardening.plugins.module_utils._vault.options import DEFAULT_RETRIES, DEFAULT_TIMEOUT

try:
    import hvac
    import requests
    import requests.adapters
    import requests.exceptions
    import urllib3
    from urllib3.util.retry import Retry
except ImportError:
    HAS_HVAC = False
    HVAC_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_HVAC = True
    HVAC_IMPORT_ERROR = None

# Waits between attempts: 0 s, then RETRY_BACKOFF_FACTOR * 2 ** (n - 1) s (urllib3's schedule).
RETRY_BACKOFF_FACTOR = 0.5
RETRY_STATUSES = (429, 500, 502, 503, 504)
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "LIST", "OPTIONS"))


def retry_delay(retry_number: int) -> float:
    """Seconds to wait before the ``retry_number``-th retry (1-based), like urllib3: 0, 1, 2, 4..."""
    return 0.0 if retry_number <= 1 else RETRY_BACKOFF_FACTOR * (2 ** (retry_number - 1))


class VaultConnection:
    """An authenticated connection to one Vault/OpenBao server (and namespace).

    ``client`` is the underlying ``hvac.Client`` for operations this layer does not wrap; call it
    inside ``with connection.errors("do X"):`` to get the same readable errors.
    """

    def __init__(self, url: str, *, token: str | None = None, namespace: str | None = None,
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
        self.session = session
        self.client = hvac.Client(url=self.url, token=token or None, verify=verify, timeout=timeout,
                                  namespace=self.namespace, session=session)
        # hvac falls back to VAULT_TOKEN / ~/.vault-token when token is None; we decide explicitly.
        self.client.token = token or None

    @property
    def where(self) -> str:
        """Where we talk to, for messages."""
        return "Vault at {}{}".format(self.url, f" (namespace {self.namespace})" if self.namespace else "")

    def _retry_policy(self) -> Retry:
        return Retry(
            total=self.retries, connect=self.retries, read=self.retries, status=self.retries, other=0,
            allowed_methods=IDEMPOTENT_METHODS, status_forcelist=RETRY_STATUSES,
            backoff_factor=RETRY_BACKOFF_FACTOR, raise_on_status=False, respect_retry_after_header=True,
        )

    # Authentication (auth.py) -----------------------------------------------------------------
    def login_approle(self, role_id: str, secret_id: str, mount_point: str = "approle") -> None:
        auth.login_approle(self, role_id, secret_id, mount_point)

    def login_kubernetes(self, role: str, jwt: str, mount_point: str = "kubernetes") -> None:
        auth.login_kubernetes(self, role, jwt, mount_point)

    def lookup_self(self) -> dict[str, Any] | None:
        return auth.lookup_self(self)

    # HTTP -------------------------------------------------------------------------------------
    def send(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
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

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                action: str, missing_ok: bool = False) -> dict[str, Any] | None:
        """An API call that must succeed: returns the JSON body ({} for 204), None for a 404 when
        ``missing_ok``, and raises a readable :class:`VaultError` otherwise."""
        response = self.send(method, path, json=json, params=params, action=action)
        if response.status in (200, 204):
            return response.body if isinstance(response.body, dict) else {}
        if response.status == 404 and missing_ok:
            return None
        raise self.http_error(response, action, path=path)

    def stream(self, method: str, path: str, *, action: str, body: Any = None,
               params: Mapping[str, Any] | None = None) -> Any:
        """A raw call whose body is not held in memory: the answer is a ``requests.Response`` to read with
        ``iter_content`` (and close), ``body`` may be a file object sent as it is read (raft snapshots).
        An error answer raises a readable :class:`VaultError`."""
        headers = {"X-Vault-Request": "true"}
        if self.client.token:
            headers["X-Vault-Token"] = self.client.token
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        self.request_count += 1
        try:
            response = self.session.request(method, f"{self.url}/v1/{path.lstrip('/')}", headers=headers, data=body,
                                            params=dict(params) if params else None, stream=True,
                                            timeout=self.timeout, verify=self.verify)
        except requests.exceptions.RequestException as exc:
            raise self.transport_error(exc, action) from None
        if response.status_code >= 400:
            try:
                answer: Any = response.json()
            except ValueError:
                answer = {"errors": [response.text.strip()[:300]]}
            finally:
                response.close()
            raise self.http_error(VaultResponse(response.status_code, answer), action, path=path)
        return response

    # Errors (errors.py) -----------------------------------------------------------------------
    def transport_error(self, exc: BaseException, action: str) -> VaultConnectionError:
        """Map a requests exception (no HTTP answer) to one readable error."""
        return transport_error(self.where, self.url, exc, action, self.timeout, self.retries)

    def http_error(self, response: VaultResponse, action: str, path: str = "") -> VaultError:
        """Map an HTTP error answer to one readable error (diagnosing 403 with one extra call)."""
        if response.status == 403:
            return self._forbidden(action, "; ".join(response.errors) or "no error text")
        return http_error(self.where, response, action, path)

    def _forbidden(self, action: str, reason: str) -> VaultError:
        # Vault answers 403 both for a bad token and for a missing policy: one lookup-self tells which.
        # It costs a request only on this failure path.
        try:
            info = self.lookup_self()
        except VaultError:
            info = None
        return forbidden_error(self.where, action, reason, info, self.auth_method)

    def errors(self, action: str) -> _HvacErrors:
        """Context manager mapping hvac/requests exceptions raised inside it to a :class:`VaultError`."""
        return _HvacErrors(self, action)

    # Mounts -----------------------------------------------------------------------------------
    def mount_info(self, mount_point: str) -> dict[str, Any]:
        """Type and options of the secrets engine mounted at ``mount_point`` (sys/internal/ui/mounts).

        Any token with a capability under the mount may call this; it is what the Vault CLI uses.
        """
        mount_point = mount_point.strip("/")
        action = f"look up the secrets engine mounted at {mount_point}/"
        response = self.send("GET", f"sys/internal/ui/mounts/{mount_point}", action=action)
        if response.status == 200:
            return response.data
        if response.status in (400, 403, 404):
            reason = "; ".join(response.errors) or f"HTTP {response.status}"
            if response.status == 403:
                error = self._forbidden(action, reason)
                if isinstance(error, VaultAuthError):
                    raise error
            raise VaultNotFoundError(f"{self.where} has no secrets engine mounted at {mount_point}/ that this token "
                                     f"may use ({reason}): check the mount point and the token's policies.")
        raise self.http_error(response, action)


class _HvacErrors:
    def __init__(self, connection: VaultConnection, action: str) -> None:
        self.connection = connection
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
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
