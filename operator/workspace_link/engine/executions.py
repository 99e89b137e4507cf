"""The execution controller: what to do about one Execution, driven by store events.

The same code runs in the operator (kopf delivers events, the API server is the store, Jobs
run the flows) and in the embedded mode (a memstore watch delivers events, local processes run
the flows): it only touches ``ws.store`` and ``ws.executor``.

``reconcile`` is level-triggered and idempotent: it re-reads the Execution, decides from what
is stored (never from what it remembers) and makes every racing status write conditional on
``resourceVersion``; on a conflict it re-reads and decides again (``updates``). So it is safe to
call on every event, twice, late, or after a restart (docs/architecture.md, "Event flow").

Executors call ``run_ended`` for the endings a runner cannot report itself; ``cancel`` asks for
a cancel. What a runner itself may do (log, save, end, start children) is ``runner_calls``; its
credentials are ``runner_secret``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

from workspace_link.core import errors, execution_state, labels, naming, outbox, resources
from workspace_link.engine import cache, runner_secret, updates, workspace

logger = logging.getLogger(__name__)


async def read(ws: workspace.Workspace, name: str) -> resources.Body | None:
    """The Execution ``name`` as stored now; None when there is none."""
    try:
        return await ws.store.get(resources.EXECUTION, name)
    except errors.NotFound:
        return None


async def _write(ws: workspace.Workspace, body: resources.Body, new: dict[str, Any]) -> resources.Body:
    """One conditional status write with its event; raises ``errors.Conflict`` on a stale body."""
    return await updates.write_status(
        ws, resources.EXECUTION, body, new, announce=execution_state.phase_event
    )


async def update_status(
    ws: workspace.Workspace,
    name: str,
    change: updates.Change,
    *,
    body: resources.Body | None = None,
) -> resources.Body:
    """Change an Execution's status (``updates.update_status``), posting the phase's event."""
    return await updates.update_status(
        ws, resources.EXECUTION, name, change, body=body, announce=execution_state.phase_event
    )


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
async def reconcile(ws: workspace.Workspace, body: resources.Body, *, resumed: bool = True) -> None:
    """Bring one Execution one step closer to what its spec asks. Idempotent; see the module doc.

    ``resumed``: the event may follow a restart (an object listed at start, or new): a Running
    execution's run is then checked to exist. Changes of an object already seen (``MODIFIED``)
    pass False: the run was created before the claim, and the executor reports its end.
    """
    name = resources.name(body)

    async def attempt() -> None:
        fresh = await read(ws, name)
        if fresh is not None:
            await _decide(ws, fresh, resumed=resumed)

    try:
        await updates.retry_on_conflict(attempt, what=f"Execution {name!r}")
    except errors.Conflict as exc:
        # The next event about it reconciles it again.
        logger.warning("Execution %s: gave up reconciling: %s", name, exc)


def awaits_origin(body: resources.Body) -> bool:
    """A received execution whose origin is not written yet: ``claim_received`` writes it together
    with the claim (one status write, no race with this controller). Should that never happen
    (the create's message is re-sent until acknowledged, and repairs it), it does not run."""
    return bool(resources.labels(body).get(labels.ORIGIN_LINK)) and not resources.origin(body).get("uid")


async def _decide(ws: workspace.Workspace, body: resources.Body, *, resumed: bool = True) -> None:
    spec = resources.spec(body)
    if spec.get("mirror") or resources.is_terminal(body):
        return
    if spec.get("remoteWorkspace"):
        await _reconcile_remote(ws, body)
        return
    if awaits_origin(body):
        return
    if spec.get("cancel"):
        await _cancel_local(ws, body)
        return
    if resources.phase(body) == resources.PENDING:
        await _claim_and_start(ws, body)
    elif resumed:
        # Running: make sure the run exists (after a restart the executor may have lost it).
        # The run was created before the claim, so a missing Job has ended or was deleted.
        secret_name = await runner_secret.ensure_runner_secret(ws, body)
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
        # The link finds what it has to send by this label: a label query, never a scan. Until
        # the label is written, ``outgoing`` adds it by name (``workspace.Unlabelled``, kept from
        # the events), so the start goes out meanwhile.
        body = await ws.store.patch(
            resources.EXECUTION,
            resources.name(body),
            {"metadata": {"labels": {labels.REMOTE_LINK: labels.value(link_name)}}},
            resource_version=body["metadata"].get("resourceVersion"),
        )
    # No status.link is written here: until the first ack writes it, ``resources.link_status``
    # reads the state before the start, so the link sends without waiting for a write.
    if resources.spec(body).get("cancel"):
        await request_remote_cancel(ws, body)


def _unsettled(body: resources.Body) -> bool:
    return not outbox.settled(body)


#: The executions a link may still have to send a start, cancel or status about: an index the
#: cache keeps (``Workspace.view``), so the thousands that have ended cost an exchange nothing.
UNSETTLED: Final[cache.Where] = ("unsettled", _unsettled)


def mirror_owed(link: str) -> cache.Where:
    """The executions whose status ``link`` has still to mirror (``outbox.mirror_owed``): an
    index of the cache per ``sendAllExecutions`` link."""
    return (("mirror-owed", link), lambda body: outbox.mirror_owed(body, link))


async def owed_by_send_all(ws: workspace.Workspace, link: str) -> list[resources.Body]:
    """What a ``sendAllExecutions`` link may still send about, each once: the executions with a
    start, cancel or status still to send (``UNSETTLED``), and those whose status it has not
    mirrored yet (``mirror_owed``). To read, not to change or keep (``Workspace.view``)."""
    found = {resources.name(body): body for body in await ws.view(resources.EXECUTION, where=UNSETTLED)}
    for body in await ws.view(resources.EXECUTION, where=mirror_owed(link)):
        found.setdefault(resources.name(body), body)
    return list(found.values())


async def outgoing(ws: workspace.Workspace, link: str, *, unsettled: bool = False) -> list[resources.Body]:
    """The executions sent over ``link``: those labelled for it (a label query), and those
    whose label is not written yet (``workspace.Unlabelled``). To read, not to change or keep
    (``Workspace.view``); ``unsettled``: only those with something left to send."""
    found = await ws.view(
        resources.EXECUTION,
        labels={labels.REMOTE_LINK: labels.value(link)},
        where=UNSETTLED if unsettled else None,
    )
    have = {resources.name(body) for body in found}
    for name in sorted(ws.unlabelled.of(link) - have):
        try:
            body = await ws.store.get(resources.EXECUTION, name)
        except errors.NotFound:
            continue
        if resources.spec(body).get("remoteWorkspace") == link:
            found.append(body)
    return found


async def request_remote_cancel(ws: workspace.Workspace, body: resources.Body) -> resources.Body:
    """Cancel an execution sent over a link: ``link.localVersion`` 2 (the outbox sends ``cancel``)
    and phase Cancelled here at once — a terminal phase is final, later peer statuses don't move it.

    Conditional on ``body``'s resourceVersion: raises ``errors.Conflict`` on a stale body.
    """
    status = resources.status(body)
    if execution_state.status_is_terminal(status):
        return body
    link = resources.link_status(body)
    link.setdefault("name", str(resources.spec(body).get("remoteWorkspace") or ""))
    link.setdefault("localVersion", 1)
    link.setdefault("acknowledgedVersion", 0)
    link.setdefault("remoteVersion", 0)
    link["localVersion"] = max(2, int(link["localVersion"]))
    new = execution_state.cancel({**status, "link": link}, now=resources.now())
    written = await _write(ws, body, new)
    await cascade_cancel(ws, resources.name(body))
    return written


async def claim_received(ws: workspace.Workspace, body: resources.Body, origin: updates.Change) -> None:
    """Write a received execution's origin (``origin`` changes the status to carry it) and, in the
    same status write, claim and start it: one write where the inbox and this controller would
    otherwise race (and conflict). A duplicate (origin already there) changes nothing; a
    cancelled or unrunnable one gets its origin only and the controller does the rest."""
    name = resources.name(body)
    given: resources.Body | None = body

    async def attempt() -> None:
        nonlocal given
        current = given if given is not None else await ws.store.get(resources.EXECUTION, name)
        given = None
        with_origin = origin(resources.status(current))
        if with_origin is None:
            return
        spec = resources.spec(current)
        if resources.phase(current) == resources.PENDING and not spec.get("cancel") and spec.get("script"):
            secret_name = await runner_secret.ensure_runner_secret(ws, current)
            await ws.executor.start(current, secret_name=secret_name)
            with_origin = execution_state.start(
                with_origin, job_name=naming.job_name(name), now=resources.now()
            )
        await _write(ws, current, with_origin)

    await updates.retry_on_conflict(attempt, what=f"Execution {name!r}")


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
        await _write(ws, body, new)
        return
    # Start before the claim: a Running execution always had its run created, so a run missing
    # later has ended or was deleted (see executor.Executor.start). Two reconcilers racing here
    # start the same run (idempotent by name); only one wins the conditional claim.
    secret_name = await runner_secret.ensure_runner_secret(ws, body)
    await ws.executor.start(body, secret_name=secret_name)
    new = execution_state.start(resources.status(body), job_name=naming.job_name(name), now=resources.now())
    await _write(ws, body, new)


async def _cancel_local(ws: workspace.Workspace, body: resources.Body) -> None:
    name = resources.name(body)
    reason, message = execution_state.CANCELLED, execution_state.cancelled_message()
    parent = str(resources.spec(body).get("parent") or "")
    if parent:
        parent_body = await read(ws, parent)
        if parent_body is None or resources.is_terminal(parent_body):
            reason, message = (
                execution_state.PARENT_CANCELLED,
                execution_state.parent_cancelled_message(parent),
            )
    # Status first: the runner's own end report after SIGTERM then finds it terminal (409) and
    # the process exit is not mistaken for a crash.
    new = execution_state.cancel(resources.status(body), now=resources.now(), reason=reason, message=message)
    written = await _write(ws, body, new)
    await ws.executor.cancel(written)
    await cascade_cancel(ws, name)


async def cascade_cancel(ws: workspace.Workspace, name: str) -> None:
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
        await update_status(ws, name, change)
    except (errors.NotFound, errors.InvalidTransition):
        return
    await cascade_cancel(ws, name)


async def cleanup(ws: workspace.Workspace, body: resources.Body) -> None:
    """The Execution is being deleted: stop and remove its run and its runner Secret."""
    await ws.executor.cleanup(body)
    with contextlib.suppress(errors.NotFound):
        await ws.store.delete(resources.SECRET, naming.runner_secret_name(resources.name(body)))
    ws.changes.notify()


async def cancel(ws: workspace.Workspace, name: str) -> None:
    """Ask for an execution to be cancelled (``spec.cancel``); its reconcile does it."""
    await ws.store.patch(resources.EXECUTION, name, {"spec": {"cancel": True}})
    ws.changes.notify()
