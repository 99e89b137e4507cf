"""Serving an aiohttp app on one port: the sync listener, the runner API and health use it."""

from __future__ import annotations

import ssl

from aiohttp import web


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 1.0,
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on ``host:port`` (0 = an ephemeral port); return its runner and the bound port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    return runner, int(runner.addresses[0][1])
