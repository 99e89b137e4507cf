"""Serving an aiohttp app on one port (the sync listener, the runner API and health use it),
and the one way a server's TLS context is built from a certificate and key file.

``Limits`` guards a port that faces untrusted clients (the sync listener). aiohttp bounds
only idle keep-alive: a client that stops halfway through its request head, or opens more
connections than the process can carry, is never cut. With limits, every connection sits
behind a ``_Guard`` protocol: connections past ``max_connections`` are closed at once, the
TLS handshake and each request head must complete within ``header_timeout`` of their first
byte, and an idle kept-alive connection is closed after ``keepalive_timeout``. The body's own
deadline is the handler's (it reads the body itself, after authenticating the head).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from typing import Any

from aiohttp import web

from workspace_link.core import errors


@dataclasses.dataclass(frozen=True)
class Limits:
    max_connections: int
    header_timeout: float
    keepalive_timeout: float


def server_tls_context(cert_file: str, key_file: str, *, field: str = "WL_TLS_CERT_FILE") -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 or later) serving the PEM chain in ``cert_file`` with ``key_file``.

    Raises ``errors.SpecError`` (naming ``field``, the setting that points at the files) when
    the files cannot be read or the key does not match the certificate. ``ssl`` loads a chain
    from files only, so a certificate held in memory must be written out first.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise errors.SpecError(
            f"cannot load the TLS certificate {cert_file} and key {key_file}:"
            f" {getattr(exc, 'strerror', None) or exc}",
            field=field,
        ) from exc
    return context


class _Connections:
    """The guarded connections of one site, found again from a request's transport."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: dict[asyncio.BaseTransport, _Guard] = {}


class _Guard(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection and cuts it when its client stalls.

    A connection is reading a request head (it must complete within ``header_timeout``),
    serving a request (the handler's own deadlines apply), or idle between requests (closed
    after ``keepalive_timeout``; its first byte starts a new head).
    """

    def __init__(self, inner: asyncio.Protocol, connections: _Connections) -> None:
        self._inner = inner
        self._connections = connections
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = 0
        self._idle = False

    # -- what the handler says (through ``_mark_requests``) ------------------------------
    def request_started(self) -> None:
        self._busy += 1
        self._idle = False
        self._disarm()

    def request_finished(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._idle = True
            self._arm(self._connections.limits.keepalive_timeout)

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        open_ = self._connections.open
        if len(open_) >= self._connections.limits.max_connections:
            _abort(transport)  # over the limit: no handler, no buffer, nothing read
            return
        open_[transport] = self
        self._arm(self._connections.limits.header_timeout)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._transport is not None and self._connections.open.pop(self._transport, None) is self:
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._idle:
            self._idle = False
            self._arm(self._connections.limits.header_timeout)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- internals -------------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._cut)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cut(self) -> None:
        self._timer = None
        if self._transport is not None and self._busy == 0:
            _abort(self._transport)


def _abort(transport: asyncio.BaseTransport) -> None:
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    else:
        transport.close()


def _guard_of(request: web.Request) -> _Guard | None:
    connections: _Connections | None = request.app.get(_CONNECTIONS_KEY)
    transport = request.transport
    if connections is None or transport is None:
        return None
    return connections.open.get(transport)


@web.middleware
async def _mark_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    guard = _guard_of(request)
    if guard is not None:
        guard.request_started()
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        if guard is not None:
            guard.request_finished()


_CONNECTIONS_KEY: web.AppKey[_Connections] = web.AppKey("connections", _Connections)


class _GuardedSite(web.TCPSite):
    """aiohttp's TCPSite with every connection behind a ``_Guard``."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        connections: _Connections,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context)
        self._connections = connections

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        connections = self._connections
        self._server = await loop.create_server(
            lambda: _Guard(server(), connections),
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=connections.limits.header_timeout if self._ssl_context else None,
            backlog=self._backlog,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 1.0,
    limits: Limits | None = None,
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on ``host:port`` (0 = an ephemeral port); return its runner and the bound port."""
    if limits is None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
        await runner.setup()
        site: web.TCPSite = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    else:
        connections = _Connections(limits)
        app[_CONNECTIONS_KEY] = connections
        app.middlewares.append(_mark_requests)
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=shutdown_timeout,
            keepalive_timeout=limits.keepalive_timeout,
            # The guard cuts stalled heads; lingering to drain a refused body is not wanted.
            lingering_time=0,
        )
        await runner.setup()
        site = _GuardedSite(runner, host, port, ssl_context=ssl_context, connections=connections)
    await site.start()
    return runner, int(runner.addresses[0][1])
