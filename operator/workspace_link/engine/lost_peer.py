"""Giving up on a lost peer (DESIGN §4), on the controlling side of a link.

When no exchange with the peer has succeeded for ``settings.peer_lost_timeout`` seconds, every
non-terminal execution sent over the link is failed with reason ``PeerLost``: its parent and
whoever waits on it learn the truth instead of waiting forever. A cancel is queued at the same
time (``link.localVersion`` 2), so that when the peer comes back it stops whatever it may still
be running; the outbox sends it like any other cancel. A terminal phase is final: a late status
from the peer only records what the peer reported (``apply``).

The caller (``link.run``) decides what "last contact" is; this module only compares times.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from workspace_link.core import errors, execution_state, labels, resources
from workspace_link.engine import workspace

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
        if (resources.status(body).get("link") or {}).get("name") != link:
            continue
        for _ in range(8):
            status = resources.status(body)
            if execution_state.is_terminal(status):
                break
            sent: dict[str, Any] = dict(status.get("link") or {})
            sent["localVersion"] = max(2, int(sent.get("localVersion") or 1))
            new = execution_state.finish(
                {**status, "link": sent},
                phase=resources.FAILED,
                reason=execution_state.PEER_LOST,
                message=execution_state.peer_lost_message(link, silent_for),
                now=now,
            )
            try:
                written = await ws.store.replace_status(resources.EXECUTION, {**body, "status": new})
            except errors.Conflict:
                try:
                    body = await ws.store.get(resources.EXECUTION, resources.name(body))
                except errors.NotFound:
                    break
                continue
            failed += 1
            ws.changes.notify()
            await ws.store.record_event(
                written, type="Warning", reason=execution_state.PEER_LOST, message=new.get("message", "")
            )
            break
    if failed:
        logger.warning(
            "link %s: peer silent for %.0f s; %d execution(s) failed with PeerLost", link, silent_for, failed
        )
    return failed
