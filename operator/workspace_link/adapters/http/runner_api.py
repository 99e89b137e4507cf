"""The runner API: the only door a flow's runner has into its workspace.

A runner holds a token ``<execution>.<random>`` (from its per-execution Secret) and may, for
that one execution: read its script and inputs, log, save outputs, start, wait on and cancel
its own children, and end. Nothing else: no Kubernetes credentials, no other execution. The
token is checked against the execution's runner Secret in constant time; 401 means "no usable
token", 403 "this token does not allow that". Errors are JSON ``{"error": "..."}`` naming the
field. This server listens on its own port, never the sync endpoint's: a runner (code that may
have come from the peer) must not reach the peer-facing listener, nor the peer this door.

The decisions live in the engine; this module is the HTTP shell around them. Tokens and
Authorization headers are never logged (aiohttp's access log records no headers by default
and we log no request bodies).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from workspace_link.adapters.http import serving
from workspace_link.adapters.http.refusal import HttpRefusal
from workspace_link.core import bounds, errors, naming, resources, runner_credentials
from workspace_link.engine import executions, flow_settings, runner_calls, runner_secret, workspace

logger = logging.getLogger(__name__)

#: Largest request body: outputs and inputs are capped at 256 KiB of JSON each; leave room
#: for escaping and the envelope.
MAX_REQUEST_BYTES: Final = 1024 * 1024
#: Longest long-poll on a child, in seconds (docs/architecture.md): under common proxy timeouts.
MAX_WAIT_SECONDS: Final = 20.0

_WS_KEY: Final = web.AppKey("workspace", workspace.Workspace)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Translate refusals and the error tree into JSON answers, at this one boundary."""
    try:
        return await handler(request)
    except HttpRefusal as exc:
        return _json_error(exc.status, exc.message)
    except errors.OutputsTooLarge as exc:
        return _json_error(413, str(exc))
    except errors.SpecError as exc:
        return _json_error(400, str(exc))
    except errors.InvalidTransition as exc:
        return _json_error(409, str(exc))
    except errors.NotFound as exc:
        return _json_error(404, str(exc))
    except errors.Conflict as exc:
        return _json_error(503, f"{exc}; retry")
    except errors.StoreUnavailable as exc:
        # The runner's client retries a 503 for a while: the API server may be back by then.
        logger.warning("runner API %s %s: %s", request.method, request.path, exc)
        return _json_error(503, "the workspace's store is unavailable; retry")
    except errors.StoreRefused as exc:
        # RBAC, quota, a missing CRD: the operator's log says which; the runner (code that may
        # come from the peer) is not told the cluster's details.
        logger.error("runner API %s %s: %s", request.method, request.path, exc)
        return _json_error(500, "the workspace's store refused the operation; see the operator's log")
    except web.HTTPRequestEntityTooLarge:
        return _json_error(413, f"body: larger than {MAX_REQUEST_BYTES} bytes")
    except web.HTTPException as exc:
        return _json_error(exc.status, exc.reason)


