"""The link loops read their SyncConfig and keys again after a SyncConfig or Secret event only.

Before issue #11's third round, A's sender read and parsed its SyncConfig and keys before every
exchange, and B's listener loop woke on every execution event to do the same. Now both follow
``ws.config_changes``, which only SyncConfig and Secret events move; a changed spec still ends
the session at once. Two embedded workspaces over real HTTPS, real flow processes; the
dialer's read of the config (``dialer._current``) is counted, and still does its work.
"""

from __future__ import annotations

import asyncio
import collections

import pytest
from link_harness import Linked, wait_until

from workspace_link.core import resources
from workspace_link.engine import dialer


@pytest.fixture
def config_reads(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    reads: collections.Counter[str] = collections.Counter()
    real = dialer._current

    async def counting(ws, name):  # type: ignore[no-untyped-def]
        reads[ws.namespace] += 1
        return await real(ws, name)

    monkeypatch.setattr(dialer, "_current", counting)
    return reads


async def _one_execution_over_a_new_link(linked: Linked, name: str) -> None:
    """Link A to B and run one remote execution to its end: both link loops are going."""
    await linked.load_flows("a")
    await linked.link()
    await linked.run(name, "hello", remoteWorkspace="link-to-b")
    await linked.finished(name)


async def test_executions_over_a_link_do_not_make_the_link_loops_read_their_config(
    linked: Linked, config_reads: collections.Counter[str]
) -> None:
    await _one_execution_over_a_new_link(linked, "warm-up")
    config_reads.clear()
    events = {side: linked.sides[side].ws.config_changes.counter for side in ("a", "b")}

    count = 8
    for i in range(count):
        await linked.run(f"remote-{i}", "hello", remoteWorkspace="link-to-b", inputs={"name": str(i)})
    for i in range(count):
        assert resources.phase(await linked.finished(f"remote-{i}")) == "Succeeded"

    for side, namespace in (("a", "ws-a"), ("b", "ws-b")):
        config_events = linked.sides[side].ws.config_changes.counter - events[side]
        # The link reporters' own SyncConfig status writes are the only config events here.
        assert config_events < count, (side, config_events)
        assert config_reads[namespace] <= config_events + 1, (side, config_reads, config_events)


async def test_a_changed_spec_is_still_read_before_the_next_exchange(
    linked: Linked, config_reads: collections.Counter[str]
) -> None:
    await _one_execution_over_a_new_link(linked, "first")
    config_reads.clear()

    await linked.stores["a"].patch(resources.SYNC_CONFIG, "link-to-b", {"spec": {"enabled": False}})

    async def read_again() -> bool:
        return config_reads["ws-a"] >= 1

    await wait_until(linked.a, read_again)
    # Disabled: a new remote execution is not sent...
    await linked.run("held", "hello", remoteWorkspace="link-to-b")
    await asyncio.sleep(1.0)
    held = await linked.stores["a"].get(resources.EXECUTION, "held")
    assert not resources.status(held).get("link"), resources.status(held)
    assert len(await linked.stores["b"].list(resources.EXECUTION)) == 1  # "first" only
    # ...until the link is enabled again.
    await linked.stores["a"].patch(resources.SYNC_CONFIG, "link-to-b", {"spec": {"enabled": True}})
    assert resources.phase(await linked.finished("held")) == "Succeeded"
