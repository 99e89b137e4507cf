"""Standard Kubernetes Conditions on a SyncConfig's status, set the way ``kubectl`` readers expect.

A condition's ``lastTransitionTime`` moves only when its ``status`` flips, so an admin can read
"down since ..." instead of "last rewritten at ...". Writing the same condition again (same
status, reason and message) leaves the list unchanged, which lets callers skip a status write
when nothing an admin would see has changed. Pure: the caller passes the time.
"""

from __future__ import annotations

from typing import Any, Final, Literal

READY: Final = "Ready"
KEYS_LOADED: Final = "KeysLoaded"
CONNECTED: Final = "Connected"

Condition = dict[str, Any]
StatusWord = Literal["True", "False", "Unknown"]


def _word(status: bool | StatusWord) -> StatusWord:
    if isinstance(status, bool):
        return "True" if status else "False"
    return status


def find(conditions: list[Condition] | None, type_: str) -> Condition | None:
    for condition in conditions or []:
        if condition.get("type") == type_:
            return condition
    return None


def is_true(conditions: list[Condition] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == "True"


def set_condition(
    conditions: list[Condition] | None,
    *,
    type_: str,
    status: bool | StatusWord,
    reason: str,
    message: str,
    generation: int | None,
    now: str,
) -> list[Condition]:
    """Return a new list with ``type_`` set; other conditions are kept in their order.

    ``reason`` is a CamelCase word (``KeysLoaded``, ``SecretNotFound``); ``message`` is for
    people. ``now`` is an RFC 3339 timestamp used only when the status flips (or is new).
    """
    word = _word(status)
    result: list[Condition] = []
    replaced = False
    for condition in conditions or []:
        if condition.get("type") != type_:
            result.append(dict(condition))
            continue
        replaced = True
        changed = condition.get("status") != word
        result.append(
            {
                "type": type_,
                "status": word,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now if changed else condition.get("lastTransitionTime", now),
                **({"observedGeneration": generation} if generation is not None else {}),
            }
        )
    if not replaced:
        result.append(
            {
                "type": type_,
                "status": word,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now,
                **({"observedGeneration": generation} if generation is not None else {}),
            }
        )
    return result
