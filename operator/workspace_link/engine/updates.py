"""The one way the engine changes an object's status: conditional writes, retried on conflict.

Every status write is conditional on the ``resourceVersion`` of the body it was computed from
(the store's promise, ``store.Store.replace_status``), so two writers racing on one object never
lose each other's change: the loser gets ``errors.Conflict``, re-reads and decides again. This
module holds that loop once (``update_status``), its limit (``MAX_CONFLICT_RETRIES``) and the
tail every write shares (``write_status``: write, wake whoever waits on ``ws.changes``, post the
event that goes with it).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, TypeVar

from workspace_link.core import errors, resources
from workspace_link.engine import workspace

#: Attempts of one conditional update before ``errors.Conflict`` is raised. Every attempt re-reads,
#: so only a storm of concurrent writers to one object exhausts it.
MAX_CONFLICT_RETRIES: Final = 20

#: The new status computed from the current one, or None when nothing needs writing. May raise
#: (``errors.InvalidTransition``, ``errors.SpecError``) to refuse; the store is then untouched.
Change = Callable[[dict[str, Any]], dict[str, Any] | None]
#: An event to post about a written object: (type, reason, message).
Event = tuple[Literal["Normal", "Warning"], str, str]
#: Which event, if any, goes with a status change (old status, new status).
Announce = Callable[[dict[str, Any], dict[str, Any]], Event | None]

_T = TypeVar("_T")


async def retry_on_conflict(attempt: Callable[[], Awaitable[_T]], *, what: str) -> _T:
    """Run ``attempt`` until it does not raise ``errors.Conflict``, at most MAX_CONFLICT_RETRIES times.

    ``attempt`` must re-read what it decides from. Raises ``errors.Conflict`` (naming ``what``)
    when every attempt conflicted.
    """
    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            return await attempt()
        except errors.Conflict:
            continue
    raise errors.Conflict(f"{what} kept changing; gave up after {MAX_CONFLICT_RETRIES} tries")


async def write_status(
    ws: workspace.Workspace,
    kind: str,
    body: resources.Body,
    new: dict[str, Any],
    *,
    announce: Announce | None = None,
    notify: bool = True,
) -> resources.Body:
    """Write ``new`` as ``body``'s status, conditional on its resourceVersion; return the written body.

    Then wake the waiters on ``ws.changes`` (unless ``notify`` is False: nothing waits on that
    kind's status) and post the event ``announce`` names. Raises ``errors.Conflict`` on a stale
    ``body``.
    """
    written = await ws.store.replace_status(kind, {**body, "status": new})
    if notify:
        ws.changes.notify()
    event = announce(resources.status(body), new) if announce is not None else None
    if event is not None:
        type_, reason, message = event
        await ws.store.record_event(written, type=type_, reason=reason, message=message)
    return written


async def update_status(
    ws: workspace.Workspace,
    kind: str,
    name: str,
    change: Change,
    *,
    body: resources.Body | None = None,
    announce: Announce | None = None,
    notify: bool = True,
) -> resources.Body:
    """Apply ``change`` to the current status of ``kind``/``name`` and write it conditionally.

    ``body``: the object as the caller just read it (saves the first read). On a conflict the
    object is re-read and ``change`` applied again. A change that returns None or the status
    unchanged writes nothing. Returns the written body, or the current one when nothing was
    written. Raises ``errors.NotFound`` when the object is gone, ``errors.Conflict`` after
    ``MAX_CONFLICT_RETRIES`` attempts, and whatever ``change`` raises.
    """
    given = body

    async def attempt() -> resources.Body:
        nonlocal given
        current = given if given is not None else await ws.store.get(kind, name)
        given = None
        old = resources.status(current)
        new = change(copy.deepcopy(old))  # a change may edit what it is given
        if new is None or new == old:
            return current
        return await write_status(ws, kind, current, new, announce=announce, notify=notify)

    return await retry_on_conflict(attempt, what=f"{kind} {name!r}")
