"""The listener's HTTP endpoint: ``POST /api/latest/sync_config/<name>/sync`` (aiohttp).

Why a module of its own: this is where untrusted bytes arrive. It checks, in the order
docs/protocol.md §5 fixes so that nothing unauthenticated is read or parsed: method (405), the
announced size (413), the SyncConfig named in the path (404 unknown or not a listener),
enabled (403), content type (415), keys loadable (503), the signature over the headers
against THAT config's accepted keys (401 with the signature's reason; 403 ``wrong-link`` when
it verifies with a key of another SyncConfig here). Only then is the body read — within the
size limit and ``request_body_timeout`` (408), a few bodies at a time — and held to the
Content-Digest the signature covers (401 ``digest-mismatch``); then the body (422 protocol
version, 400 malformed), the role (409). Only then does ``exchange.handle`` touch the store.
An unauthenticated client therefore costs a few KiB of headers, never a body; the port's
connection limits and header deadline are ``serving.Limits``'. Every refusal is the
protocol's error body, changes nothing, and is counted
(``workspace_link_sync_refusals_total{reason}``). A successful answer is signed and bound to
the request's signature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import aiohttp.http_exceptions
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from workspace_link.adapters import metrics
from workspace_link.adapters.http import serving
from workspace_link.adapters.http.refusal import HttpRefusal
from workspace_link.core import errors, link_config, protocol, replay, resources, settings, signatures, wire
from workspace_link.engine import exchange, link_keys, link_status, workspace

logger = logging.getLogger(__name__)

WS_KEY: web.AppKey[workspace.Workspace] = web.AppKey("workspace", workspace.Workspace)
REPLAY_KEY: web.AppKey[replay.ReplayCache] = web.AppKey("replay", replay.ReplayCache)


class _Holds:
    """The answers in progress (held long-polls) and whether the app is shutting down."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closing = False


HOLDS_KEY: web.AppKey[_Holds] = web.AppKey("holds", _Holds)
BODIES_KEY: web.AppKey[asyncio.Semaphore] = web.AppKey("bodies", asyncio.Semaphore)
_CHUNK = 64 * 1024
#: Request bodies read at once: memory for bodies stays under this many times the body limit
#: even when an authenticated peer opens many exchanges.
MAX_BODIES_AT_ONCE = 4


def _refuse(error: HttpRefusal, request: web.Request | None = None) -> web.Response:
    metrics.SYNC_REFUSALS.labels(reason=error.reason).inc()
    response = web.Response(
        status=error.status,
        body=wire.encode_error(error.status, error.reason, error.message),
        content_type=protocol.CONTENT_TYPE,
    )
    if request is not None and not request.content.at_eof():
        # The body was not read (refused before it, or cut): close rather than drain it.
        response.force_close()
    return response


def _too_large(limit: int) -> HttpRefusal:
    return HttpRefusal(413, f"the body exceeds the limit of {limit} bytes", reason="too-large")


