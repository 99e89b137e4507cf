"""Settings: named values of a workspace that its flows read, write, append to and lock.

A Setting object (crds/settings.yaml) holds ``spec.value`` and, while an execution holds its
lock, ``spec.lock.holder``. Every write is a merge patch conditional on the resourceVersion
read just before, retried on ``errors.Conflict``: two flows racing for the lock (or appending
at once) cannot both win on a stale read. A lock whose holder ended or was deleted is free:
a flow that crashed holding it does not block the others forever.

The runner API calls these with the calling execution's name; nothing else does.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Final

from workspace_link.core import bounds, errors, labels, naming, resources
from workspace_link.engine import updates, workspace

#: What a flow may call a setting: any text a path segment carries, without control characters.
_FORBIDDEN: Final = re.compile(r"[\x00-\x1f\x7f/]")


def check_name(name: str) -> str:
    """A setting's name as flows write it (the Engine's names are free text, ``notification_emails``);
    ``naming.setting_object_name`` maps it to the object that holds it."""
    if not isinstance(name, str) or not 1 <= len(name) <= bounds.MAX_NAME_CHARS or _FORBIDDEN.search(name):
        raise errors.SpecError(
            f"{name[:64]!r} is not a setting name: 1 to {bounds.MAX_NAME_CHARS} characters,"
            " no '/' and no control characters",
            field="name",
        )
    return name


def check_value(value: Any) -> Any:
    """Refuse what a Setting cannot hold: non-JSON, over the inputs' size bound, or a null
    inside an object (a merge patch, how every write is made, reads null as "delete")."""
    try:
        size = bounds.json_size(value)
    except (TypeError, ValueError) as exc:
        raise errors.SpecError(f"must be JSON-serialisable ({exc})", field="value") from None
    if size > bounds.MAX_INPUTS_BYTES:
        raise errors.SpecError(
            f"is {size} bytes of JSON, over the limit of {bounds.MAX_INPUTS_BYTES}", field="value"
        )
    _no_null_in_objects(value, "value")
    return copy.deepcopy(value)


def _no_null_in_objects(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                raise errors.SpecError(f"{path}.{key} is null: leave the key out instead", field="value")
            _no_null_in_objects(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_null_in_objects(item, f"{path}[{index}]")


def _merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 patch turning ``old`` into ``new`` (``new`` holds no null in objects)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return copy.deepcopy(new)
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, item in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(item)
        elif old[key] != item:
            patch[key] = _merge_patch(old[key], item)
    return patch


def view(body: resources.Body | None, name: str) -> dict[str, Any]:
    spec = resources.spec(body) if body is not None else {}
    lock = spec.get("lock") or {}
    return {"name": name, "value": spec.get("value"), "lockHolder": lock.get("holder")}


async def _read(ws: workspace.Workspace, name: str) -> resources.Body | None:
    """The Setting holding ``name`` (a flow's name for it), or None."""
    try:
        body = await ws.store.get(resources.SETTING, naming.setting_object_name(name))
    except errors.NotFound:
        return None
    held = resources.spec(body).get("name")
    if held is not None and held != name:
        # A hand-made Setting that happens to carry the derived name of another.
        raise errors.SpecError(f"Setting {resources.name(body)!r} holds {held!r}, not {name!r}", field="name")
    return body


async def get(ws: workspace.Workspace, name: str) -> dict[str, Any]:
    """The setting's view. Raises ``errors.NotFound``."""
    body = await _read(ws, check_name(name))
    if body is None:
        raise errors.NotFound(f"name: Setting {name!r} does not exist")
    return view(body, name)


async def _write(
    ws: workspace.Workspace, name: str, body: resources.Body | None, spec: dict[str, Any]
) -> resources.Body:
    """Create the Setting, or patch ``body``'s spec into ``spec``, conditionally on ``body``."""
    if body is None:
        object_name = naming.setting_object_name(name)
        written = await ws.store.create(
            resources.SETTING,
            {
                "apiVersion": labels.API_VERSION,
                "kind": resources.SETTING,
                "metadata": {"name": object_name, "labels": labels.managed()},
                # The flow's own name, kept where the object's name had to differ from it.
                "spec": {**spec, "name": name} if object_name != name else spec,
            },
        )
    else:
        patch = _merge_patch(resources.spec(body), spec)
        written = await ws.store.patch(
            resources.SETTING,
            resources.name(body),
            {"spec": patch},
            resource_version=body["metadata"].get("resourceVersion"),
        )
    ws.changes.notify()
    return written


async def _write_raced(
    ws: workspace.Workspace, name: str, body: resources.Body | None, spec: dict[str, Any]
) -> resources.Body:
    """``_write``, where a lost race of any kind (created, changed or deleted meanwhile) is a
    ``errors.Conflict``: the caller re-reads and decides again."""
    try:
        return await _write(ws, name, body, spec)
    except (errors.AlreadyExists, errors.NotFound) as exc:
        raise errors.Conflict(str(exc)) from exc


async def _update(ws: workspace.Workspace, name: str, change: Any) -> resources.Body:
    """Read, ``change(spec) -> new spec`` and write conditionally; retry on a lost race."""

    async def attempt() -> resources.Body:
        body = await _read(ws, name)
        return await _write_raced(ws, name, body, change(resources.spec(body) if body is not None else {}))

    return await updates.retry_on_conflict(attempt, what=f"Setting {name!r}")


async def put(ws: workspace.Workspace, name: str, value: Any) -> dict[str, Any]:
    check_name(name)
    checked = check_value(value)

    def change(spec: dict[str, Any]) -> dict[str, Any]:
        new = {key: item for key, item in spec.items() if key != "value"}
        if checked is not None:
            new["value"] = checked
        return new

    return view(await _update(ws, name, change), name)


async def append(ws: workspace.Workspace, name: str, item: Any) -> dict[str, Any]:
    check_name(name)

    def change(spec: dict[str, Any]) -> dict[str, Any]:
        current = spec.get("value")
        if current is None:
            current = []
        if not isinstance(current, list):
            raise errors.SpecError(
                f"Setting {name!r} holds a {type(current).__name__}, not a list: nothing to append to",
                field="value",
            )
        return {**spec, "value": check_value([*current, item])}

    return view(await _update(ws, name, change), name)


async def _holder_alive(ws: workspace.Workspace, holder: str) -> bool:
    try:
        body = await ws.store.get(resources.EXECUTION, holder)
    except errors.NotFound:
        return False
    return not resources.is_terminal(body)


async def try_lock(ws: workspace.Workspace, name: str, execution: str) -> tuple[bool, str | None]:
    """Take the lock for ``execution`` if it is free (or already its own, or its holder ended).
    Returns (acquired, holder). Conditional: of two racing executions only one gets it."""
    check_name(name)

    async def attempt() -> tuple[bool, str | None]:
        body = await _read(ws, name)
        spec = resources.spec(body) if body is not None else {}
        holder = (spec.get("lock") or {}).get("holder")
        if holder == execution:
            return True, execution
        if holder and await _holder_alive(ws, str(holder)):
            return False, str(holder)
        await _write_raced(
            ws, name, body, {**spec, "lock": {"holder": execution, "since": resources.timestamp()}}
        )
        return True, execution

    return await updates.retry_on_conflict(attempt, what=f"Setting {name!r}")


async def unlock(ws: workspace.Workspace, name: str, execution: str) -> None:
    """Release ``execution``'s lock. Raises ``errors.SpecError`` (field ``lock``) when another
    execution, or none, holds it: a release must never free someone else's lock."""
    check_name(name)

    def change(spec: dict[str, Any]) -> dict[str, Any]:
        holder = (spec.get("lock") or {}).get("holder")
        if holder != execution:
            who = f"execution {holder}" if holder else "no execution"
            raise errors.SpecError(f"Setting {name!r} is locked by {who}, not by this one", field="lock")
        return {key: item for key, item in spec.items() if key != "lock"}

    await _update(ws, name, change)
