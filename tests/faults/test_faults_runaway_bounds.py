"""Case 7: bounds a runaway flow meets: its log file, its children, its token after the end, and a
refusal that changes nothing in the listener's SyncConfig."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from link_harness import Linked, wait_until

from workspace_link.adapters.local import embedded
from workspace_link.core import naming, resources, settings

CHATTY = """
import sys

def handler(system, this):
    line = "x" * 1023 + "\\n"
    for _ in range(40 * 1024):
        sys.stdout.write(line)
    return this.success("said a lot")
"""

FERTILE = """
def handler(system, this):
    started = 0
    error = ""
    for i in range(400):
        try:
            this.flow("missing-flow", wait=False, name=f"child-{i}")
        except Exception as exc:
            error = str(exc)
            break
        started += 1
    this.save(output_value={"started": started, "error": error})
    return this.success("done")
"""


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[embedded.EmbeddedWorkspace]:
    async with embedded.EmbeddedWorkspace("ns-bounds", log_dir=tmp_path / "logs", grace_period=1.0) as ws:
        for name, script in (
            ("chatty", CHATTY),
            ("fertile", FERTILE),
            ("quiet", "def handler(s, t): pass\n"),
        ):
            await ws.store.create(resources.FLOW, {"metadata": {"name": name}, "spec": {"script": script}})
        yield ws


async def run(ws: embedded.EmbeddedWorkspace, name: str, flow: str) -> resources.Body:
    await ws.store.create(
        resources.EXECUTION, {"metadata": {"name": name}, "spec": {"flow": flow, "inputs": {}}}
    )
    return await ws.wait_for_phase(name, resources.TERMINAL, timeout=60)


async def test_a_runner_log_file_is_capped(local: embedded.EmbeddedWorkspace, tmp_path: Path) -> None:
    body = await run(local, "chatty", "chatty")
    assert resources.phase(body) == "Succeeded"
    log = local.executor.log_dir / f"{naming.job_name('chatty')}.log"
    size = log.stat().st_size
    cap = settings.Settings().runner_log_max_bytes
    assert size <= cap + 4096, f"the log is {size} bytes, over the cap of {cap}"
    assert "truncated" in log.read_bytes()[-4096:].decode()


async def test_an_execution_cannot_start_children_without_bound(local: embedded.EmbeddedWorkspace) -> None:
    body = await run(local, "fertile", "fertile")
    outputs: dict[str, Any] = resources.status(body)["outputs"]
    limit = settings.Settings().max_children_per_execution
    assert outputs["started"] == limit, outputs
    assert f"limit of {limit} children" in outputs["error"]
    children = await local.store.list(resources.EXECUTION)
    assert len(children) == limit + 1


async def test_a_runner_token_is_refused_once_its_execution_ended(local: embedded.EmbeddedWorkspace) -> None:
    await run(local, "quiet", "quiet")
    secret = await local.store.get(resources.SECRET, naming.runner_secret_name("quiet"))
    token = base64.b64decode(secret["data"]["token"]).decode()
    async with httpx.AsyncClient() as client:
        response = await client.get(
            local.runner_url + "/v1/execution", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 409, response.text
    assert "has ended" in response.json()["error"]


async def test_a_role_mismatch_refusal_leaves_the_listeners_syncconfig_as_it_was(linked: Linked) -> None:
    await linked.link(listener_spec={"role": "Controlling"})

    async def refused() -> bool:
        status = resources.status(await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b"))
        return any(c["reason"] == "RoleMismatch" for c in status.get("conditions", []))

    await wait_until(linked.a, refused)
    listener = resources.status(await linked.stores["b"].get(resources.SYNC_CONFIG, "link-to-a"))
    ready = next(c for c in listener["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Ready"), ready
    assert "lastError" not in listener and "peer" not in listener, listener
