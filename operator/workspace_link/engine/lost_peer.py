"""Giving up on a lost peer, on the controlling side of a link (docs/protocol.md §4).

When no exchange with the peer has succeeded for ``settings.peer_lost_timeout`` seconds, every
non-terminal execution sent over the link is failed with reason ``PeerLost``: its parent and
whoever waits on it learn the truth instead of waiting forever. A cancel is queued at the same
time (``link.localVersion`` 2), so that when the peer comes back it stops whatever it may still
be running; the outbox sends it like any other cancel. A terminal phase is final: a late status
from the peer only records what the peer reported (``inbox``).

``check`` is what the link loop (``dialer.run``) calls every so often: it works out the last
contact (the status's ``lastSuccessTime`` or a reporter's fresher one) and fails what is lost.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from typing import Any

from workspace_link.core import errors, execution_state, labels, link_config, resources
from workspace_link.engine import updates, workspace

logger = logging.getLogger(__name__)


def is_lost(*, last_contact: datetime.datetime, now: datetime.datetime, timeout: float) -> bool:
    """True when the peer has been silent for longer than ``timeout`` seconds (0 = never lost)."""
    return timeout > 0 and (now - last_contact).total_seconds() > timeout


async def fail_lost(ws: workspace.Workspace, *, link: str, now: datetime.datetime, silent_for: float) -> int:
    """Fail every live execution sent over ``link`` with PeerLost and queue its cancel.

    Returns how many were failed. Conditional writes; an execution changed meanwhile is
    re-read and judged again (it may have ended, which is final).
    """
    failed = 0
    for body in await ws.store.list(resources.EXECUTION, labels={labels.REMOTE_LINK: labels.value(link)}):
        if resources.link_status(body).get("name") != link:
            continue
        decided = False
        spec = resources.spec(body)

        def change(status: dict[str, Any], spec: dict[str, Any] = spec) -> dict[str, Any] | None:
            nonlocal decided
            decided = not execution_state.status_is_terminal(status)
            if not decided:
                return None
            sent = resources.link_status({"spec": spec, "status": status})
            sent["localVersion"] = max(2, int(sent.get("localVersion") or 1))
            return execution_state.finish(
                {**status, "link": sent},
                phase=resources.FAILED,
                reason=execution_state.PEER_LOST,
                message=execution_state.peer_lost_message(link, silent_for),
                now=now,
            )

        try:
            await updates.update_status(
                ws,
                resources.EXECUTION,
                resources.name(body),
                change,
                body=body,
                announce=execution_state.phase_event,
            )
        except errors.NotFound:
            continue
        if decided:
            failed += 1
    if failed:
        logger.warning(
            "link %s: peer silent for %.0f s; %d execution(s) failed with PeerLost", link, silent_for, failed
        )
    return failed


def _last_contact(body: resources.Body, started: datetime.datetime) -> datetime.datetime:
    seen = resources.status(body).get("lastSuccessTime")
    if isinstance(seen, str):
        with contextlib.suppress(ValueError):
            return max(started, resources.parse_timestamp(seen))
    return started


async def check(
    ws: workspace.Workspace,
    name: str,
    *,
    started: datetime.datetime,
    reporter: workspace.LinkReporter | None,
) -> None:
    """Fail what was sent over SyncConfig ``name`` if its peer is lost (controlling side only).

    ``started``: when this side's loop started (a peer is never lost for longer than that);
    ``reporter``: the dialer's, whose last contact may not be written to the status yet.
    Raises ``errors.StoreError``.
    """
    timeout = ws.settings.peer_lost_timeout
    if timeout <= 0:
        return
    try:
        body = await ws.store.get(resources.SYNC_CONFIG, name)
        config = link_config.parse(body)
    except (errors.NotFound, errors.SpecError):
        return
    if config.role != resources.ROLE_CONTROLLING:
        return
    last = _last_contact(body, started)
    # The freshest contact may not be written to the status yet (it is written sparingly).
    for seen in (reporter, ws.listener_reporters.get(name)):
        if seen is not None and seen.last_success:
            last = max(last, resources.parse_timestamp(seen.last_success))
    now = resources.now()
    if is_lost(last_contact=last, now=now, timeout=timeout):
        await fail_lost(ws, link=name, now=now, silent_for=(now - last).total_seconds())
