"""An in-memory store with the API server's semantics where the core depends on them.

uids, a monotonically increasing ``resourceVersion``, ``generation`` bumped on spec changes,
conditional writes failing with ``errors.Conflict`` when the resourceVersion is stale,
``AlreadyExists`` on a taken name, label-equality lists, ownerReference garbage collection,
and watch streams. A "restart" of an embedded workspace keeps its ``MemStore`` (as etcd would)
and throws away everything else.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from workspace_link.core import errors, resources
from workspace_link.engine import store


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        elif isinstance(value, Mapping):
            result[key] = _merge({}, value)
        else:
            result[key] = resources.copy_json(value)
    return result


class MemStore:
    """One namespace of objects in memory. Safe for one event loop."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._objects: dict[tuple[str, str], resources.Body] = {}
        self._versions = itertools.count(1)
        self._watchers: list[tuple[frozenset[str] | None, asyncio.Queue[store.WatchEvent]]] = []
        self.events: list[dict[str, str]] = []

    # -- reads ---------------------------------------------------------------------------
    async def get(self, kind: str, name: str) -> resources.Body:
        try:
            return resources.copy_body(self._objects[kind, name])
        except KeyError:
            raise errors.NotFound(f"{kind} {name!r} not found in {self.namespace}") from None

    async def list(self, kind: str, *, labels: Mapping[str, str] | None = None) -> list[resources.Body]:
        found = []
        for (k, _), body in sorted(self._objects.items()):
            if k != kind:
                continue
            have = body["metadata"].get("labels") or {}
            if labels and any(have.get(key) != value for key, value in labels.items()):
                continue
            found.append(resources.copy_json(body))
        return found

    # -- writes --------------------------------------------------------------------------
    async def create(self, kind: str, body: resources.Body) -> resources.Body:
        name = body.get("metadata", {}).get("name")
        if not name:
            raise errors.SpecError("is required", field="metadata.name")
        if (kind, name) in self._objects:
            raise errors.AlreadyExists(f"{kind} {name!r} already exists in {self.namespace}")
        obj = resources.copy_json(body)
        api_version, _ = resources.API.get(kind, ("v1", ""))
        obj.setdefault("apiVersion", api_version)
        obj["kind"] = kind
        meta = obj.setdefault("metadata", {})
        meta.update(
            namespace=self.namespace,
            uid=str(uuid.uuid4()),
            resourceVersion=str(next(self._versions)),
            generation=1,
            creationTimestamp=resources.timestamp(),
        )
        self._objects[kind, name] = obj
        self._notify("ADDED", kind, obj)
        return resources.copy_body(obj)

    async def patch(
        self, kind: str, name: str, patch: resources.Body, *, resource_version: str | None = None
    ) -> resources.Body:
        current = self._current(kind, name, resource_version)
        allowed = {k: v for k, v in patch.items() if k in ("metadata", "spec", "data", "stringData")}
        merged = _merge(current, allowed)
        merged["metadata"]["uid"] = current["metadata"]["uid"]
        merged["metadata"]["name"] = name
        if merged.get("spec") != current.get("spec"):
            merged["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        return self._commit(kind, merged)

    async def replace_status(self, kind: str, body: resources.Body) -> resources.Body:
        name = body["metadata"]["name"]
        current = self._current(kind, name, body["metadata"].get("resourceVersion"))
        updated = resources.copy_json(current)
        updated["status"] = resources.copy_json(body.get("status") or {})
        return self._commit(kind, updated)

    async def delete(self, kind: str, name: str) -> None:
        body = self._current(kind, name, None)
        del self._objects[kind, name]
        self._notify("DELETED", kind, body)
        owner_uid = body["metadata"]["uid"]
        for (k, n), other in list(self._objects.items()):
            owners = other["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == owner_uid for ref in owners):
                await self.delete(k, n)

    async def record_event(
        self, body: resources.Body, *, type: Literal["Normal", "Warning"], reason: str, message: str
    ) -> None:
        self.events.append(
            {
                "kind": str(body.get("kind", "")),
                "name": resources.name(body),
                "type": type,
                "reason": reason,
                "message": message,
            }
        )

    # -- watch ---------------------------------------------------------------------------
    async def watch(self, kinds: frozenset[str] | None = None) -> AsyncIterator[store.WatchEvent]:
        queue: asyncio.Queue[store.WatchEvent] = asyncio.Queue()
        entry = (kinds, queue)
        self._watchers.append(entry)
        try:
            for (kind, _), body in sorted(self._objects.items()):
                if kinds is None or kind in kinds:
                    queue.put_nowait(store.WatchEvent("ADDED", kind, resources.copy_json(body)))
            while True:
                yield await queue.get()
        finally:
            self._watchers.remove(entry)

    # -- internals -----------------------------------------------------------------------
    def _current(self, kind: str, name: str, resource_version: str | None) -> resources.Body:
        try:
            current = self._objects[kind, name]
        except KeyError:
            raise errors.NotFound(f"{kind} {name!r} not found in {self.namespace}") from None
        if resource_version is not None and current["metadata"]["resourceVersion"] != resource_version:
            raise errors.Conflict(
                f"{kind} {name!r} was modified (resourceVersion {resource_version} is stale,"
                f" now {current['metadata']['resourceVersion']})"
            )
        return current

    def _commit(self, kind: str, body: resources.Body) -> resources.Body:
        body["metadata"]["resourceVersion"] = str(next(self._versions))
        self._objects[kind, body["metadata"]["name"]] = body
        self._notify("MODIFIED", kind, body)
        return resources.copy_body(body)

    def _notify(self, type_: store.EventType, kind: str, body: resources.Body) -> None:
        for kinds, queue in self._watchers:
            if kinds is None or kind in kinds:
                queue.put_nowait(store.WatchEvent(type_, kind, resources.copy_json(body)))
