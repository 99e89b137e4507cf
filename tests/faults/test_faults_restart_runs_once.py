"""Case 6: a full restart of an embedded workspace runs no script twice: a lost run fails RunLost."""

from __future__ import annotations

import collections
import time
from pathlib import Path

from workspace_link.adapters.local import embedded, memstore
from workspace_link.core import resources

COUNT_AND_LINGER = """
import time

def handler(system, this, inputs):
    with open(inputs["tally"], "a") as handle:
        handle.write(inputs["id"] + "\\n")
    time.sleep(inputs["linger"])
    return this.success("counted")
"""
EXECUTIONS = 8


async def test_executions_running_at_a_restart_fail_run_lost_and_none_runs_twice(tmp_path: Path) -> None:
    store = memstore.MemStore("ns-restart")
    tally = tmp_path / "tally"
    first = embedded.EmbeddedWorkspace("ns-restart", store=store, log_dir=tmp_path / "1", grace_period=1.0)
    await first.start()
    try:
        await store.create(
            resources.FLOW, {"metadata": {"name": "count"}, "spec": {"script": COUNT_AND_LINGER}}
        )
        names = [f"run-{i}" for i in range(EXECUTIONS)]
        for name in names:
            await store.create(
                resources.EXECUTION,
                {
                    "metadata": {"name": name},
                    "spec": {"flow": "count", "inputs": {"tally": str(tally), "id": name, "linger": 600}},
                },
            )
        deadline = time.monotonic() + 60
        while len(tally.read_text().split() if tally.exists() else []) < EXECUTIONS:
            assert time.monotonic() < deadline, "the flows did not all start"
            await first.ws.changes.wait(first.ws.changes.counter, 0.1)
    finally:
        await first.stop()  # every runner dies with the workspace; the store says Running
    second = embedded.EmbeddedWorkspace("ns-restart", store=store, log_dir=tmp_path / "2", grace_period=1.0)
    await second.start()
    try:
        ended = [await second.wait_for_phase(name, resources.TERMINAL) for name in names]
    finally:
        await second.stop()
    assert collections.Counter(tally.read_text().split()) == dict.fromkeys(names, 1)
    for body in ended:
        status = resources.status(body)
        assert (status["phase"], status["reason"]) == ("Failed", "RunLost"), status
        assert "not run again" in status["message"]
