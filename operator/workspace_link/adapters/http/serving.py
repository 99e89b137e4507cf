"""Serving an aiohttp app on one port (the sync listener, the runner API and health use it),
and the one way a server's TLS context is built from a certificate and key file."""

from __future__ import annotations

import ssl

from aiohttp import web

from workspace_link.core import errors


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
