"""The operator's connection to the API server: who it is (a login) and one HTTP session.

Why it exists: ``KubeStore`` and kopf talk to the same API server with the same credentials.
kopf speaks to it over aiohttp with a ``kopf.ConnectionInfo`` from a login handler; this
module gives ``KubeStore`` the same, so the operator needs no other Kubernetes client. (With the
``kubernetes`` package, which imports about a thousand generated models and blocks a thread per
request, the operator imported in 74 MB, now 56; kopf imports it too whenever it is installed.)

- ``login``: in a pod, the ServiceAccount, as client-go's ``rest.InClusterConfig`` reads it
  (``KUBERNETES_SERVICE_HOST``/``_PORT``, the projected token and CA); else the kubeconfig
  (``$KUBECONFIG`` or ``~/.kube/config``) through kopf's ``login_with_kubeconfig``: a token or
  a client certificate. A kubeconfig user that authenticates with an ``exec`` plugin or an
  ``auth-provider`` is refused with an error that says so: kopf cannot run those, and
  requests would fail with 401 one by one. The operator runs in the cluster; out of it, use
  a kubeconfig with a token or a client certificate (kind writes one).
- ``ApiSession``: one aiohttp session for the process, at most ``MAX_IN_FLIGHT`` requests at
  once. A 401 logs in again and retries once: the kubelet rotates the projected token in
  place (https://kubernetes.io/docs/concepts/security/service-accounts/#bound-service-account-tokens).
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import aiohttp
import kopf
import yaml

from workspace_link.core import errors

#: Where the kubelet mounts a pod's ServiceAccount credentials.
SERVICE_ACCOUNT: Final = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: API requests one operator process has in flight at most (the session's connection pool).
MAX_IN_FLIGHT: Final = 32
#: Seconds one API request may take before it fails as transient (connect, read).
REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=60.0)
JSON: Final = "application/json"

Login = Callable[[], Awaitable[kopf.ConnectionInfo]]


def _in_cluster(folder: pathlib.Path) -> kopf.ConnectionInfo | None:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "").strip()
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "").strip()
    token_file = folder / "token"
    if not host or not port or not token_file.is_file():
        return None
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    ca_file = folder / "ca.crt"
    return kopf.ConnectionInfo(
        server=f"https://{host}:{port}",
        ca_path=str(ca_file) if ca_file.is_file() else None,
        scheme="Bearer",
        token=token_file.read_text().strip() or None,
    )


def _kubeconfig_user_plugin() -> str | None:
    """The current kubeconfig user's ``exec`` or ``auth-provider`` field, if it has one."""
    paths = [
        os.path.expanduser(path.strip())
        for path in os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)
        if path.strip()
    ]
    current: str | None = None
    contexts: dict[str, Any] = {}
    users: dict[str, Any] = {}
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as file:
            config = yaml.safe_load(file) or {}
        current = current or config.get("current-context")
        for item in config.get("contexts") or []:
            contexts.setdefault(item.get("name"), item.get("context") or {})
        for item in config.get("users") or []:
            users.setdefault(item.get("name"), item.get("user") or {})
    user = users.get((contexts.get(current or "") or {}).get("user") or "") or {}
    for plugin in ("exec", "auth-provider"):
        if plugin in user and not user.get("token"):
            return plugin
    return None


def _login_blocking(folder: pathlib.Path) -> kopf.ConnectionInfo:
    found = _in_cluster(folder)
    if found is not None:
        return found
    plugin = _kubeconfig_user_plugin()
    if plugin is not None:
        raise errors.SpecError(
            f"authenticates with an {plugin!r} plugin, which the operator cannot run: run it in"
            " the cluster (its ServiceAccount), or use a kubeconfig user with a token or a client"
            " certificate",
            field=f"kubeconfig users[].user.{plugin}",
        )
    try:
        info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    except (OSError, KeyError, yaml.YAMLError, kopf.LoginError) as exc:
        raise errors.SpecError(f"cannot be read: {exc}", field="KUBECONFIG") from None
    if info is None:
        raise errors.SpecError(
            "no in-cluster ServiceAccount and no kubeconfig ($KUBECONFIG or ~/.kube/config) found",
            field="KUBECONFIG",
        )
    return info


async def login(*, folder: pathlib.Path = SERVICE_ACCOUNT) -> kopf.ConnectionInfo:
    """Who the operator is to the API server (see the module doc). Reads files: in a thread."""
    return await asyncio.to_thread(_login_blocking, folder)


class ApiSession:
    """One aiohttp session to the API server with ``info``'s credentials (see the module doc).

    ``relogin``: called after a 401 for fresh credentials (a rotated token); None retries not.
    Create and use it inside the event loop it belongs to.
    """

    def __init__(
        self,
        info: kopf.ConnectionInfo,
        *,
        relogin: Login | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._relogin = relogin
        self._max_in_flight = max_in_flight
        self._info = info
        self._session: aiohttp.ClientSession | None = None
        self._renewing = asyncio.Lock()

    @property
    def server(self) -> str:
        return str(self._info.server).rstrip("/")

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            # As kopf builds its own (kopf._cogs.clients.auth.APIContext), from the same info.
            secure = self.server.startswith("https:")
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_in_flight, ssl=self._info.as_ssl_context() if secure else False
                ),
                headers={"User-Agent": "workspace-link", **self._info.as_http_headers()},
                timeout=REQUEST_TIMEOUT,
            )
        return self._session

    async def _renew(self, stale: aiohttp.ClientSession) -> None:
        async with self._renewing:
            if self._session is not stale or self._relogin is None:
                return  # another request renewed it meanwhile
            self._info = await self._relogin()
            self._session = None
            await stale.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> tuple[int, str]:
        """(HTTP status, response text) of one request. Raises ``aiohttp.ClientError``,
        ``OSError`` or ``TimeoutError`` when no answer came."""
        headers = {"Accept": JSON}
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body, separators=(",", ":")).encode()
        session = self._open()
        status, text = await self._send(session, method, path, query, data, headers)
        if status == 401 and self._relogin is not None:
            await self._renew(session)
            status, text = await self._send(self._open(), method, path, query, data, headers)
        return status, text

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        data: bytes | None,
        headers: dict[str, str],
    ) -> tuple[int, str]:
        async with session.request(
            method, self.server + path, params=dict(query or {}), data=data, headers=headers
        ) as response:
            return response.status, await response.text(errors="replace")

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
