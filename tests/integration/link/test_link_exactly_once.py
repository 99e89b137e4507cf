"""Exactly-once in effect: restarts of either side and two dialers on one store run each child once."""

from __future__ import annotations

import collections
from pathlib import Path

from link_harness import SETTINGS, Linked, wait_until

from workspace_link.adapters.local import embedded
from workspace_link.core import labels, resources


async def remote_hello(linked: Linked, name: str) -> None:
    await linked.run(name, "hello", remoteWorkspace="link-to-b", inputs={"name": name})


async def all_finished(linked: Linked, names: list[str]) -> dict[str, resources.Body]:
    async def done() -> dict[str, resources.Body] | None:
        bodies = {n: await linked.stores["a"].get(resources.EXECUTION, n) for n in names}
        return bodies if all(resources.is_terminal(b) for b in bodies.values()) else None

    return await wait_until(linked.a, done, timeout=60)


async def assert_once_in_b(linked: Linked, origins: dict[str, resources.Body]) -> None:
    received = await linked.stores["b"].list(resources.EXECUTION)
    by_origin = collections.Counter(resources.labels(r)[labels.ORIGIN_UID] for r in received)
    assert sorted(by_origin) == sorted(resources.uid(b) for b in origins.values())
    assert set(by_origin.values()) == {1}
    # Each received execution was claimed (its runner started) exactly once.
    started = collections.Counter(e["name"] for e in linked.stores["b"].events if e["reason"] == "Started")
    assert sorted(started) == sorted(resources.name(r) for r in received)
    assert set(started.values()) == {1}
    for name, body in origins.items():
        status = resources.status(body)
        assert status["phase"] == "Succeeded", (name, status)
        assert status["outputs"] == {"greeting": f"hello, {name}"}


async def test_restarting_either_side_between_exchanges_loses_and_repeats_nothing(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.link()
    await remote_hello(linked, "first")
    await all_finished(linked, ["first"])
    await linked.restart("a")
    await linked.restart("b")
    await remote_hello(linked, "second")
    finished = await all_finished(linked, ["first", "second"])
    await assert_once_in_b(linked, finished)


async def test_restarting_both_sides_during_exchanges_still_runs_each_child_once(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.link()
    names = [f"burst-{i}" for i in range(4)]
    for name in names:
        await remote_hello(linked, name)
    # Mid-flight: starts may be applied in B with their acks lost, statuses may be half-delivered.
    await linked.restart("b")
    await linked.restart("a")

    async def some_received() -> bool:
        return bool(await linked.stores["b"].list(resources.EXECUTION))

    await wait_until(linked.a, some_received)
    await linked.restart("a")
    finished = await all_finished(linked, names)
    await assert_once_in_b(linked, finished)


async def test_two_dialer_instances_on_one_store_run_each_child_once(linked: Linked, tmp_path: Path) -> None:
    await linked.load_flows("a")
    await linked.link()
    second = embedded.EmbeddedWorkspace(
        "ws-a", settings=SETTINGS, store=linked.stores["a"], log_dir=tmp_path / "a2"
    )
    second.sync_ssl_context = linked.server_context()
    await second.start()
    try:
        names = [f"twice-{i}" for i in range(4)]
        for name in names:
            await remote_hello(linked, name)
        finished = await all_finished(linked, names)
        await assert_once_in_b(linked, finished)
    finally:
        await second.stop()
