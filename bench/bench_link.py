"""The link on loopback: dispatch latency, status round trip, executions per second, mirroring.

Each measurement builds a fresh ``bench_common.Pair`` (A dials B over HTTPS on 127.0.0.1), so
one does not inherit the store of another. Every figure is wall-clock time on one event loop
holding both workspaces, as the embedded mode runs them.

- dispatch latency: ``store.create`` of an Execution with ``remoteWorkspace`` in A -> B's watch
  sees the Execution it creates from the start message. The link is idle before each sample
  (the long-poll is held), so this is the on-change path: A's store event wakes the sender.
- status round trip: B's execution ends (``runner_calls.end`` in B, what a runner's
  ``POST /v1/end`` does) -> A's watch sees its execution Succeeded. B's store change ends the
  held long-poll, whose answer carries the status.
- executions per second: N executions created in A at once; B's harness executor ends each
  Succeeded as soon as it is claimed; from the first create to the last Succeeded seen in A.
- mirror: N finished executions already in A's store when the SyncConfig with
  ``sendAllExecutions`` appears; from then until B holds N mirrors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

import bench_common

from workspace_link.adapters.local import memstore
from workspace_link.core import labels, resources
from workspace_link.engine import runner_calls, store


@dataclasses.dataclass(frozen=True)
class Latencies:
    dispatch: list[float]
    status: list[float]


class _Arrivals:
    """Times at which a watched store first showed something, keyed by what the caller asks."""

    def __init__(self, watched: store.WatchableStore, key: object) -> None:
        self.seen: dict[str, float] = {}
        self.changed = asyncio.Event()
        self._key = key
        self._task = asyncio.ensure_future(self._follow(watched))

    async def _follow(self, watched: store.WatchableStore) -> None:
        async for event in watched.watch(frozenset({resources.EXECUTION})):
            found = self._key(event)  # type: ignore[operator]
            if found and found not in self.seen:
                self.seen[found] = time.perf_counter()
                self.changed.set()

    async def wait_for(self, key: str, seconds: float = 60.0) -> float:
        deadline = time.monotonic() + seconds
        while key not in self.seen:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{key} never arrived")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                continue
        return self.seen[key]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _received_origin(event: store.WatchEvent) -> str | None:
    """In B: the origin uid of a received execution (its label), on its first appearance."""
    return resources.labels(event.body).get(labels.ORIGIN_UID) if event.type == "ADDED" else None


def _succeeded(event: store.WatchEvent) -> str | None:
    return resources.name(event.body) if resources.phase(event.body) == resources.SUCCEEDED else None


async def _quiet(pair: bench_common.Pair, name: str) -> None:
    """Until A's execution ``name`` and its copy in B have exchanged all they have to say."""

    async def check() -> bool:
        a_body = await pair.a.store.get(resources.EXECUTION, name)
        link = resources.status(a_body).get("link") or {}
        remote = link.get("remoteName")
        if not remote or int(link.get("acknowledgedVersion") or 0) < 1:
            return False
        b_status = resources.status(await pair.b.store.get(resources.EXECUTION, remote))
        version = int(b_status.get("version") or 0)
        origin = b_status.get("origin") or {}
        # B holds A's ack of a live status in memory (docs/protocol.md §4), writes a final one.
        held = pair.b.ws.held_acks.of(str(origin.get("link") or "")).get(str(origin.get("uid") or ""), 0)
        acked = max(int(origin.get("acknowledgedVersion") or 0), held)
        return version >= 1 and acked >= version and int(link.get("remoteVersion") or 0) >= version

    await bench_common.wait_until(pair.a, check)
    # Let the dialer's long-poll go back to its hold: samples start from an idle link.
    await asyncio.sleep(0.05)


async def _dispatch(pair: bench_common.Pair, in_b: _Arrivals, name: str) -> float:
    """Seconds from creating ``name`` in A until B's watch shows the execution it created."""
    started = time.perf_counter()
    body = await pair.remote(name)
    return await in_b.wait_for(resources.uid(body)) - started


async def latencies(sizes: bench_common.Sizes) -> Latencies:
    pair = bench_common.Pair(sizes, finish=False)
    await pair.start()
    in_b = _Arrivals(pair.b.store, _received_origin)
    in_a = _Arrivals(pair.a.store, _succeeded)
    try:
        await bench_common.warm_up(pair)
        dispatch, status = [], []
        for i in range(sizes.latency_samples):
            name = f"lat-{i}"
            dispatch.append(await _dispatch(pair, in_b, name))
            await _quiet(pair, name)

            remote = (resources.status(await pair.a.store.get(resources.EXECUTION, name))["link"])[
                "remoteName"
            ]
            started = time.perf_counter()
            await runner_calls.end(pair.b.ws, remote, resources.SUCCEEDED, "ended by the benchmark", None)
            back = await in_a.wait_for(name)
            status.append(back - started)
            await _quiet(pair, name)
        return Latencies(dispatch=dispatch, status=status)
    finally:
        await in_b.close()
        await in_a.close()
        await pair.stop()


