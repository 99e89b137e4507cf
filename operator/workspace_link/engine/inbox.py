"""Applying a peer's messages and acks to this workspace's store, idempotently.

Every message may arrive more than once (at-least-once on the wire, docs/protocol.md §4), so
each handler first reads what is stored and only then decides:

- ``start`` (controlled side) creates an Execution named from the link and the origin uid
  (``naming.received_execution_name``). A taken name is a duplicate only when the existing
  object's origin labels are this link and this uid; any other owner of the name refuses the
  message (logged, an event, not acknowledged). No Flow object is ever created: the script
  travels inline. The status (origin, version 1) is written right after the create; the
  execution controller may reconcile the new object in between, so the write is conditional and is
  re-read and merged on a conflict. A start that finds the object without its origin status
  (a crash between the two writes) repairs it.
- ``cancel`` sets ``spec.cancel`` on that execution (``executions`` does the rest). A cancel for an
  origin never seen creates the execution already cancelled, so a late start is a duplicate
  and never runs.
- ``status`` (controlling side) is copied onto the local execution with that uid when its
  version is newer than ``link.remoteVersion``; a terminal local phase is final (only
  ``remoteVersion`` moves).
- ``mirror`` creates or updates a read-only copy (``spec.mirror``), newer versions only.

Acks are written the same way: conditional, retried on conflict (``updates``), never lowering a
version. Every write wakes ``ws.changes`` so waiters and the link's outbox look again.
A message is acknowledged only once its effect is stored; a store failure leaves it
unacknowledged so the peer sends it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final

from workspace_link.core import errors, labels, naming, protocol, resources
from workspace_link.engine import executions, store, updates, workspace

logger = logging.getLogger(__name__)

COMPONENT_RECEIVED: Final = "received"
COMPONENT_MIRROR: Final = "mirror"
_LIVE_ORDER: Final = {resources.PENDING: 0, resources.RUNNING: 1}
_STORE_FAILURES: Final = store.FailureLog(logger)
#: Messages (and acks) of one batch applied at once. Each is a store write or two: on the API
#: server a round trip each, and one after the other they were what held a burst back.
APPLY_CONCURRENCY: Final = 16


async def _by_object(
    items: Iterable[tuple[str, Callable[[], Awaitable[bool]]]], *, limit: int = APPLY_CONCURRENCY
) -> None:
    """Run ``(object key, apply)`` pairs: those of one object in their order, objects side by
    side, at most ``limit`` at a time. An ``apply`` that returns False (the store failed) stops
    what has not started yet; an exception is raised once every started one has finished."""
    queues: dict[str, list[Callable[[], Awaitable[bool]]]] = {}
    for key, apply in items:
        queues.setdefault(key, []).append(apply)
    gate = asyncio.Semaphore(limit)
    stopped = False

    async def one_object(applies: list[Callable[[], Awaitable[bool]]]) -> None:
        nonlocal stopped
        for apply in applies:
            async with gate:
                if stopped:
                    return
                if not await apply():
                    stopped = True
                    return

    outcomes = await asyncio.gather(*(one_object(q) for q in queues.values()), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def origin_labels(link: str, origin_uid: str, component: str) -> dict[str, str]:
    return labels.managed(
        **{
            labels.ORIGIN_LINK: labels.value(link),
            labels.ORIGIN_UID: labels.value(origin_uid),
            labels.COMPONENT: component,
        }
    )


def _owned_by(body: resources.Body, link: str, origin_uid: str) -> bool:
    have = resources.labels(body)
    return have.get(labels.ORIGIN_LINK) == labels.value(link) and have.get(labels.ORIGIN_UID) == labels.value(
        origin_uid
    )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


async def _write_status(
    ws: workspace.Workspace, body: resources.Body, change: updates.Change
) -> resources.Body:
    """Apply ``change`` to ``body``'s status, conditionally (``updates.update_status``)."""
    return await updates.update_status(ws, resources.EXECUTION, resources.name(body), change, body=body)


# -- controlled side -------------------------------------------------------------------------


def _origin(
    link: str, peer: protocol.Sender, *, uid: str, name: str, started_by: str | None
) -> dict[str, Any]:
    origin: dict[str, Any] = {"link": link, "uid": uid, "name": name, "workspace": peer.workspace}
    if started_by:
        origin["startedBy"] = started_by
    return origin


