"""A read-through cache over a ``store.Store``, fed by the store's watch events: an informer.

Why it exists (issue #11): the engine reads before it decides — the SyncConfig and its key
Secrets before every exchange and on every listener request, the executions of a link to
compute an outbox or to find the target of a status message, an execution before a
conditional write. On the API server each read is a request; the watch that drives the engine
(kopf in the operator, ``memstore.watch`` in the embedded mode) already delivers every one of
those objects. ``CachedStore`` keeps what the watch delivered and answers reads from it, in
both modes: the handlers (or the embedded pump) hand every event to ``observe``.

The rules that keep it correct on a real API server, where a watch-fed cache can be stale:

- **Writes always go to the store**, conditional as before (``store.Store``'s promises do not
  change). What a write returns is cached, so the writer's next read sees its own write.
- **A stale cache costs a retry, never a wrong write**: a ``Conflict``, ``AlreadyExists`` or
  ``NotFound`` from the store marks the object, and the next read of it goes to the store
  (never to the cache) before the caller decides again (``updates.retry_on_conflict``).
- **Deletes evict**: a ``DELETED`` event or a delete through this store removes the object.
- **Reads fill it**: a miss reads through. An event that arrives while that read (or a list)
  is in flight wins over its answer, so a delete seen meanwhile is never undone by an older
  answer.
- **Lists** are answered from the cache only for ``listable`` kinds, whose every object the
  watch delivers (Executions, SyncConfigs, Flows). The first list of a kind lists the store
  once (the watch's initial events may not be complete yet) and so does the first after
  ``resync`` seconds: a watch that was re-established can miss a ``DELETED``, and the resync
  drops such ghosts.
- **Never older**: an event or answer whose numeric ``resourceVersion`` is below the cached
  one is ignored (the API server's are etcd revisions; non-numeric ones always replace). An
  event of the very version held is not copied again.
- **No managedFields**: the server-side-apply bookkeeping a real API server adds to every
  object is left out of what is cached (``_owned``).
- **Views** (``view``) hand out the cached bodies themselves, for readers that change and keep
  nothing, and keep named indexes (``where``) up to date with every event and write, so the
  outbox reads the few executions with something to send, not the thousands that have ended.
- ``keep`` says which objects may be cached at all: the operator leaves out the runner
  Secrets, which its Secret watch does not deliver.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final, Literal

from workspace_link.core import errors, resources
from workspace_link.engine import store

#: Seconds after which a list of a listable kind goes to the store again (drops ghosts).
RESYNC: Final = 300.0

Keep = Callable[[str, resources.Body], bool]
#: A test on a body; with a name, what ``CachedStore.view`` keeps an index of (``Where``).
Test = Callable[[resources.Body], bool]
Where = tuple[Hashable, Test]


def _version(body: resources.Body) -> int | None:
    value = (body.get("metadata") or {}).get("resourceVersion")
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _owned(body: resources.Body) -> resources.Body:
    """A copy for the cache, without ``metadata.managedFields``.

    A real API server puts the server-side-apply bookkeeping on every object: a nested map per
    writer of every field it set, often larger than the rest of an Execution. Nothing here reads
    it; kept, it would be copied on every read and walked by every full garbage collection.
    Writing a body without it changes nothing on the server: an update that omits
    managedFields keeps them ("managedFields never get stripped by clients not aware of the
    field", https://kubernetes.io/docs/reference/using-api/server-side-apply/#clearing-managedfields).
    controller-runtime's caches strip it the same way (``TransformStripManagedFields``,
    kubernetes-sigs/controller-runtime#2791)."""
    meta = body.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        body = {**body, "metadata": {key: value for key, value in meta.items() if key != "managedFields"}}
    return resources.copy_body(body)


def _matches(body: resources.Body, wanted: Mapping[str, str] | None) -> bool:
    if not wanted:
        return True
    have = (body.get("metadata") or {}).get("labels") or {}
    return all(have.get(key) == value for key, value in wanted.items())


def _always(_kind: str, _body: resources.Body) -> bool:
    return True


class CachedStore:
    """``store.Store`` over ``backing``, caching ``kinds`` (see the module doc)."""

    def __init__(
        self,
        backing: store.Store,
        *,
        kinds: frozenset[str],
        listable: frozenset[str] = frozenset(),
        keep: Keep = _always,
        resync: float = RESYNC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace = backing.namespace
        self.backing = backing
        self._kinds = kinds
        self._listable = listable & kinds
        self._keep = keep
        self._resync = resync
        self._clock = clock
        self._objects: dict[str, dict[str, resources.Body]] = {kind: {} for kind in kinds}
        #: kind -> the name of a ``view``'s test -> (the test, the objects it passes by name):
        #: built by the first view that names it, kept as objects come and go.
        self._indexes: dict[str, dict[Hashable, tuple[Test, dict[str, resources.Body]]]] = {
            kind: {} for kind in kinds
        }
        #: kind -> when it was last listed from the store.
        self._listed: dict[str, float] = {}
        #: Objects whose next read goes to the store (a write found the cache stale).
        self._fresh: set[tuple[str, str]] = set()
        #: Reads and lists in flight, and the last change seen meanwhile per object.
        self._seq = 0
        self._in_flight = 0
        self._touched: dict[tuple[str, str], int] = {}

    # -- what the watch delivers --------------------------------------------------------
    def caches(self, kind: str, name: str) -> bool:
        """Whether events about this object must reach ``observe`` (it is cached or being read)."""
        return name in self._objects.get(kind, {}) or (self._in_flight > 0 and (kind, name) in self._touched)

    def observe(
        self, type: Literal["ADDED", "MODIFIED", "DELETED"] | str | None, kind: str, body: resources.Body
    ) -> None:
        """A watch event (kopf's ``type`` is None for the objects listed at start)."""
        if kind not in self._kinds:
            return
        if type == "DELETED":
            self._evict(kind, resources.name(body))
            return
        name = resources.name(body)
        held = self._objects[kind].get(name)
        version = (body.get("metadata") or {}).get("resourceVersion")
        if held is not None and version and (held.get("metadata") or {}).get("resourceVersion") == version:
            # The echo of what is held (most events follow this operator's own writes, whose
            # answers are cached already): a resourceVersion names one state of the object.
            self._touch((kind, name))
            return
        self._put(kind, _owned(body))

    def _touch(self, key: tuple[str, str]) -> None:
        self._seq += 1
        if self._in_flight:
            self._touched[key] = self._seq

    def _evict(self, kind: str, name: str) -> None:
        self._touch((kind, name))
        self._drop(kind, name)

    def _drop(self, kind: str, name: str) -> None:
        self._objects[kind].pop(name, None)
        for _test, passed in self._indexes[kind].values():
            passed.pop(name, None)

    def _hold(self, kind: str, name: str, body: resources.Body) -> None:
        self._objects[kind][name] = body
        for test, passed in self._indexes[kind].values():
            if test(body):
                passed[name] = body
            else:
                passed.pop(name, None)

    def _put(self, kind: str, body: resources.Body) -> None:
        """Cache ``body`` (owned by the cache from now on) unless it is older than what is held."""
        name = resources.name(body)
        self._touch((kind, name))
        if not self._keep(kind, body):
            self._drop(kind, name)
            return
        held = self._objects[kind].get(name)
        if held is not None:
            old, new = _version(held), _version(body)
            if old is not None and new is not None and new < old:
                return
        self._hold(kind, name, body)

    def _stale(self, kind: str, name: str) -> None:
        """A write found the cache stale: the next read of the object goes to the store."""
        if kind in self._kinds:
            self._fresh.add((kind, name))

    def _start_fetch(self) -> int:
        self._in_flight += 1
        return self._seq

    def _end_fetch(self) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            self._touched.clear()

    # -- reads ---------------------------------------------------------------------------
    async def get(self, kind: str, name: str) -> resources.Body:
        if kind not in self._kinds:
            return await self.backing.get(kind, name)
        key = (kind, name)
        held = self._objects[kind].get(name)
        if held is not None and key not in self._fresh:
            return resources.copy_body(held)
        self._fresh.discard(key)
        start = self._start_fetch()
        self._touched.setdefault(key, start)  # events about it reach ``observe`` meanwhile
        try:
            body = await self.backing.get(kind, name)
        except errors.NotFound:
            if self._touched.get(key, start) <= start:
                self._objects[kind].pop(name, None)
            raise
        finally:
            seen = self._touched.get(key, start)
            self._end_fetch()
        if seen <= start:
            self._put(kind, _owned(body))
        return body

    async def list(self, kind: str, *, labels: Mapping[str, str] | None = None) -> list[resources.Body]:
        if kind not in self._listable:
            return await self.backing.list(kind, labels=labels)
        return [resources.copy_body(body) for body in await self._held(kind, labels, None)]

    async def view(
        self, kind: str, *, labels: Mapping[str, str] | None = None, where: Where | None = None
    ) -> builtins.list[resources.Body]:
        """``list``, but the cached bodies themselves, not copies: for a reader that neither
        changes nor keeps them (the outbox's selection, before every exchange). The cache never
        changes a body it holds, it replaces it, so what was read stays as read.

        ``where``: (a name, a test): only the bodies that pass the test. The cache keeps an index
        of them under that name, built by the first view that names it and kept as events
        arrive, so a view of a few among thousands looks at the few. One name, one test."""
        if kind not in self._listable:
            found = await self.backing.list(kind, labels=labels)
            return found if where is None else [body for body in found if where[1](body)]
        return await self._held(kind, labels, where)

    async def _held(
        self, kind: str, labels: Mapping[str, str] | None, where: Where | None
    ) -> builtins.list[resources.Body]:
        listed = self._listed.get(kind)
        if listed is None or self._clock() - listed >= self._resync:
            await self._relist(kind)
        held = self._objects[kind]
        if where is not None:
            key, test = where
            index = self._indexes[kind].get(key)
            if index is None:
                index = (test, {name: body for name, body in held.items() if test(body)})
                self._indexes[kind][key] = index
            held = index[1]
        return [body for _, body in sorted(held.items()) if _matches(body, labels)]

    async def _relist(self, kind: str) -> None:
        start = self._start_fetch()
        try:
            items = await self.backing.list(kind)
            touched = dict(self._touched)
        finally:
            self._end_fetch()
        held = self._objects[kind]
        fresh: dict[str, resources.Body] = {}
        for body in items:
            name = resources.name(body)
            if touched.get((kind, name), start) > start or not self._keep(kind, body):
                continue  # an event (or write) since the list began says more
            meta = body.get("metadata")
            if isinstance(meta, dict):
                meta.pop("managedFields", None)  # the list's own objects: no copy (``_owned``)
            fresh[name] = body
        for (touched_kind, name), seq in touched.items():
            if touched_kind == kind and seq > start:
                if name in held:
                    fresh[name] = held[name]
                else:
                    fresh.pop(name, None)
        self._objects[kind] = fresh
        for key, (test, _passed) in self._indexes[kind].items():
            self._indexes[kind][key] = (test, {name: body for name, body in fresh.items() if test(body)})
        self._listed[kind] = self._clock()

    # -- writes --------------------------------------------------------------------------
    async def create(self, kind: str, body: resources.Body) -> resources.Body:
        try:
            written = await self.backing.create(kind, body)
        except errors.AlreadyExists:
            self._stale(kind, str((body.get("metadata") or {}).get("name") or ""))
            raise
        self._written(kind, written)
        return written

    async def patch(
        self, kind: str, name: str, patch: resources.Body, *, resource_version: str | None = None
    ) -> resources.Body:
        try:
            written = await self.backing.patch(kind, name, patch, resource_version=resource_version)
        except (errors.Conflict, errors.NotFound):
            self._stale(kind, name)
            raise
        self._written(kind, written)
        return written

    async def replace_status(self, kind: str, body: resources.Body) -> resources.Body:
        try:
            written = await self.backing.replace_status(kind, body)
        except (errors.Conflict, errors.NotFound):
            self._stale(kind, resources.name(body))
            raise
        self._written(kind, written)
        return written

    async def delete(self, kind: str, name: str, **options: Any) -> None:
        try:
            await self.backing.delete(kind, name, **options)
        finally:
            if kind in self._kinds:
                self._evict(kind, name)

    async def record_event(
        self, body: resources.Body, *, type: Literal["Normal", "Warning"], reason: str, message: str
    ) -> None:
        await self.backing.record_event(body, type=type, reason=reason, message=message)

    def _written(self, kind: str, written: resources.Body) -> None:
        if kind in self._kinds:
            self._fresh.discard((kind, resources.name(written)))
            self._put(kind, _owned(written))
