"""Mirrors, both directions, reverse dial, interval batching and on-change delivery without a tick."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import trustme
from link_harness import Identity, Linked, wait_until

from workspace_link.core import labels, resources


async def mirrors_in_b(linked: Linked) -> dict[str, resources.Body]:
    found = await linked.stores["b"].list(resources.EXECUTION)
    return {r["spec"]["mirror"]["originName"]: r for r in found if resources.spec(r).get("mirror")}


async def test_send_all_mirrors_past_and_later_executions_and_nothing_comes_back(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.run("past-1", "hello", inputs={"name": "p"})
    await linked.finished("past-1")
    await linked.link(dialer_spec={"sendAllExecutions": True})
    await linked.run("later-1", "hello", inputs={"name": "l"})
    await linked.finished("later-1")
    await linked.run("remote-1", "hello", remoteWorkspace="link-to-b", inputs={"name": "r"})
    await linked.finished("remote-1")

    async def mirrored() -> dict[str, resources.Body] | None:
        found = await mirrors_in_b(linked)
        done = {n: b for n, b in found.items() if resources.phase(b) == "Succeeded"}
        return found if set(done) == {"past-1", "later-1"} else None

    found = await wait_until(linked.a, mirrored)
    later = found["later-1"]
    assert resources.status(later)["outputs"] == {"greeting": "hello, l"}
    assert resources.status(later)["origin"]["workspace"] == "ws-a"
    assert resources.labels(later)[labels.COMPONENT] == "mirror"
    # The execution sent over the link is there as itself, not as a mirror.
    assert "remote-1" not in found
    # A mirror is never run in B, and nothing from B is mirrored back to A.
    assert not [
        e
        for e in linked.stores["b"].events
        if e["reason"] == "Started" and e["name"] == resources.name(later)
    ]
    assert [
        e for e in await linked.stores["a"].list(resources.EXECUTION) if resources.spec(e).get("mirror")
    ] == []


async def test_without_send_all_nothing_is_mirrored(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.run("past-1", "hello")
    await linked.finished("past-1")
    await linked.link()
    await linked.run("remote-1", "hello", remoteWorkspace="link-to-b")
    await linked.finished("remote-1")
    assert await mirrors_in_b(linked) == {}
    assert len(await linked.stores["b"].list(resources.EXECUTION)) == 1


async def test_bidirectional_control_with_two_pairs_of_sync_configs(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.load_flows("b")
    await linked.link()  # A controls B: link-to-b (A dials) / link-to-a (B listens)
    await linked.link(dialer="b", dialer_config="b-to-a", listener_config="a-from-b")  # B controls A
    await linked.run("a-asks-b", "hello", remoteWorkspace="link-to-b", inputs={"name": "from-a"})
    await linked.run("b-asks-a", "hello", side="b", remoteWorkspace="b-to-a", inputs={"name": "from-b"})
    a_done = await linked.finished("a-asks-b")
    b_done = await linked.finished("b-asks-a", side="b")
    assert resources.status(a_done)["outputs"] == {"greeting": "hello, from-a"}
    assert resources.status(b_done)["outputs"] == {"greeting": "hello, from-b"}
    received_in_a = await linked.stores["a"].list(
        resources.EXECUTION, labels={labels.ORIGIN_LINK: "a-from-b"}
    )
    received_in_b = await linked.stores["b"].list(
        resources.EXECUTION, labels={labels.ORIGIN_LINK: "link-to-a"}
    )
    assert len(received_in_a) == 1 and len(received_in_b) == 1


async def test_reverse_dial_the_controlled_side_dials_and_receives_its_work(linked: Linked) -> None:
    await linked.load_flows("a")
    # A controls but only listens (the example flow names the link "link-to-b"); B dials out.
    await linked.link(
        dialer="b",
        dialer_config="link-to-a",
        listener_config="link-to-b",
        dialer_spec={"role": "Controlled"},
        listener_spec={"role": "Controlling"},
    )
    await linked.run("main-1", "main")
    parent = await linked.finished("main-1")
    assert resources.phase(parent) == "Succeeded", resources.status(parent)
    (child,) = await linked.stores["a"].list(resources.EXECUTION, labels={labels.PARENT: "main-1"})
    assert resources.status(child)["outputs"] == {"greeting": "hello, x"}
    assert [e for _, name, e in linked.exchanges if name == "link-to-a"]  # B opened the exchanges
    assert not [e for side, _, e in linked.exchanges if side == "a"]


class Ticks:
    """A clock for link loops: interval waits return only when the test ticks; short waits
    (backoff) pass through; the calls are recorded."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.ticks: asyncio.Queue[None] = asyncio.Queue()
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if seconds >= self.interval:
            await self.ticks.get()
        else:
            await asyncio.sleep(seconds)