def _with_origin(origin: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def change(status: dict[str, Any]) -> dict[str, Any] | None:
        if resources.origin({"status": status}).get("uid") == origin["uid"]:
            return None
        new = dict(status)
        new["origin"] = {**origin, "acknowledgedVersion": 0}
        new.setdefault("phase", resources.PENDING)
        new["version"] = max(_int(new.get("version")), 1)
        return new

    return change


async def _get_owned(ws: workspace.Workspace, name: str, link: str, uid: str) -> resources.Body | None:
    try:
        body = await ws.store.get(resources.EXECUTION, name)
    except errors.NotFound:
        return None
    if not _owned_by(body, link, uid):
        raise errors.MessageRefused(
            f"Execution {name} exists but did not arrive from link {link} for origin {uid}"
        )
    return body


async def _create_owned(
    ws: workspace.Workspace,
    *,
    name: str,
    link: str,
    uid: str,
    component: str,
    spec: dict[str, Any],
    annotations: dict[str, str] | None = None,
) -> tuple[resources.Body, bool]:
    """Create an Execution that came over ``link`` from the peer's ``uid``: (body, created).

    A taken name is a duplicate only when the object there came from this link and uid.
    """
    metadata: dict[str, Any] = {"name": name, "labels": origin_labels(link, uid, component)}
    if annotations:
        metadata["annotations"] = annotations
    body = {"apiVersion": labels.API_VERSION, "kind": resources.EXECUTION, "metadata": metadata, "spec": spec}
    try:
        created = await ws.store.create(resources.EXECUTION, body)
    except errors.AlreadyExists:
        existing = await _get_owned(ws, name, link, uid)
        if existing is None:
            raise errors.Conflict(f"Execution {name} vanished while being created; will retry") from None
        return existing, False
    ws.changes.notify()
    return created, True


async def _create_received(
    ws: workspace.Workspace, *, link: str, uid: str, spec: dict[str, Any], started_by: str | None
) -> resources.Body | None:
    """Create the received execution; None when it already exists (and is ours)."""
    body, created = await _create_owned(
        ws,
        name=naming.received_execution_name(link, uid),
        link=link,
        uid=uid,
        component=COMPONENT_RECEIVED,
        spec=spec,
        annotations={labels.ORIGIN_STARTED_BY: started_by} if started_by else None,
    )
    return body if created else None


async def _apply_start(
    ws: workspace.Workspace, link: str, peer: protocol.Sender, start: protocol.Start
) -> None:
    spec: dict[str, Any] = {"script": start.script, "inputs": dict(start.inputs)}
    if start.timeout_seconds is not None:
        spec["timeoutSeconds"] = start.timeout_seconds
    origin = _origin(link, peer, uid=start.origin_uid, name=start.origin_name, started_by=start.started_by)
    body = await _create_received(ws, link=link, uid=start.origin_uid, spec=spec, started_by=start.started_by)
    if body is None:
        body = await ws.store.get(resources.EXECUTION, naming.received_execution_name(link, start.origin_uid))
        logger.info(
            "link %s: start for %s is a duplicate of %s", link, start.origin_uid, resources.name(body)
        )
    # The origin and the claim in one status write (the controller leaves it to us meanwhile).
    await executions.claim_received(ws, body, _with_origin(origin))


async def _apply_cancel(
    ws: workspace.Workspace, link: str, peer: protocol.Sender, cancel: protocol.Cancel
) -> None:
    name = naming.received_execution_name(link, cancel.origin_uid)
    body = await _get_owned(ws, name, link, cancel.origin_uid)
    if body is None:
        # Its start has not arrived (or never will): keep a cancelled execution under that name
        # so a late start is recognised as a duplicate and never runs.
        spec = {"script": "# cancelled by the peer before its start arrived\n", "inputs": {}, "cancel": True}
        origin = _origin(link, peer, uid=cancel.origin_uid, name=cancel.origin_uid, started_by=None)
        body = await _create_received(ws, link=link, uid=cancel.origin_uid, spec=spec, started_by=None)
        if body is None:
            body = await ws.store.get(resources.EXECUTION, name)
        await _write_status(ws, body, _with_origin(origin))
        if resources.spec(body).get("cancel"):
            return
    if resources.spec(body).get("cancel"):
        return
    await ws.store.patch(resources.EXECUTION, name, {"spec": {"cancel": True}})
    ws.changes.notify()


def _mirror_status(link: str, peer: protocol.Sender, mirror: protocol.Mirror) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": mirror.phase,
        "outputs": dict(mirror.outputs),
        "version": mirror.version,
        "origin": _origin(link, peer, uid=mirror.origin_uid, name=mirror.origin_name, started_by=None),
    }
    for key, value in (
        ("reason", mirror.reason),
        ("message", mirror.message),
        ("startTime", mirror.start_time),
        ("endTime", mirror.end_time),
    ):
        if value is not None:
            status[key] = value
    return status


