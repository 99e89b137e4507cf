"""An embedded workspace with every flow in ``flows/`` loaded, real runners and a real runner API.

Flows are named after their file stem, as ``workspace-link run`` names a flow file's siblings.
"""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from workspace_link.adapters.local import embedded
from workspace_link.core import errors, resources

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[embedded.EmbeddedWorkspace]:
    async with embedded.EmbeddedWorkspace("ns-a", log_dir=tmp_path, grace_period=5.0) as workspace:
        for file in sorted(FLOWS.glob("*.py")):
            await workspace.store.create(
                resources.FLOW, {"metadata": {"name": file.stem}, "spec": {"script": file.read_text()}}
            )
        yield workspace


@pytest.fixture
def run_flow(local: embedded.EmbeddedWorkspace) -> Callable[..., Awaitable[resources.Body]]:
    """Create an Execution of ``flow`` and return its final body."""

    async def run(
        flow: str, name: str, inputs: dict[str, Any] | None = None, wait: bool = True
    ) -> resources.Body:
        await local.store.create(
            resources.EXECUTION, {"metadata": {"name": name}, "spec": {"flow": flow, "inputs": inputs or {}}}
        )
        if not wait:
            return await local.store.get(resources.EXECUTION, name)
        return await local.wait_for_phase(name, resources.TERMINAL, timeout=30)

    return run


@pytest.fixture
def wait_until(local: embedded.EmbeddedWorkspace) -> Callable[..., Awaitable[None]]:
    """Wait until ``condition()`` (async) is truthy, re-checking on every store change."""

    async def wait(condition: Callable[[], Awaitable[object]], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            since = local.ws.changes.counter
            try:
                if await condition():
                    return
            except errors.NotFound:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await local.ws.changes.wait(since, remaining):
                raise TimeoutError("the condition was not met in time")

    return wait