# -- authentication --------------------------------------------------------------------------
async def _authenticate(request: web.Request) -> resources.Body:
    """Return the Execution the bearer token belongs to, or refuse (401/403)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HttpRefusal(401, "Authorization: a bearer token is required")
    name, dot, random_part = token.rpartition(".")
    if not dot or not name or not random_part:
        raise HttpRefusal(401, "Authorization: the token is malformed")
    ws = request.app[_WS_KEY]
    learnt: str | None = None
    try:
        valid = ws.runner_tokens.matches(name, token)
        if valid is None:
            # Not learnt since this process started: the Secret says, and is read once.
            secret = await ws.store.get(resources.SECRET, naming.runner_secret_name(name))
            learnt = runner_secret.secret_value(secret, runner_credentials.TOKEN)
            valid = hmac.compare_digest(learnt.encode(), token.encode())
        body = await ws.store.get(resources.EXECUTION, name)
    except (errors.NotFound, errors.KeyLoadError):
        # Same answer as a wrong token: a caller learns nothing about which executions exist.
        raise HttpRefusal(403, "Authorization: the token is not valid for any execution") from None
    if learnt is not None and not resources.is_terminal(body):
        ws.runner_tokens.remember(name, learnt)
    if not valid:
        raise HttpRefusal(403, "Authorization: the token is not valid for this execution")
    if resources.is_terminal(body):
        ws.runner_tokens.forget(name)
        # A token is good for one run: once it ended, whatever still holds the token (a
        # forked child, a leaked file) reads and changes nothing. The runner's own late end
        # report reads 409 as "already ended".
        raise HttpRefusal(409, f"execution {name!r} has ended: its runner token is no longer valid")
    return body


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise HttpRefusal(413, f"body: larger than {MAX_REQUEST_BYTES} bytes") from None
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise HttpRefusal(400, "body: malformed JSON") from None
    except RecursionError:
        raise HttpRefusal(400, f"body: nested deeper than {bounds.MAX_JSON_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise HttpRefusal(400, "body: must be a JSON object")
    return data


async def _own_child(ws: workspace.Workspace, me: resources.Body, child_name: str) -> resources.Body:
    try:
        child = await ws.store.get(resources.EXECUTION, child_name)
    except errors.NotFound:
        child = None
    if child is None or resources.spec(child).get("parent") != resources.name(me):
        raise HttpRefusal(403, f"name: {child_name!r} is not a child of this execution")
    return child


def _child_view(child: resources.Body) -> dict[str, Any]:
    status = resources.status(child)
    return {
        "name": resources.name(child),
        "phase": resources.phase(child),
        "reason": status.get("reason"),
        "message": status.get("message"),
        "outputs": status.get("outputs") or {},
        "createdAt": child["metadata"].get("creationTimestamp"),
        "startTime": status.get("startTime"),
        "endTime": status.get("endTime"),
    }


# -- endpoints -------------------------------------------------------------------------------
async def _get_execution(request: web.Request) -> web.Response:
    ws = request.app[_WS_KEY]
    me = await _authenticate(request)
    spec = resources.spec(me)
    try:
        script = await executions.resolve_script(ws, me)
    except errors.NotFound as exc:
        raise HttpRefusal(404, f"script: {exc}") from None
    return web.json_response(
        {
            "name": resources.name(me),
            "flow": spec.get("flow"),
            "script": script,
            "inputs": spec.get("inputs") or {},
            "workspace": ws.namespace,
            "parent": spec.get("parent"),
        }
    )


async def _post_log(request: web.Request) -> web.Response:
    ws = request.app[_WS_KEY]
    me = await _authenticate(request)
    data = await _json_body(request)
    lines = data.get("lines")
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise HttpRefusal(400, "lines: must be a list of strings")
    await runner_calls.log(ws, resources.name(me), lines)
    return web.json_response({})


async def _post_outputs(request: web.Request) -> web.Response:
    ws = request.app[_WS_KEY]
    me = await _authenticate(request)
    data = await _json_body(request)
    outputs = data.get("outputs", {})
    message = data.get("message")
    if not isinstance(outputs, dict):
        raise HttpRefusal(400, "outputs: must be an object")
    if message is not None and not isinstance(message, str):
        raise HttpRefusal(400, "message: must be a string")
    merged = await runner_calls.save(ws, resources.name(me), outputs, message=message)
    return web.json_response({"outputs": merged})


async def _post_children(request: web.Request) -> web.Response:
    ws = request.app[_WS_KEY]
    me = await _authenticate(request)
    data = await _json_body(request)
    call_id = data.get("callId")
    if isinstance(call_id, int) and not isinstance(call_id, bool):
        call_id = str(call_id)
    if not isinstance(call_id, str) or not call_id:
        raise HttpRefusal(400, "callId: must be a non-empty string")
    name = await runner_calls.start_child(
        ws,
        me,
        call_id=call_id,  # type checked by the engine, which names the field
        flow=data.get("flow"),  # type: ignore[arg-type]
        remote_workspace=data.get("remoteWorkspace"),
        inputs=data.get("inputs"),
        timeout_seconds=data.get("timeoutSeconds"),
    )
    return web.json_response({"name": name})


async def _get_child(request: web.Request) -> web.Response:
    ws = request.app[_WS_KEY]
    me = await _authenticate(request)
    child_name = request.match_info["name"]
    raw_wait = request.query.get("wait", "0")
    try:
        wait = float(raw_wait)
    except ValueError:
        raise HttpRefusal(400, f"wait: {raw_wait!r} is not a number of seconds") from None
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise HttpRefusal(400, f"wait: must be between 0 and {MAX_WAIT_SECONDS:g} seconds")
    deadline = time.monotonic() + wait
    while True:
        since = ws.changes.counter
        child = await _own_child(ws, me, child_name)
        remaining = deadline - time.monotonic()
        if resources.is_terminal(child) or remaining <= 0:
            return web.json_response(_child_view(child))
        await ws.changes.wait(since, remaining)


async def _cancel_child(request: web.Request) -> web.Response:
    ws = request.app[_WS_KEY]
    me = await _authenticate(request)
    child = await _own_child(ws, me, request.match_info["name"])
    if not resources.is_terminal(child):
        await executions.cancel(ws, resources.name(child))
    return web.json_response({})


async def _post_end(request: web.Request) -> web.Response:
    ws = request.app[_WS_KEY]
    me = await _authenticate(request)
    data = await _json_body(request)
    phase = data.get("phase")
    message = data.get("message")
    reason = data.get("reason")
    if not isinstance(phase, str):
        raise HttpRefusal(400, "phase: must be one of Succeeded, Failed, Cancelled")
    if message is not None and not isinstance(message, str):
        raise HttpRefusal(400, "message: must be a string")
    if reason is not None and (
        not isinstance(reason, str) or not reason.isidentifier() or len(reason) > bounds.MAX_REASON_CHARS
    ):
        raise HttpRefusal(
            400, f"reason: must be a CamelCase word of at most {bounds.MAX_REASON_CHARS} characters"
        )
    await runner_calls.end(ws, resources.name(me), phase, message, reason)
    return web.json_response({})


# -- settings (system.setting) ---------------------------------------------------------------
async def _live(request: web.Request) -> tuple[workspace.Workspace, str]:
    """The workspace and the calling execution, which must still be running (else 409)."""
    me = await _authenticate(request)
    return request.app[_WS_KEY], resources.name(me)


def _value_of(data: dict[str, Any]) -> Any:
    if "value" not in data:
        raise HttpRefusal(400, "value: is required")
    return data["value"]


async def _get_setting(request: web.Request) -> web.Response:
    ws, _ = await _live(request)
    return web.json_response(await flow_settings.get(ws, request.match_info["name"]))


async def _put_setting(request: web.Request) -> web.Response:
    ws, _ = await _live(request)
    value = _value_of(await _json_body(request))
    return web.json_response(await flow_settings.put(ws, request.match_info["name"], value))


async def _append_setting(request: web.Request) -> web.Response:
    ws, _ = await _live(request)
    value = _value_of(await _json_body(request))
    return web.json_response(await flow_settings.append(ws, request.match_info["name"], value))


async def _lock_setting(request: web.Request) -> web.Response:
    ws, me = await _live(request)
    data = await _json_body(request)
    wait = data.get("wait", 0)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_WAIT_SECONDS:
        raise HttpRefusal(400, f"wait: must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}")
    name = request.match_info["name"]
    deadline = time.monotonic() + float(wait)
    while True:
        since = ws.changes.counter
        acquired, holder = await flow_settings.try_lock(ws, name, me)
        remaining = deadline - time.monotonic()
        if acquired or remaining <= 0:
            return web.json_response({"acquired": acquired, "holder": holder})
        # A release here or the holder's end wakes this at once; a holder deleted behind the
        # operator's back is noticed within a second.
        await ws.changes.wait(since, min(remaining, 1.0))


async def _unlock_setting(request: web.Request) -> web.Response:
    ws, me = await _live(request)
    await flow_settings.unlock(ws, request.match_info["name"], me)
    return web.json_response({})


def create_app(ws: workspace.Workspace) -> web.Application:
    """The runner API application for one workspace (exactly the documented endpoints)."""
    app = web.Application(middlewares=[_errors], client_max_size=MAX_REQUEST_BYTES)
    app[_WS_KEY] = ws
    app.router.add_get("/v1/execution", _get_execution)
    app.router.add_post("/v1/log", _post_log)
    app.router.add_post("/v1/outputs", _post_outputs)
    app.router.add_post("/v1/children", _post_children)
    app.router.add_get("/v1/children/{name}", _get_child)
    app.router.add_post("/v1/children/{name}/cancel", _cancel_child)
    app.router.add_post("/v1/end", _post_end)
    app.router.add_get("/v1/settings/{name}", _get_setting)
    app.router.add_put("/v1/settings/{name}", _put_setting)
    app.router.add_post("/v1/settings/{name}/append", _append_setting)
    app.router.add_post("/v1/settings/{name}/lock", _lock_setting)
    app.router.add_post("/v1/settings/{name}/unlock", _unlock_setting)
    return app


class Server:
    """The runner API served on ``host:port`` (port 0 = an ephemeral one; see ``url``)."""

    def __init__(self, ws: workspace.Workspace, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._ws = ws
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        # Held long-polls end within MAX_WAIT_SECONDS anyway; don't make shutdown wait for them.
        self._runner, port = await serving.serve(
            create_app(self._ws), host=self._host, port=self._port, shutdown_timeout=0.5
        )
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            try:
                await asyncio.wait_for(runner.cleanup(), 5)
            except TimeoutError:
                logger.warning("runner API did not stop within 5 s")