async def _apply_mirror(
    ws: workspace.Workspace, link: str, peer: protocol.Sender, mirror: protocol.Mirror
) -> None:
    name = naming.mirror_execution_name(link, mirror.origin_uid)
    body = await _get_owned(ws, name, link, mirror.origin_uid)
    if body is None:
        spec: dict[str, Any] = {
            "mirror": {"link": link, "originUid": mirror.origin_uid, "originName": mirror.origin_name},
            "inputs": dict(mirror.inputs),
        }
        body, _ = await _create_owned(
            ws, name=name, link=link, uid=mirror.origin_uid, component=COMPONENT_MIRROR, spec=spec
        )
    wanted = _mirror_status(link, peer, mirror)

    def change(status: dict[str, Any]) -> dict[str, Any] | None:
        if _int(status.get("version")) >= mirror.version:
            return None  # an older or repeated mirror never overwrites a newer one
        return wanted

    await _write_status(ws, body, change)


# -- controlling side ------------------------------------------------------------------------


class _Index:
    """Local executions by uid, listed once per batch, lazily: those sent over one link (a
    label query), or every one when mirrors (which carry no link label) are looked up too.

    Those with something left to send (``outbox.settled``) are listed first: a peer's status or
    ack is about one of them but for a late duplicate, so the ended ones (thousands, after a
    while) are listed only when a uid is not found among them."""

    def __init__(self, ws: workspace.Workspace, link: str, *, mirrors: bool = False) -> None:
        self._ws = ws
        self._link = link
        self._mirrors = mirrors
        self._by_uid: dict[str, str] | None = None
        self._complete = False
        self._listing = asyncio.Lock()  # messages are applied side by side: list once

    async def find(self, uid: str) -> resources.Body | None:
        async with self._listing:
            if self._by_uid is None:
                self._by_uid = await self._list(unsettled=True)
            if uid not in self._by_uid and not self._complete:
                self._by_uid = await self._list(unsettled=False)
                self._complete = True
        name = self._by_uid.get(uid)
        if name is None:
            return None
        try:
            return await self._ws.store.get(resources.EXECUTION, name)
        except errors.NotFound:
            return None

    async def _list(self, *, unsettled: bool) -> dict[str, str]:
        if self._mirrors and unsettled:
            # A mirror's ack is about one this link still owes (until the ack is written).
            found = await executions.owed_by_send_all(self._ws, self._link)
        elif self._mirrors:
            found = await self._ws.view(resources.EXECUTION)
        else:
            found = await executions.outgoing(self._ws, self._link, unsettled=unsettled)
        return {
            resources.uid(body): resources.name(body)
            for body in found
            if not resources.spec(body).get("mirror")
        }


