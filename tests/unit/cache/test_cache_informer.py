"""The engine's cache (``engine.cache``): an informer that may be stale, never wrong.

Reads come from what the watch delivered; a write the store refuses as stale makes the next
read go to the store; deletes evict; an event seen while a read is in flight wins over its
answer; a relist drops what a lost ``DELETED`` left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from workspace_link.adapters.local import memstore
from workspace_link.core import errors, resources
from workspace_link.engine import cache, executions, workspace

EXECUTION = resources.EXECUTION


class Counting:
    """A MemStore that counts the reads reaching it, optionally holding one ``get`` open."""

    def __init__(self, inner: memstore.MemStore) -> None:
        self.inner = inner
        self.namespace = inner.namespace
        self.gets = 0
        self.lists = 0
        self.hold: asyncio.Event | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, kind: str, name: str) -> resources.Body:
        self.gets += 1
        body = await self.inner.get(kind, name)
        if self.hold is not None:
            await self.hold.wait()
        return body

    async def list(self, kind: str, *, labels: Mapping[str, str] | None = None) -> list[resources.Body]:
        self.lists += 1
        return await self.inner.list(kind, labels=labels)


def _stores() -> tuple[memstore.MemStore, Counting, cache.CachedStore]:
    inner = memstore.MemStore("ns")
    counting = Counting(inner)
    return inner, counting, workspace.cached(counting)  # type: ignore[arg-type]


async def test_reads_come_from_the_watch_and_writes_are_seen_by_the_writer() -> None:
    inner, counting, cached = _stores()
    body = await inner.create(EXECUTION, {"metadata": {"name": "e"}, "spec": {"script": "x"}})
    cached.observe("ADDED", EXECUTION, body)
    assert resources.name(await cached.get(EXECUTION, "e")) == "e"
    written = await cached.replace_status(EXECUTION, {**body, "status": {"phase": "Running"}})
    again = await cached.get(EXECUTION, "e")
    assert resources.phase(again) == "Running"
    assert again["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]
    again["status"]["phase"] = "changed by the caller"
    assert resources.phase(await cached.get(EXECUTION, "e")) == "Running"  # callers get copies
    assert counting.gets == 0


async def test_a_conflict_makes_the_next_read_go_to_the_store() -> None:
    inner, counting, cached = _stores()
    body = await inner.create(EXECUTION, {"metadata": {"name": "e"}, "spec": {"script": "x"}})
    cached.observe("ADDED", EXECUTION, body)
    await inner.replace_status(EXECUTION, {**body, "status": {"phase": "Running"}})  # not yet watched
    with pytest.raises(errors.Conflict):
        await cached.replace_status(EXECUTION, {**body, "status": {"phase": "Failed"}})
    cached.observe("MODIFIED", EXECUTION, body)  # a late, old event must not hide the re-read
    fresh = await cached.get(EXECUTION, "e")
    assert counting.gets == 1 and resources.phase(fresh) == "Running"
    await cached.replace_status(EXECUTION, {**fresh, "status": {"phase": "Failed"}})
    assert resources.phase(await cached.get(EXECUTION, "e")) == "Failed"
    assert counting.gets == 1


async def test_an_older_event_never_replaces_a_newer_body() -> None:
    inner, _, cached = _stores()
    old = await inner.create(EXECUTION, {"metadata": {"name": "e"}, "spec": {"script": "x"}})
    new = await cached.replace_status(EXECUTION, {**old, "status": {"phase": "Running"}})
    cached.observe("MODIFIED", EXECUTION, old)
    assert (await cached.get(EXECUTION, "e"))["metadata"]["resourceVersion"] == new["metadata"][
        "resourceVersion"
    ]


async def test_the_echo_of_a_held_version_is_not_copied_and_a_newer_one_replaces_it() -> None:
    inner, _, cached = _stores()
    body = await inner.create(EXECUTION, {"metadata": {"name": "e"}, "spec": {"script": "x"}})
    written = await cached.replace_status(EXECUTION, {**body, "status": {"phase": "Running"}})
    (held,) = await cached.view(EXECUTION)
    cached.observe("MODIFIED", EXECUTION, {**written, "spec": {"script": "echo"}})  # same version
    (still,) = await cached.view(EXECUTION)
    assert still is held and still["spec"]["script"] == "x"
    newer = await inner.replace_status(EXECUTION, {**written, "status": {"phase": "Succeeded"}})
    cached.observe("MODIFIED", EXECUTION, newer)
    (now,) = await cached.view(EXECUTION)
    assert now is not newer and resources.phase(now) == "Succeeded"  # copied: the event is kopf's


async def test_the_cache_keeps_no_managed_fields_from_events_answers_or_lists() -> None:
    inner, _, cached = _stores()
    managed = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {"f:script": {}}}}]
    body = await inner.create(
        EXECUTION, {"metadata": {"name": "e", "managedFields": managed}, "spec": {"script": "x"}}
    )
    cached.observe("ADDED", EXECUTION, body)
    assert "managedFields" not in (await cached.get(EXECUTION, "e"))["metadata"]
    assert body["metadata"]["managedFields"] == managed  # the event's own object is not changed
    other = await cached.create(
        EXECUTION, {"metadata": {"name": "f", "managedFields": managed}, "spec": {"script": "y"}}
    )
    assert other["metadata"]["managedFields"] == managed  # the caller gets the answer as it came
    listed = await cached.list(EXECUTION)  # the first list of the kind goes to the store
    assert [resources.name(b) for b in listed] == ["e", "f"]
    assert all("managedFields" not in b["metadata"] for b in [*listed, *await cached.view(EXECUTION)])
    # What the cache hands out is still written back as it is, script and all.
    written = await cached.replace_status(EXECUTION, {**listed[0], "status": {"phase": "Running"}})
    assert resources.phase(written) == "Running" and written["spec"]["script"] == "x"


async def test_deletes_evict_and_an_event_during_a_read_wins() -> None:
    inner, counting, cached = _stores()
    body = await inner.create(EXECUTION, {"metadata": {"name": "e"}, "spec": {"script": "x"}})
    counting.hold = asyncio.Event()
    reading = asyncio.ensure_future(cached.get(EXECUTION, "e"))
    await asyncio.sleep(0)
    assert cached.caches(EXECUTION, "e")  # events about it must come while it is read
    await inner.delete(EXECUTION, "e")
    cached.observe("DELETED", EXECUTION, body)
    counting.hold.set()
    await reading  # the answer predates the delete: returned, but not cached
    counting.hold = None
    with pytest.raises(errors.NotFound):
        await cached.get(EXECUTION, "e")
    assert not cached.caches(EXECUTION, "e")


async def test_lists_are_served_from_the_cache_after_one_list_and_a_resync_drops_ghosts() -> None:
    inner = memstore.MemStore("ns")
    counting = Counting(inner)
    now = [0.0]
    cached = cache.CachedStore(
        counting,  # type: ignore[arg-type]
        kinds=frozenset({EXECUTION}),
        listable=frozenset({EXECUTION}),
        resync=300.0,
        clock=lambda: now[0],
    )
    first = await inner.create(EXECUTION, {"metadata": {"name": "a", "labels": {"l": "1"}}, "spec": {}})
    assert [resources.name(b) for b in await cached.list(EXECUTION, labels={"l": "1"})] == ["a"]
    second = await inner.create(EXECUTION, {"metadata": {"name": "b", "labels": {"l": "1"}}, "spec": {}})
    cached.observe("ADDED", EXECUTION, second)
    assert [resources.name(b) for b in await cached.list(EXECUTION, labels={"l": "1"})] == ["a", "b"]
    assert counting.lists == 1
    await inner.delete(EXECUTION, resources.name(first))  # its DELETED event is lost
    now[0] = 301.0
    assert [resources.name(b) for b in await cached.list(EXECUTION)] == ["b"]
    assert counting.lists == 2


async def test_a_view_reads_the_cached_bodies_and_keeps_an_index_of_what_it_asks_for() -> None:
    inner, counting, cached = _stores()
    sent = {"remoteWorkspace": "to-b", "flow": "f"}
    link = {"name": "to-b", "localVersion": 1, "acknowledgedVersion": 1}
    live = await inner.create(EXECUTION, {"metadata": {"name": "live"}, "spec": sent})
    live = await inner.replace_status(EXECUTION, {**live, "status": {"phase": "Running", "link": link}})
    done = await inner.create(EXECUTION, {"metadata": {"name": "done"}, "spec": sent})
    done = await inner.replace_status(EXECUTION, {**done, "status": {"phase": "Succeeded", "link": link}})

    names = [resources.name(b) for b in await cached.view(EXECUTION, where=executions.UNSETTLED)]
    assert names == ["live"], "an ended, acknowledged execution is settled"
    viewed = await cached.view(EXECUTION)
    assert [resources.name(b) for b in viewed] == ["done", "live"]
    assert (await cached.view(EXECUTION))[1] is viewed[1], "a view copies nothing"
    assert (await cached.list(EXECUTION))[1] is not viewed[1], "a list still copies"

    # The watch moves an execution in and out of the unsettled ones.
    ended = await inner.replace_status(EXECUTION, {**live, "status": {"phase": "Failed", "link": link}})
    cached.observe("MODIFIED", EXECUTION, ended)
    assert await cached.view(EXECUTION, where=executions.UNSETTLED) == []
    cancel_owed = {**link, "localVersion": 2}
    reopened = await inner.replace_status(
        EXECUTION, {**ended, "status": {"phase": "Failed", "link": cancel_owed}}
    )
    cached.observe("MODIFIED", EXECUTION, reopened)
    assert [resources.name(b) for b in await cached.view(EXECUTION, where=executions.UNSETTLED)] == ["live"]
    cached.observe("DELETED", EXECUTION, reopened)
    assert await cached.view(EXECUTION, where=executions.UNSETTLED) == []
    assert counting.lists == 1


async def test_runner_secrets_are_never_cached() -> None:
    _, counting, cached = _stores()
    secret = {
        "metadata": {"name": "t", "labels": {"app.kubernetes.io/component": "runner-token"}},
        "data": {},
    }
    await cached.create(resources.SECRET, secret)
    await cached.get(resources.SECRET, "t")
    await cached.get(resources.SECRET, "t")
    assert counting.gets == 2