async def throughput(sizes: bench_common.Sizes) -> tuple[int, float]:
    """(executions, seconds from the first create in A to the last Succeeded seen in A)."""
    pair = bench_common.Pair(sizes, finish=True)
    await pair.start()
    in_a = _Arrivals(pair.a.store, _succeeded)
    try:
        await bench_common.warm_up(pair)
        await in_a.wait_for("warm-up")
        count = sizes.throughput_executions
        started = time.perf_counter()
        for i in range(count):
            await pair.remote(f"run-{i}")
        ended = [await in_a.wait_for(f"run-{i}", seconds=600.0) for i in range(count)]
        return count, max(ended) - started
    finally:
        await in_a.close()
        await pair.stop()


async def history(sizes: bench_common.Sizes) -> tuple[int, list[float]]:
    """(N, dispatch latencies) once N remote executions have ended over the link: every exchange
    reads the executions of its link, so what has ended must cost nothing (``outbox.settled``)."""
    pair = bench_common.Pair(sizes, finish=True)
    await pair.start()
    in_a = _Arrivals(pair.a.store, _succeeded)
    in_b = _Arrivals(pair.b.store, _received_origin)
    try:
        await bench_common.warm_up(pair)
        await in_a.wait_for("warm-up")
        count = sizes.mirror_executions
        for i in range(count):
            await pair.remote(f"past-{i}")
        for i in range(count):
            await in_a.wait_for(f"past-{i}", seconds=1200.0)
        await _quiet(pair, f"past-{count - 1}" if count else "warm-up")
        dispatch = []
        for i in range(sizes.latency_samples):
            name = f"after-{i}"
            dispatch.append(await _dispatch(pair, in_b, name))
            await in_a.wait_for(name)
            await _quiet(pair, name)
        return count, dispatch
    finally:
        await in_a.close()
        await in_b.close()
        await pair.stop()


async def mirror(sizes: bench_common.Sizes) -> tuple[int, float]:
    """(executions, seconds from the SyncConfigs' creation until B holds them all as mirrors)."""
    count = sizes.mirror_executions
    a_store = memstore.MemStore("bench-a")
    for i in range(count):
        await a_store.create(
            resources.EXECUTION,
            {
                "metadata": {"name": f"past-{i:05d}"},
                "spec": {"flow": bench_common.NOOP_FLOW, "inputs": {"i": i}},
                "status": {
                    "phase": resources.SUCCEEDED,
                    "reason": "Completed",
                    "message": "ok",
                    "outputs": {"i": i},
                    "startTime": "2024-01-01T00:00:00Z",
                    "endTime": "2024-01-01T00:00:01Z",
                    "version": 3,
                },
            },
        )
    pair = bench_common.Pair(sizes, finish=True, a_store=a_store)
    await pair.b.start()
    await pair.a.start()
    mirrors: set[str] = set()
    done = asyncio.Event()

    async def count_mirrors() -> None:
        async for event in pair.b.store.watch(frozenset({resources.EXECUTION})):
            if event.type == "ADDED" and resources.spec(event.body).get("mirror"):
                mirrors.add(resources.name(event.body))
                if len(mirrors) >= count:
                    done.set()

    counter = asyncio.ensure_future(count_mirrors())
    try:
        await asyncio.sleep(0)
        started = time.perf_counter()
        await pair.link(send_all=True)
        await asyncio.wait_for(done.wait(), 1800.0)
        return count, time.perf_counter() - started
    finally:
        counter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await counter
        await pair.stop()


if __name__ == "__main__":
    sizes = bench_common.QUICK
    found = asyncio.run(latencies(sizes))
    print("dispatch", bench_common.ms(bench_common.median(found.dispatch)))
    print("status", bench_common.ms(bench_common.median(found.status)))
    n, seconds = asyncio.run(throughput(sizes))
    print(f"throughput {n / seconds:.1f}/s ({n} in {seconds:.2f} s)")
    n, seconds = asyncio.run(mirror(dataclasses.replace(sizes, mirror_executions=2000)))
    print(f"mirror {n} in {seconds:.2f} s")
