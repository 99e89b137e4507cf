"""A Job's outcome is not lost when the store fails while it is reported.

kopf never retries an event handler, and a finished Job sends no further event: the executor
retries the report itself, with backoff, until the execution shows the outcome.
"""

from __future__ import annotations

from typing import Any

import pytest

from workspace_link.adapters.kube import job_executor
from workspace_link.adapters.local import memstore
from workspace_link.core import errors, execution_state, job_manifest, naming, resources, settings
from workspace_link.engine import workspace


class BlinkingStore:
    """A MemStore whose Execution reads fail ``failures`` times (an API server blip)."""

    def __init__(self, inner: memstore.MemStore) -> None:
        self._inner = inner
        self.failures = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get(self, kind: str, name: str) -> resources.Body:
        if kind == resources.EXECUTION and self.failures > 0:
            self.failures -= 1
            raise errors.StoreUnavailable("the API server failed to get Execution (HTTP 503)")
        return await self._inner.get(kind, name)


async def test_a_failed_job_is_reported_even_when_the_store_fails_at_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(job_executor, "RETRY_INITIAL", 0.01)
    inner = memstore.MemStore("ns")
    store = BlinkingStore(inner)
    executor = job_executor.JobExecutor(inner, settings=settings.Settings())  # type: ignore[arg-type]
    ws = workspace.Workspace("ns", store, executor)  # type: ignore[arg-type]
    created = await inner.create(
        resources.EXECUTION, {"metadata": {"name": "run-1"}, "spec": {"script": "x"}}
    )
    running = await inner.replace_status(
        resources.EXECUTION, {**created, "status": {"phase": "Running", "jobName": "run-1", "version": 1}}
    )
    job = job_manifest.build_job(
        running, settings=settings.Settings(), secret_name=naming.runner_secret_name("run-1")
    )
    job["status"] = {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}

    store.failures = 3
    await executor.report_job(ws, job)
    assert resources.phase(await inner.get(resources.EXECUTION, "run-1")) == "Running"  # not yet

    for _ in range(200):
        status = resources.status(await inner.get(resources.EXECUTION, "run-1"))
        if status["phase"] != "Running":
            break
        await ws.changes.wait(ws.changes.counter, 0.05)
    assert (status["phase"], status["reason"]) == ("Failed", execution_state.DEADLINE_EXCEEDED)
    assert store.failures == 0
    await executor.close()