async def _apply_status(
    ws: workspace.Workspace,
    link: str,
    index: _Index,
    status_msg: protocol.Status,
    *,
    acked: int = 0,
    folded: set[str] | None = None,
) -> None:
    body = await index.find(status_msg.origin_uid)
    if body is None or resources.link_status(body).get("name") != link:
        logger.info("link %s: status for unknown execution %s ignored", link, status_msg.origin_uid)
        return

    def change(status: dict[str, Any]) -> dict[str, Any] | None:
        sent = resources.link_status({"spec": resources.spec(body), "status": status})
        if status_msg.version <= _int(sent.get("remoteVersion")):
            return None
        sent["remoteVersion"] = status_msg.version
        sent["remoteName"] = status_msg.remote_name
        if acked > _int(sent.get("acknowledgedVersion")):
            # The same answer acknowledged our start/cancel: one write for both (apply_acks
            # then finds nothing left to raise).
            sent["acknowledgedVersion"] = acked
        sent["lastSync"] = resources.timestamp()
        new = dict(status)
        new["link"] = sent
        current = resources.phase({"status": status})
        if current in resources.TERMINAL:
            return new  # a terminal phase is final; only what was seen is recorded
        if status_msg.phase in resources.TERMINAL or _LIVE_ORDER.get(status_msg.phase, 0) >= _LIVE_ORDER.get(
            current, 0
        ):
            new["phase"] = status_msg.phase
        new["outputs"] = dict(status_msg.outputs)
        new["logTail"] = list(status_msg.log_tail)
        for key, value in (
            ("reason", status_msg.reason),
            ("message", status_msg.message),
            ("startTime", status_msg.start_time),
            ("endTime", status_msg.end_time),
        ):
            if value is not None:
                new[key] = value
        new["version"] = _int(status.get("version")) + 1
        return new

    before = _int(resources.link_status(body).get("acknowledgedVersion"))
    written = await _write_status(ws, body, change)
    if folded is not None and before < acked <= _int(
        resources.link_status(written).get("acknowledgedVersion")
    ):
        folded.add(status_msg.origin_uid)


# -- entry points ----------------------------------------------------------------------------

_CONTROLLED_KINDS: Final = frozenset({"start", "cancel", "mirror"})


async def apply_messages(
    ws: workspace.Workspace,
    *,
    link: str,
    role: str,
    peer: protocol.Sender,
    messages: Sequence[protocol.Message],
    acks: Sequence[protocol.Ack] = (),
    folded: set[str] | None = None,
) -> list[protocol.Ack]:
    """Apply ``messages`` from the peer of ``link`` (this side has ``role``); return the acks.

    ``acks``: the peer's acks that came with them (``apply_acks`` records them next); a status
    message records the ack of its own execution's start/cancel in the same write, and adds
    that execution's origin uid to ``folded`` (pass it on to ``apply_acks``).

    A message that is refused (a name owned by something else, a kind this role does not take)
    is logged, reported as an event on the execution when there is one, and not acknowledged.
    Messages of different executions are applied side by side (``APPLY_CONCURRENCY``), those
    of one execution in order. A store failure stops the batch: what was applied is
    acknowledged, what failed or had not started comes again.
    """
    acked: dict[str, int] = {}
    for ack in acks:
        if ack.kind in ("start", "cancel"):
            acked[ack.origin_uid] = max(acked.get(ack.origin_uid, 0), ack.version)
    index = _Index(ws, link)
    owed: list[protocol.Ack | None] = [None] * len(messages)

    def applier(position: int, message: protocol.Message) -> Callable[[], Awaitable[bool]]:
        async def apply() -> bool:
            payload = message.payload
            try:
                if message.kind in _CONTROLLED_KINDS and role != resources.ROLE_CONTROLLED:
                    raise errors.MessageRefused(f"a {role} side does not accept {message.kind} messages")
                if message.kind == "status" and role != resources.ROLE_CONTROLLING:
                    raise errors.MessageRefused(f"a {role} side does not accept status messages")
                if isinstance(payload, protocol.Start):
                    await _apply_start(ws, link, peer, payload)
                elif isinstance(payload, protocol.Cancel):
                    await _apply_cancel(ws, link, peer, payload)
                elif isinstance(payload, protocol.Mirror):
                    await _apply_mirror(ws, link, peer, payload)
                else:
                    await _apply_status(
                        ws, link, index, payload, acked=acked.get(payload.origin_uid, 0), folded=folded
                    )
            except (errors.MessageRefused, errors.SpecError) as exc:
                # SpecError: the store refused the object as invalid; retrying will not fix it.
                logger.warning("link %s: refused %s: %s", link, message.id, exc)
                await _refusal_event(ws, link, message, str(exc))
                return True
            except errors.StoreError as exc:
                # Not acknowledged: the peer sends it (and what did not start) again.
                _STORE_FAILURES.failed(f"link {link}: could not apply {message.id}", exc)
                return False
            owed[position] = protocol.Ack(
                kind=message.kind, origin_uid=payload.origin_uid, version=payload.version
            )
            return True

        return apply

    # One execution's messages (a start and its cancel) in order; executions side by side.
    await _by_object(
        (message.payload.origin_uid, applier(position, message)) for position, message in enumerate(messages)
    )
    return [ack for ack in owed if ack is not None]