async def _read_body(request: web.Request, limit: int, *, seconds: float) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async with request.app[BODIES_KEY]:
                while True:
                    chunk = await request.content.read(_CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(limit)
                    chunks.append(chunk)
    except TimeoutError:
        raise HttpRefusal(
            408, f"the body did not arrive within {seconds:g} s", reason="request-timeout"
        ) from None
    except (ConnectionError, aiohttp.ClientPayloadError, aiohttp.http_exceptions.HttpProcessingError) as exc:
        # The client went away or broke off its body: nobody is left to read an answer, and
        # it is the wire's fault, not the listener's (no 500, nothing applied).
        raise HttpRefusal(400, f"the body was cut off: {exc}", reason="malformed") from None
    return b"".join(chunks)


async def _config(ws: workspace.Workspace, name: str) -> link_config.LinkConfig:
    unknown = HttpRefusal(404, f"no SyncConfig {name!r} listens in this workspace", reason="unknown-config")
    try:
        body = await ws.store.get(resources.SYNC_CONFIG, name)
    except errors.NotFound:
        raise unknown from None
    try:
        config = link_config.parse(body)
    except errors.SpecError as exc:
        raise HttpRefusal(503, f"SyncConfig {name!r} is invalid here: {exc}", reason="unavailable") from exc
    if config.dialer:
        raise unknown
    if not config.enabled:
        raise HttpRefusal(403, f"SyncConfig {name!r} is disabled (enabled: false)", reason="disabled")
    return config


async def _other_links_keys(ws: workspace.Workspace, name: str) -> dict[str, list[rsa.RSAPublicKey]]:
    """The accepted keys of every other SyncConfig here, to tell ``wrong-link`` from ``unknown-key``."""
    found: dict[str, list[rsa.RSAPublicKey]] = {}
    for body in await ws.store.list(resources.SYNC_CONFIG):
        other = resources.name(body)
        if other == name:
            continue
        try:
            config = link_config.parse(body)
            found[other] = list((await link_keys.load_remote_keys(ws.secrets, config)).values())
        except (errors.SpecError, errors.KeyLoadError):
            continue
    return found


def _verify_head(
    ws: workspace.Workspace,
    cache: replay.ReplayCache,
    *,
    name: str,
    ring: signatures.KeyRing,
    request: web.Request,
    headers: Mapping[str, str],
) -> signatures.VerifiedHead:
    verifier = signatures.Verifier.from_settings(ws.settings, keys=ring, link=name, replay=cache)
    return signatures.verify_request_head(
        verifier, method=request.method, path=request.raw_path, headers=headers
    )


async def _sync(request: web.Request) -> web.StreamResponse:
    try:
        return await _serve(request)
    except asyncio.CancelledError:
        raise
    except Exception:
        # A bug here must still answer with the protocol's error body (the dialer retries it),
        # never aiohttp's plain-text page.
        logger.exception("sync %s: internal error", request.match_info.get("name", ""))
        return _refuse(
            HttpRefusal(500, "internal error on the listener; retry later", reason="internal"), request
        )


async def _serve(request: web.Request) -> web.StreamResponse:
    ws = request.app[WS_KEY]
    cache = request.app[REPLAY_KEY]
    name = request.match_info["name"]
    try:
        if request.method != "POST":
            raise HttpRefusal(
                405, f"{request.method} is not allowed here; use POST", reason="method-not-allowed"
            )
        limit = ws.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _too_large(limit)
        config = await _config(ws, name)
        if request.content_type != protocol.CONTENT_TYPE:
            raise HttpRefusal(
                415, f"Content-Type must be {protocol.CONTENT_TYPE}", reason="unsupported-media-type"
            )
        try:
            keys = await link_keys.load_keys(ws.secrets, config)
        except errors.KeyLoadError as exc:
            await link_status.record_listener_failure(ws, config, error=exc)
            raise HttpRefusal(
                503, f"the keys of SyncConfig {name!r} cannot be loaded here", reason="unavailable"
            ) from exc
        headers = dict(request.headers)
        try:
            ring = signatures.KeyRing.for_link(name, keys.remote_keys.values())
            head = _verify_head(ws, cache, name=name, ring=ring, request=request, headers=headers)
        except errors.SignatureError as exc:
            if exc.reason != "unknown-key":
                raise
            # Another link's key? Its own keys come last so a key shared by two links is ours.
            ring = signatures.KeyRing({**await _other_links_keys(ws, name), name: keys.remote_keys.values()})
            head = _verify_head(ws, cache, name=name, ring=ring, request=request, headers=headers)
        # Authenticated: only now is the body read.
        raw = await _read_body(request, limit, seconds=ws.settings.request_body_timeout)
        seen = signatures.check_body(head, raw)
        envelope = wire.decode(raw, max_bytes=limit)
        if envelope.sender.key_id != seen.key_id:
            raise errors.SignatureError(
                f"sender.keyId {envelope.sender.key_id} differs from the signature's keyid {seen.key_id}",
                reason="invalid",
            )
        try:
            exchange.check_role(config, envelope.sender)
        except errors.RoleMismatch as exc:
            # A refusal changes nothing here, this SyncConfig's status included: the dialer
            # shows the mismatch (Ready=False, RoleMismatch); this side counts and logs it.
            logger.warning("sync %s: refused: %s", name, exc)
            raise HttpRefusal(409, str(exc), reason="role-mismatch") from exc
    except HttpRefusal as refusal:
        return _refuse(refusal, request)
    except errors.SignatureError as exc:
        status = 403 if exc.reason == "wrong-link" else 401
        return _refuse(HttpRefusal(status, str(exc), reason=exc.reason), request)
    except errors.UnsupportedProtocol as exc:
        return _refuse(HttpRefusal(422, str(exc), reason="unsupported-protocol"), request)
    except errors.MessageError as exc:
        return _refuse(HttpRefusal(400, str(exc), reason="malformed"), request)
    except errors.StoreError as exc:
        # StoreRefused (RBAC, a missing CRD) needs an admin; anything else passes.
        log = logger.error if isinstance(exc, errors.StoreRefused) else logger.warning
        log("sync %s: store unavailable: %s", name, exc)
        return _refuse(
            HttpRefusal(503, "the listener cannot reach its store; retry later", reason="unavailable")
        )

    holds = request.app[HOLDS_KEY]
    if holds.closing:
        # A request that slipped in on a kept-alive connection while shutting down: holding
        # it would keep the dialer waiting on a listener that is going away.
        refused = _refuse(HttpRefusal(503, "the listener is shutting down; retry", reason="unavailable"))
        refused.force_close()  # the retry must open a new connection, to the new listener
        return refused
    task = asyncio.current_task()
    if task is not None:
        holds.tasks.add(task)
    try:
        answer = await exchange.handle(ws, config=config, keys=keys, envelope=envelope)
    except errors.StoreError as exc:
        log = logger.error if isinstance(exc, errors.StoreRefused) else logger.warning
        log("sync %s: store unavailable while applying: %s", name, exc)
        return _refuse(
            HttpRefusal(503, "the listener cannot reach its store; retry later", reason="unavailable")
        )
    finally:
        if task is not None:
            holds.tasks.discard(task)
    await link_status.record_listener_exchange(
        ws, config, peer=envelope.sender, received=len(envelope.messages), sent=len(answer.messages)
    )
    body = wire.encode(answer)
    signer = signatures.Signer(keys.private_key, expires_in=ws.settings.signature_max_age)
    added = signatures.sign_response(
        signer,
        status=200,
        headers={"Content-Type": protocol.CONTENT_TYPE},
        body=body,
        request_headers=headers,
    )
    metrics.SYNC_EXCHANGES.labels(config=name).inc()
    response = web.Response(status=200, body=body)
    for key, value in added.items():
        response.headers[key] = value
    response.headers["Content-Type"] = protocol.CONTENT_TYPE
    return response


def limits(wl_settings: settings.Settings) -> serving.Limits:
    """The connection limits the sync port is served with (``serving.serve(limits=...)``)."""
    return serving.Limits(
        max_connections=wl_settings.max_connections,
        header_timeout=wl_settings.request_header_timeout,
        keepalive_timeout=wl_settings.keepalive_timeout,
    )


def create_app(ws: workspace.Workspace, *, replay_cache: replay.ReplayCache | None = None) -> web.Application:
    """The sync endpoint for every listening SyncConfig of ``ws``; serve it with ``limits``.

    ``replay_cache`` remembers nonces and, from its creation, refuses older signatures (the
    restart watermark): pass one that outlives the app when the app is rebuilt in-process.
    """
    # The body limit is enforced by _read_body with a clear 413, after the signature; aiohttp's
    # own limit only applies to request.read()/post(), which this app never calls.
    app = web.Application(client_max_size=ws.settings.max_body_bytes + 1)
    app[WS_KEY] = ws
    app[REPLAY_KEY] = replay_cache or replay.ReplayCache()
    app[HOLDS_KEY] = _Holds()
    app[BODIES_KEY] = asyncio.Semaphore(MAX_BODIES_AT_ONCE)
    app.router.add_route("*", protocol.SYNC_PATH.format(name="{name}"), _sync)
    app.on_shutdown.append(_end_holds)
    return app


async def _end_holds(app: web.Application) -> None:
    """On shutdown, cut held long-polls at once: the dialer sees the connection drop and
    reconnects (to the restarted listener) instead of waiting out a hold nobody will answer."""
    holds = app[HOLDS_KEY]
    holds.closing = True
    for task in list(holds.tasks):
        task.cancel()
