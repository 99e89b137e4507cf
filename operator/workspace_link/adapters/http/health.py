"""Liveness and metrics for the operator pod: ``GET /healthz`` and ``GET /metrics``.

Why it exists: the kubelet needs a probe that fails when the operator is wedged, and an admin
needs the counters the link and the listener keep (prometheus-client's default registry). It
listens on ``settings.health_port``, apart from the sync port (exposed to peers) and the runner
API port (reachable by runner pods): neither peers nor flows get to read metrics.

``/healthz`` answers from the event loop itself, so a blocked loop fails the probe; a ``check``
callable adds what "healthy" means beyond that (the operator passes "kopf is still running").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import prometheus_client
from aiohttp import web

from workspace_link.adapters.http import serving

logger = logging.getLogger(__name__)

Check = Callable[[], str | None]
_CHECK_KEY: web.AppKey[Check] = web.AppKey("check", Check)  # type: ignore[arg-type]


async def _healthz(request: web.Request) -> web.Response:
    problem = request.app[_CHECK_KEY]()
    if problem:
        return web.json_response({"status": "unhealthy", "reason": problem}, status=503)
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    body = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    response = web.Response(body=body)
    # CONTENT_TYPE_LATEST carries a charset parameter, which aiohttp wants set apart.
    response.headers["Content-Type"] = prometheus_client.CONTENT_TYPE_LATEST
    return response


def create_app(check: Check | None = None) -> web.Application:
    """``check`` returns None when healthy, else the reason (shown in the 503 body)."""
    app = web.Application()
    app[_CHECK_KEY] = check or (lambda: None)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


class Server:
    """The health app on ``host:port`` (port 0 = ephemeral; ``port`` says which after ``start``)."""

    def __init__(self, *, host: str = "0.0.0.0", port: int, check: Check | None = None) -> None:  # noqa: S104
        self._host = host
        self.port = port
        self._check = check
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner, self.port = await serving.serve(
            create_app(self._check), host=self._host, port=self.port
        )

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
