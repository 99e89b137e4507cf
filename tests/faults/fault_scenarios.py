"""Scenarios the fault tests assert on and bench/bench_faults.py reports: remote executions
sent from A to B through a ``FaultProxy``, and what a user would count afterwards."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from pathlib import Path

from fault_helpers import COUNTING_SCRIPT, rss_bytes, runs
from fault_proxy import FaultProxy
from link_harness import Linked

from workspace_link.adapters import metrics
from workspace_link.core import labels, resources


@dataclasses.dataclass
class Figures:
    fault: str
    sent: int = 0
    completed: int = 0
    lost: int = 0
    duplicated: int = 0
    run_twice: int = 0
    server_errors: int = 0
    peak_rss_mib: float = 0.0
    seconds: float = 0.0
    connections: dict[str, int] = dataclasses.field(default_factory=dict)


def _server_error_refusals() -> float:
    # Every 5xx the listener answers is a refusal with one of these reasons.
    return sum(metrics.SYNC_REFUSALS.labels(reason=r)._value.get() for r in ("internal", "unavailable"))


async def run_through_proxy(
    linked: Linked, fault: str, *, executions: int, tally: Path, timeout: float = 120.0
) -> Figures:
    """Link A to B through a proxy injecting ``fault``; send ``executions`` counting flows."""
    proxy = FaultProxy(linked.b.sync_port, fault)
    await proxy.start()
    figures = Figures(fault=fault)
    errors_before = _server_error_refusals()
    started = time.monotonic()
    peak = rss_bytes()
    try:
        await linked.stores["a"].create(
            resources.FLOW, {"metadata": {"name": "count"}, "spec": {"script": COUNTING_SCRIPT}}
        )
        linked.b.sync_url = f"https://127.0.0.1:{proxy.port}"  # what A's remoteUrl will name
        await linked.link()
        names = [f"{fault}-{i}" for i in range(executions)]
        for name in names:
            await linked.run(
                name, "count", remoteWorkspace="link-to-b", inputs={"tally": str(tally), "id": name}
            )
        figures.sent = len(names)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            bodies = [await linked.stores["a"].get(resources.EXECUTION, n) for n in names]
            peak = max(peak, rss_bytes())
            if all(resources.is_terminal(b) for b in bodies):
                break
            await asyncio.sleep(0.2)
        bodies = [await linked.stores["a"].get(resources.EXECUTION, n) for n in names]
        figures.completed = sum(resources.phase(b) == "Succeeded" for b in bodies)
        figures.lost = figures.sent - figures.completed
        received = await linked.stores["b"].list(resources.EXECUTION)
        per_origin = collections.Counter(resources.labels(r).get(labels.ORIGIN_UID) for r in received)
        figures.duplicated = sum(count - 1 for count in per_origin.values())
        figures.run_twice = sum(count - 1 for count in collections.Counter(runs(tally)).values())
    finally:
        await proxy.close()
    figures.server_errors = int(_server_error_refusals() - errors_before)
    figures.peak_rss_mib = round(peak / 1024 / 1024, 1)
    figures.seconds = round(time.monotonic() - started, 1)
    figures.connections = dict(proxy.counts)
    return figures