async def test_interval_mode_batches_several_starts_into_one_exchange(
    tls: trustme.CA, identities: dict[str, Identity], tmp_path: Path
) -> None:
    ticks = Ticks(interval=3600)
    linked = Linked(tls, identities, tmp_path)
    await linked.start("b")
    await linked.start("a", sleep=ticks)
    try:
        await linked.load_flows("a")
        names = [f"batch-{i}" for i in range(3)]
        for name in names:
            await linked.run(name, "hello", remoteWorkspace="link-to-b")

        async def all_waiting_to_be_sent() -> bool:
            bodies = [await linked.stores["a"].get(resources.EXECUTION, n) for n in names]
            # Labelled for the link: what the dialer selects (no status is written before sending).
            return all(resources.labels(b).get(labels.REMOTE_LINK) == "link-to-b" for b in bodies)

        await wait_until(linked.a, all_waiting_to_be_sent)
        await linked.link(dialer_spec={"syncInterval": 3600})

        async def received(count: int) -> bool:
            return len(await linked.stores["b"].list(resources.EXECUTION)) == count

        async def exchanged(executions: int, exchanges: int) -> bool:
            # B's create lands before A records the exchange that carried it.
            done = sum(side == "a" for side, _, _ in linked.exchanges)
            return await received(executions) and done >= exchanges

        await wait_until(linked.a, lambda: exchanged(3, 1))
        sent = [result.sent for side, _, result in linked.exchanges if side == "a"]
        assert sent == [3]  # one exchange carried all three starts

        # A start made now waits for the next interval: the loop is parked on the clock.
        await linked.run("late-1", "hello", remoteWorkspace="link-to-b")
        await wait_until(linked.a, lambda: _labelled_for_the_link(linked, "late-1"))
        assert len(linked.exchanges) == 1 and await received(3)
        ticks.ticks.put_nowait(None)
        await wait_until(linked.a, lambda: exchanged(4, 2))
        assert [result.sent for _, _, result in linked.exchanges] == [3, 1]
    finally:
        await linked.close()


async def _labelled_for_the_link(linked: Linked, name: str) -> bool:
    body = await linked.stores["a"].get(resources.EXECUTION, name)
    return resources.labels(body).get(labels.REMOTE_LINK) == "link-to-b"


class Frozen:
    """A clock that never moves: any interval, backoff or periodic check would hang on it."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> Any:
        self.calls.append(seconds)
        await asyncio.Event().wait()


async def test_on_change_mode_delivers_without_any_tick(
    tls: trustme.CA, identities: dict[str, Identity], tmp_path: Path
) -> None:
    frozen = Frozen()
    linked = Linked(tls, identities, tmp_path)
    await linked.start("b")
    await linked.start("a", sleep=frozen)
    try:
        await linked.load_flows("a")
        await linked.link()
        await linked.run("now-1", "hello", remoteWorkspace="link-to-b", inputs={"name": "now"})
        # Delivered there and back while every clock-driven wait of A's link is frozen; the
        # status comes back through the held long-poll, answered on B's change (a hold of
        # 20 s running out would exceed this wait).
        done = await linked.finished("now-1", timeout=15)
        assert resources.status(done)["outputs"] == {"greeting": "hello, now"}
        assert all(seconds >= 1 for seconds in frozen.calls)  # only the lost-peer check, parked
    finally:
        await linked.close()
