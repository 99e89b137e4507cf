"""Case 5: a flow's forked child ends with its execution: at its end, its deadline, the workspace's stop."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from workspace_link.adapters.local import embedded
from workspace_link.core import resources

FORKING = """
import subprocess, sys, time

def handler(system, this, inputs):
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        start_new_session=inputs.get("setsid", False),  # leaves the runner's process group
    )
    with open(inputs["pidfile"], "w") as handle:
        handle.write(str(child.pid))
    time.sleep(inputs["linger"])
    return this.success("left a child behind")
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def child_pid(pidfile: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text():
            return int(pidfile.read_text())
        await asyncio.sleep(0.05)
    raise TimeoutError("the flow did not start its child")


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[embedded.EmbeddedWorkspace]:
    async with embedded.EmbeddedWorkspace("ns-forks", log_dir=tmp_path / "logs", grace_period=1.0) as ws:
        await ws.store.create(resources.FLOW, {"metadata": {"name": "forking"}, "spec": {"script": FORKING}})
        yield ws


async def start(
    ws: embedded.EmbeddedWorkspace, name: str, pidfile: Path, linger: float, **spec: object
) -> None:
    await ws.store.create(
        resources.EXECUTION,
        {
            "metadata": {"name": name},
            "spec": {"flow": "forking", "inputs": {"pidfile": str(pidfile), "linger": linger}, **spec},
        },
    )


async def test_a_forked_child_ends_when_its_execution_ends(
    local: embedded.EmbeddedWorkspace, tmp_path: Path
) -> None:
    await start(local, "ends", tmp_path / "ends.pid", 0)
    pid = await child_pid(tmp_path / "ends.pid")
    body = await local.wait_for_phase("ends", resources.TERMINAL)
    assert resources.phase(body) == "Succeeded"
    assert await gone(pid), f"the flow's child {pid} outlived its execution"


async def test_a_forked_child_ends_at_the_deadline(local: embedded.EmbeddedWorkspace, tmp_path: Path) -> None:
    await start(local, "deadline", tmp_path / "deadline.pid", 600, timeoutSeconds=2)
    pid = await child_pid(tmp_path / "deadline.pid")
    body = await local.wait_for_phase("deadline", resources.TERMINAL)
    assert resources.status(body)["reason"] == "DeadlineExceeded"
    assert await gone(pid), f"the flow's child {pid} outlived the deadline"


async def test_a_forked_child_ends_with_the_workspace(tmp_path: Path) -> None:
    ws = embedded.EmbeddedWorkspace("ns-stop", log_dir=tmp_path / "logs", grace_period=1.0)
    await ws.start()
    try:
        await ws.store.create(resources.FLOW, {"metadata": {"name": "forking"}, "spec": {"script": FORKING}})
        await start(ws, "stopped", tmp_path / "stopped.pid", 600)
        pid = await child_pid(tmp_path / "stopped.pid")
    finally:
        await ws.stop()
    assert await gone(pid), f"the flow's child {pid} outlived the workspace's stop"


async def test_a_child_that_left_the_process_group_ends_with_its_execution_too(
    local: embedded.EmbeddedWorkspace, tmp_path: Path
) -> None:
    await local.store.create(
        resources.EXECUTION,
        {
            "metadata": {"name": "setsid"},
            "spec": {
                "flow": "forking",
                "inputs": {"pidfile": str(tmp_path / "setsid.pid"), "linger": 0, "setsid": True},
            },
        },
    )
    pid = await child_pid(tmp_path / "setsid.pid")
    assert os.getpgid(pid) == pid  # its own session and group: killpg of the runner's misses it
    body = await local.wait_for_phase("setsid", resources.TERMINAL)
    assert resources.phase(body) == "Succeeded"
    assert await gone(pid), f"the flow's setsid child {pid} outlived its execution"
