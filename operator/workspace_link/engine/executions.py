"""The execution controller: what to do about one Execution, driven by store events.

The same code runs in the operator (kopf delivers events, the API server is the store, Jobs
run the flows) and in the embedded mode (a memstore watch delivers events, local processes run
the flows): it only touches ``ws.store`` and ``ws.executor``.

``reconcile`` is level-triggered and idempotent: it re-reads the Execution, decides from what
is stored (never from what it remembers) and makes every racing status write conditional on
``resourceVersion``; on a conflict it re-reads and decides again. So it is safe to call on
every event, twice, late, or after a restart (docs/architecture.md, "Event flow").

The runner API calls ``log``, ``save``, ``end``, ``start_child`` and ``cancel``; executors call
``run_ended`` for the endings a runner cannot report itself.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

from workspace_link.core import bounds, errors, execution_state, labels, naming, resources
from workspace_link.engine import workspace

logger = logging.getLogger(__name__)

#: Conditional writes retried this many times on ``errors.Conflict`` before giving up; every
#: retry re-reads, so only a storm of concurrent writers to one execution exhausts it.
MAX_CONFLICT_RETRIES: Final = 20

#: The component label of the per-execution runner Secret.
RUNNER_TOKEN_COMPONENT: Final = "runner-token"  # noqa: S105 - a label value, not a secret

_EventType = Literal["Normal", "Warning"]
_Change = Callable[[dict[str, Any]], dict[str, Any]]


# -- small helpers ---------------------------------------------------------------------------
def _owner_reference(body: resources.Body, *, controller: bool) -> dict[str, Any]:
    return {
        "apiVersion": labels.API_VERSION,
        "kind": resources.EXECUTION,
        "name": resources.name(body),
        "uid": resources.uid(body),
        "controller": controller,
        "blockOwnerDeletion": False,
    }


async def _read(ws: workspace.Workspace, name: str) -> resources.Body | None:
    try:
        return await ws.store.get(resources.EXECUTION, name)
    except errors.NotFound:
        return None


async def _event(ws: workspace.Workspace, body: resources.Body, status: Mapping[str, Any]) -> None:
    """Post the event that goes with a phase change (best effort, by the Store's promise)."""
    phase = execution_state.phase(status)
    message = str(status.get("message") or "")
    if phase == resources.RUNNING:
        await ws.store.record_event(
            body, type="Normal", reason="Started", message=f"runner started as {status.get('jobName')}"
        )
    elif phase == resources.SUCCEEDED:
        await ws.store.record_event(body, type="Normal", reason="Succeeded", message=message)
    elif phase == resources.FAILED:
        reason = str(status.get("reason") or "Failed")
        # The first line is enough for an event; the status keeps the whole traceback.
        first = message.splitlines()[-1] if message else ""
        await ws.store.record_event(body, type="Warning", reason=reason, message=first)
    elif phase == resources.CANCELLED:
        await ws.store.record_event(
            body, type="Warning", reason=str(status.get("reason") or "Cancelled"), message=message
        )


async def _update_status(
    ws: workspace.Workspace,
    name: str,
    change: _Change,
    *,
    body: resources.Body | None = None,
) -> resources.Body:
    """Apply ``change`` to the current status with a conditional write, retrying on Conflict.

    ``change`` may raise (``errors.InvalidTransition``, ``errors.SpecError``) to refuse; the
    store is then left untouched. An event is posted when the phase changed.
    """
    for _ in range(MAX_CONFLICT_RETRIES):
        current = body if body is not None else await ws.store.get(resources.EXECUTION, name)
        body = None
        old = resources.status(current)
        new = change(old)
        try:
            written = await ws.store.replace_status(resources.EXECUTION, {**current, "status": new})
        except errors.Conflict:
            continue
        ws.changes.notify()
        if execution_state.phase(new) != execution_state.phase(old):
            await _event(ws, written, new)
        return written
    raise errors.Conflict(f"Execution {name!r} kept changing; gave up after {MAX_CONFLICT_RETRIES} tries")


# -- scripts ---------------------------------------------------------------------------------
async def resolve_script(ws: workspace.Workspace, body: resources.Body) -> str:
    """The script an execution runs: inline, or its Flow's. Raises ``errors.NotFound``."""
    spec = resources.spec(body)
    if spec.get("script"):
        return str(spec["script"])
    flow = str(spec.get("flow") or "")
    if not flow:
        raise errors.SpecError("an Execution needs one of flow, script or mirror", field="spec.flow")
    try:
        flow_body = await ws.store.get(resources.FLOW, flow)
    except errors.NotFound:
        raise errors.NotFound(execution_state.flow_not_found_message(flow)) from None
    return str(resources.spec(flow_body).get("script") or "")


# -- reconcile -------------------------------------------------------------------------------
async def reconcile(ws: workspace.Workspace, body: resources.Body) -> None:
    """Bring one Execution one step closer to what its spec asks. Idempotent; see the module doc."""
    for _ in range(MAX_CONFLICT_RETRIES):
        fresh = await _read(ws, resources.name(body))
        if fresh is None:
            return
        try:
            await _decide(ws, fresh)
        except errors.Conflict:
            continue
        return
    logger.warning("Execution %s: gave up reconciling after repeated conflicts", resources.name(body))


async def _decide(ws: workspace.Workspace, body: resources.Body) -> None:
    spec = resources.spec(body)
    if spec.get("mirror") or resources.is_terminal(body):
        return
    if spec.get("remoteWorkspace"):
        await _reconcile_remote(ws, body)
        return
    if spec.get("cancel"):
        await _cancel_local(ws, body)
        return
    if resources.phase(body) == resources.PENDING:
        await _claim_and_start(ws, body)
    else:
        # Running: make sure the run exists (after a restart the executor may have lost it).
        # The run was created before the claim, so a missing Job has ended or was deleted.
        secret_name = await ensure_runner_secret(ws, body)
        try:
            await ws.executor.start(body, secret_name=secret_name, resume=True)
        except errors.RunLost as exc:
            await run_ended(
                ws,
                resources.name(body),
                phase=resources.FAILED,
                reason=execution_state.RUN_LOST,
                message=str(exc),
            )


async def _reconcile_remote(ws: workspace.Workspace, body: resources.Body) -> None:
    link_name = str(resources.spec(body)["remoteWorkspace"])
    if resources.labels(body).get(labels.REMOTE_LINK) != labels.value(link_name):
        # The link finds what it has to send by this label: a label query, never a scan.
        body = await ws.store.patch(
            resources.EXECUTION,
            resources.name(body),
            {"metadata": {"labels": {labels.REMOTE_LINK: labels.value(link_name)}}},
            resource_version=body["metadata"].get("resourceVersion"),
        )
    status = resources.status(body)
    if "link" not in status:
        status["link"] = {
            "name": link_name,
            "localVersion": 1,
            "acknowledgedVersion": 0,
            "remoteVersion": 0,
        }
        # Raises Conflict on a stale body: reconcile re-reads and decides again.
        body = await ws.store.replace_status(resources.EXECUTION, {**body, "status": status})
        ws.changes.notify()
    if resources.spec(body).get("cancel"):
        await request_remote_cancel(ws, body)


async def request_remote_cancel(ws: workspace.Workspace, body: resources.Body) -> resources.Body:
    """Cancel an execution sent over a link: ``link.localVersion`` 2 (the outbox sends ``cancel``)
    and phase Cancelled here at once — a terminal phase is final, later peer statuses don't move it.

    Conditional on ``body``'s resourceVersion: raises ``errors.Conflict`` on a stale body.
    """
    status = resources.status(body)
    if execution_state.is_terminal(status):
        return body
    link = dict(status.get("link") or {"name": str(resources.spec(body).get("remoteWorkspace") or "")})
    link.setdefault("localVersion", 1)
    link.setdefault("acknowledgedVersion", 0)
    link.setdefault("remoteVersion", 0)
    link["localVersion"] = max(2, int(link["localVersion"]))
    new = execution_state.cancel({**status, "link": link}, now=resources.now())
    written = await ws.store.replace_status(resources.EXECUTION, {**body, "status": new})
    ws.changes.notify()
    await _event(ws, written, new)
    await _cascade_cancel(ws, resources.name(body))
    return written


async def _claim_and_start(ws: workspace.Workspace, body: resources.Body) -> None:
    name = resources.name(body)
    try:
        await resolve_script(ws, body)
    except (errors.NotFound, errors.SpecError) as exc:
        reason = (
            execution_state.FLOW_NOT_FOUND
            if isinstance(exc, errors.NotFound)
            else execution_state.INVALID_FLOW
        )
        new = execution_state.finish(
            resources.status(body),
            phase=resources.FAILED,
            reason=reason,
            message=str(exc),
            now=resources.now(),
        )
        written = await ws.store.replace_status(resources.EXECUTION, {**body, "status": new})
        ws.changes.notify()
        await _event(ws, written, new)
        return
    # Start before the claim: a Running execution always had its run created, so a run missing
    # later has ended or was deleted (see executor.Executor.start). Two reconcilers racing here
    # start the same run (idempotent by name); only one wins the conditional claim.
    secret_name = await ensure_runner_secret(ws, body)
    await ws.executor.start(body, secret_name=secret_name)
    new = execution_state.start(resources.status(body), job_name=naming.job_name(name), now=resources.now())
    claimed = await ws.store.replace_status(resources.EXECUTION, {**body, "status": new})
    ws.changes.notify()
    await _event(ws, claimed, new)


async def ensure_runner_secret(ws: workspace.Workspace, body: resources.Body) -> str:
    """Create the execution's runner Secret (``token``, ``url``) unless it exists; return its name."""
    name = resources.name(body)
    secret_name = naming.runner_secret_name(name)
    extra = {labels.COMPONENT: RUNNER_TOKEN_COMPONENT}
    extra[labels.EXECUTION] = labels.value(name)
    token = f"{name}.{secrets.token_urlsafe(32)}"
    url = base64.b64encode(ws.settings.runner_api_url.encode()).decode()
    secret = {
        "apiVersion": "v1",
        "kind": resources.SECRET,
        "metadata": {
            "name": secret_name,
            "labels": labels.managed(**extra),
            "ownerReferences": [_owner_reference(body, controller=True)],
        },
        "type": "Opaque",
        # ``data`` (base64), as the API server returns it, so both stores read the same shape.
        "data": {
            "token": base64.b64encode(token.encode()).decode(),
            "url": url,
        },
    }
    try:
        await ws.store.create(resources.SECRET, secret)
        ws.changes.notify()
    except errors.AlreadyExists:
        # A retried reconcile: the token handed out before stays valid. The runner API's
        # address may have moved (a changed setting; an embedded restart's new port).
        existing = await ws.store.get(resources.SECRET, secret_name)
        if secret_value(existing, "url") != ws.settings.runner_api_url:
            await ws.store.patch(resources.SECRET, secret_name, {"data": {"url": url}})
    return secret_name


def secret_value(secret: resources.Body, key: str) -> str:
    """Decode one key of a Secret's ``data``. Raises ``errors.KeyLoadError`` (never shows content)."""
    try:
        return base64.b64decode(str((secret.get("data") or {})[key])).decode()
    except (KeyError, ValueError) as exc:
        raise errors.KeyLoadError(f"Secret {resources.name(secret)!r} has no usable key {key!r}") from exc


async def _cancel_local(ws: workspace.Workspace, body: resources.Body) -> None:
    name = resources.name(body)
    reason, message = execution_state.CANCELLED, execution_state.cancelled_message()
    parent = str(resources.spec(body).get("parent") or "")
    if parent:
        parent_body = await _read(ws, parent)
        if parent_body is None or resources.is_terminal(parent_body):
            reason, message = (
                execution_state.PARENT_CANCELLED,
                execution_state.parent_cancelled_message(parent),
            )
    # Status first: the runner's own end report after SIGTERM then finds it terminal (409) and
    # the process exit is not mistaken for a crash.
    new = execution_state.cancel(resources.status(body), now=resources.now(), reason=reason, message=message)
    written = await ws.store.replace_status(resources.EXECUTION, {**body, "status": new})
    ws.changes.notify()
    await _event(ws, written, new)
    await ws.executor.cancel(written)
    await _cascade_cancel(ws, name)


async def _cascade_cancel(ws: workspace.Workspace, name: str) -> None:
    """Ask every live child (label PARENT) to cancel; each child's own reconcile does the rest."""
    for child in await ws.store.list(resources.EXECUTION, labels={labels.PARENT: labels.value(name)}):
        if resources.is_terminal(child) or resources.spec(child).get("cancel"):
            continue
        try:
            await ws.store.patch(resources.EXECUTION, resources.name(child), {"spec": {"cancel": True}})
        except errors.NotFound:
            continue
        ws.changes.notify()


# -- what executors report -------------------------------------------------------------------
async def run_ended(ws: workspace.Workspace, name: str, *, phase: str, reason: str, message: str) -> None:
    """An executor saw the run end without the runner reporting (crash, deadline, OOM, pull
    failure). Changes only a live execution; its children are cancelled (nobody waits for them)."""

    def change(status: dict[str, Any]) -> dict[str, Any]:
        return execution_state.finish(
            status, phase=phase, reason=reason, message=message, now=resources.now()
        )

    try:
        await _update_status(ws, name, change)
    except (errors.NotFound, errors.InvalidTransition):
        return
    await _cascade_cancel(ws, name)


async def cleanup(ws: workspace.Workspace, body: resources.Body) -> None:
    """The Execution is being deleted: stop and remove its run and its runner Secret."""
    await ws.executor.cleanup(body)
    with contextlib.suppress(errors.NotFound):
        await ws.store.delete(resources.SECRET, naming.runner_secret_name(resources.name(body)))
    ws.changes.notify()


# -- what the runner API calls ---------------------------------------------------------------
async def log(ws: workspace.Workspace, name: str, lines: Iterable[str]) -> None:
    """Append to the log tail. Raises ``errors.InvalidTransition`` once the execution ended."""
    items = [str(line) for line in lines]
    await _update_status(ws, name, lambda status: execution_state.append_log(status, items))


async def save(ws: workspace.Workspace, name: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge outputs; return all saved outputs. Raises ``errors.SpecError`` (field ``outputs``)."""
    written = await _update_status(ws, name, lambda status: execution_state.save_outputs(status, outputs))
    return dict(resources.status(written).get("outputs") or {})


async def end(
    ws: workspace.Workspace, name: str, phase: str, message: str | None, reason: str | None
) -> None:
    """The runner reports how its flow ended.

    Raises ``errors.InvalidTransition`` if it already had.
    """
    if phase not in resources.TERMINAL:
        raise errors.SpecError(f"must be one of {sorted(resources.TERMINAL)}, not {phase!r}", field="phase")
    final_reason = reason or execution_state.DEFAULT_REASON[phase]
    if phase == resources.SUCCEEDED:
        final_message: str = execution_state.completed_message(message)
    elif phase == resources.CANCELLED:
        final_message = message or execution_state.cancelled_message()
    else:
        final_message = message or execution_state.flow_error_message(None)

    def change(status: dict[str, Any]) -> dict[str, Any]:
        return execution_state.finish(
            status, phase=phase, reason=final_reason, message=final_message, now=resources.now()
        )

    await _update_status(ws, name, change)
    if phase != resources.SUCCEEDED:
        # A parent that failed or was cancelled waits for nothing any more. A successful one
        # may leave fire-and-forget children (``wait=False``) running on purpose.
        await _cascade_cancel(ws, name)


def _inputs_checked(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise errors.SpecError("must be an object", field="inputs")
    if len(inputs) > bounds.MAX_OBJECT_KEYS:
        raise errors.SpecError(
            f"has {len(inputs)} keys, over the limit of {bounds.MAX_OBJECT_KEYS}", field="inputs"
        )
    try:
        size = execution_state.outputs_size(inputs)
    except errors.SpecError:
        raise errors.SpecError("must be JSON-serialisable", field="inputs") from None
    if size > bounds.MAX_INPUTS_BYTES:
        raise errors.SpecError(
            f"is {size} bytes of JSON, over the limit of {bounds.MAX_INPUTS_BYTES}", field="inputs"
        )
    return dict(inputs)


async def start_child(
    ws: workspace.Workspace,
    parent_body: resources.Body,
    *,
    call_id: str,
    flow: str,
    remote_workspace: str | None,
    inputs: Mapping[str, Any] | None,
    timeout_seconds: int | None,
) -> str:
    """Create a child Execution of ``parent_body``; idempotent by ``call_id``. Returns its name."""
    if not isinstance(call_id, str) or not call_id:
        raise errors.SpecError("must be a non-empty string", field="callId")
    if not isinstance(flow, str) or not flow:
        raise errors.SpecError("must be a non-empty string", field="flow")
    if remote_workspace is not None and (not isinstance(remote_workspace, str) or not remote_workspace):
        raise errors.SpecError("must be a non-empty string", field="remoteWorkspace")
    if timeout_seconds is not None and (
        isinstance(timeout_seconds, bool)
        or not isinstance(timeout_seconds, int)
        or not 1 <= timeout_seconds <= bounds.MAX_TIMEOUT_SECONDS
    ):
        raise errors.SpecError(
            f"must be an integer from 1 to {bounds.MAX_TIMEOUT_SECONDS}", field="timeoutSeconds"
        )
    child_inputs = _inputs_checked(inputs)
    parent = resources.name(parent_body)
    if resources.is_terminal(parent_body):
        raise errors.InvalidTransition(resources.phase(parent_body), "given children")
    name = naming.child_execution_name(parent, resources.uid(parent_body), call_id)
    child_labels = {labels.PARENT: labels.value(parent)}
    spec: dict[str, Any] = {"flow": flow, "inputs": child_inputs, "parent": parent}
    if remote_workspace:
        child_labels[labels.REMOTE_LINK] = labels.value(remote_workspace)
        spec["remoteWorkspace"] = remote_workspace
    if timeout_seconds is not None:
        spec["timeoutSeconds"] = timeout_seconds
    body = {
        "apiVersion": labels.API_VERSION,
        "kind": resources.EXECUTION,
        "metadata": {
            "name": name,
            "labels": labels.managed(**child_labels),
            "ownerReferences": [_owner_reference(parent_body, controller=False)],
        },
        "spec": spec,
    }
    try:
        await ws.store.create(resources.EXECUTION, body)
    except errors.AlreadyExists:
        existing = await _read(ws, name)
        if existing is None or resources.spec(existing).get("parent") != parent:
            raise
        return name  # the runner retried a create that had worked
    ws.changes.notify()
    # A cancel cascade that listed the children just before this create would miss it.
    current_parent = await _read(ws, parent)
    if current_parent is None or resources.is_terminal(current_parent):
        await cancel(ws, name)
    return name


async def cancel(ws: workspace.Workspace, name: str) -> None:
    """Ask for an execution to be cancelled (``spec.cancel``); its reconcile does it."""
    await ws.store.patch(resources.EXECUTION, name, {"spec": {"cancel": True}})
    ws.changes.notify()
