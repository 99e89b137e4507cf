"""A brief API server outage does not end a link: it backs off and carries on.

On a real cluster the API server answers 429/5xx or times out now and then. The link reads its
SyncConfig, its keys and what to send from the engine's cache (``engine.cache``), but every
write it makes (acks, the peer's statuses) goes to the store, and so do the reads that follow a
stale cache: such a failure must cost a retry, not the link (kopf would restart a failed daemon
only a minute later, and the lost-peer check would silently stop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from link_harness import Linked, wait_until

from workspace_link.adapters.local import memstore
from workspace_link.core import errors, labels, resources

_REMOTE_LINK = labels.REMOTE_LINK  # ``list`` has a parameter named labels


class FlakyStore:
    """A MemStore whose reads and writes of link state fail ``failures`` times, as an API server
    blip would: reads of SyncConfigs and of a link's executions, and the status writes that
    record what the peer said (acks, its statuses)."""

    def __init__(self, inner: memstore.MemStore) -> None:
        self._inner = inner
        self.failures = 0
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _blip(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            self.failed += 1
            raise errors.StoreUnavailable(
                "the API server failed to answer (HTTP 503): etcdserver: leader changed"
            )

    async def get(self, kind: str, name: str) -> resources.Body:
        if kind == resources.SYNC_CONFIG:
            self._blip()
        return await self._inner.get(kind, name)

    async def list(self, kind: str, *, labels: Mapping[str, str] | None = None) -> list[resources.Body]:
        if kind == resources.EXECUTION and labels and set(labels) == {_REMOTE_LINK}:
            self._blip()
        return await self._inner.list(kind, labels=labels)

    async def replace_status(self, kind: str, body: resources.Body) -> resources.Body:
        link = resources.link_status(body)
        if kind == resources.EXECUTION and (link.get("acknowledgedVersion") or link.get("remoteVersion")):
            self._blip()
        return await self._inner.replace_status(kind, body)


async def test_the_link_survives_store_failures_and_delivers_afterwards(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.stop("a")
    flaky = FlakyStore(linked.stores["a"])
    linked.stores["a"] = flaky  # type: ignore[assignment]
    await linked.start("a")
    await linked.link()
    await linked.run("first", "hello", remoteWorkspace="link-to-b", inputs={"name": "one"})
    assert resources.phase(await linked.finished("first")) == "Succeeded"

    flaky.failures = 12  # the next dozen reads or writes of the link's state fail
    await linked.run("second", "hello", remoteWorkspace="link-to-b", inputs={"name": "two"})

    async def outage_over() -> bool:
        return flaky.failures == 0

    await wait_until(linked.a, outage_over)
    done = await linked.finished("second")
    assert resources.phase(done) == "Succeeded", resources.status(done)
    assert flaky.failed == 12