async def _refusal_event(ws: workspace.Workspace, link: str, message: protocol.Message, text: str) -> None:
    try:
        body = await ws.store.get(resources.SYNC_CONFIG, link)
    except errors.StoreError:
        return
    await ws.store.record_event(
        body, type="Warning", reason="MessageRefused", message=f"{message.id}: {text}"
    )


def _raise_to(version: int, key: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def change(part: dict[str, Any]) -> dict[str, Any] | None:
        if _int(part.get(key)) >= version:
            return None
        return {**part, key: version}

    return change


async def apply_acks(
    ws: workspace.Workspace,
    *,
    link: str,
    role: str,
    acks: Sequence[protocol.Ack],
    folded: set[str] | None = None,
) -> int:
    """Record the peer's acks on the resources (never lowering a version); return how many moved.

    ``folded``: origin uids whose start/cancel ack ``apply_messages`` already recorded (counted
    as moved here, not written again).

    Controlling: ``start``/``cancel`` -> ``link.acknowledgedVersion``, ``mirror`` ->
    ``mirrors[link]``. Controlled: ``status`` -> ``origin.acknowledgedVersion`` once the
    execution has ended (or the ack is of a version this side has not seen yet); the ack of a
    live status is held in memory only (``ws.held_acks``, docs/protocol.md §4). Acks for
    objects that no longer exist, or of kinds this side never sends, are ignored.
    """
    folded = folded or set()
    moved = len(folded)
    index = _Index(ws, link, mirrors=any(ack.kind == "mirror" for ack in acks))
    # The highest version per (kind, uid): one write per object even when acks repeat.
    best: dict[tuple[str, str], int] = {}
    for ack in acks:
        best[ack.kind, ack.origin_uid] = max(best.get((ack.kind, ack.origin_uid), 0), ack.version)

    def acker(kind: str, uid: str, version: int) -> Callable[[], Awaitable[bool]]:
        async def apply() -> bool:
            nonlocal moved
            if kind in ("start", "cancel") and uid in folded:
                return True
            body: resources.Body | None
            if role == resources.ROLE_CONTROLLING and kind in ("start", "cancel", "mirror"):
                body = await index.find(uid)
                if body is None:
                    return True
                section = "mirrors" if kind == "mirror" else "link"
                key = link if kind == "mirror" else "acknowledgedVersion"
                if kind != "mirror" and resources.link_status(body).get("name") != link:
                    return True
            elif role == resources.ROLE_CONTROLLED and kind == "status":
                try:
                    body = await ws.store.get(resources.EXECUTION, naming.received_execution_name(link, uid))
                except errors.NotFound:
                    return True
                if resources.origin(body).get("uid") != uid:
                    return True
                if not resources.is_terminal(body) and version <= _int(resources.status(body).get("version")):
                    # A live status: its ack is held in memory, no write (docs/protocol.md §4).
                    if ws.held_acks.raise_to(link, uid, version):
                        moved += 1
                    return True
                section, key = "origin", "acknowledgedVersion"
            else:
                return True
            raise_part = _raise_to(version, key)
            spec = resources.spec(body)

            def change(status: dict[str, Any]) -> dict[str, Any] | None:
                held: dict[str, Any]
                if section == "link":  # may not be written yet: the state before the start
                    held = dict(resources.link_status({"spec": spec, "status": status}))
                else:
                    held = dict(status.get(section) or {})
                part = raise_part(held)
                return None if part is None else {**status, section: part}

            before = resources.status(body)
            after = resources.status(await _write_status(ws, body, change))
            if after != before:
                moved += 1
            if section == "origin":
                ws.held_acks.forget(link, uid)  # written: nothing left to hold
            return True

        return apply

    # A start's and a cancel's ack write the same object: in order; objects side by side.
    await _by_object((uid, acker(kind, uid, version)) for (kind, uid), version in best.items())
    return moved
