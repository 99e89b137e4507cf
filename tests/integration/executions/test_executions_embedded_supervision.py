"""The embedded workspace's supervisor: a loop that dies of a bug is logged and restarted, never left dead."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from workspace_link.adapters.local import embedded
from workspace_link.core import resources, settings


async def test_a_link_loop_that_dies_of_a_bug_is_logged_with_its_traceback_and_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[str] = []

    async def dies_once(self: embedded.EmbeddedWorkspace, name: str, stop: asyncio.Event) -> None:
        runs.append(name)
        if len(runs) == 1:
            raise RuntimeError("a bug in the link loop")
        await stop.wait()

    monkeypatch.setattr(embedded.EmbeddedWorkspace, "_link_loop", dies_once)
    quick = settings.Settings(backoff_initial=0.01, backoff_max=0.01)
    with caplog.at_level(logging.ERROR, logger=embedded.__name__):
        async with embedded.EmbeddedWorkspace("ns-a", settings=quick, log_dir=tmp_path) as ws:
            await ws.store.create(resources.SYNC_CONFIG, {"metadata": {"name": "link-x"}, "spec": {}})
            for _ in range(500):
                if len(runs) >= 2:
                    break
                await asyncio.sleep(0.01)

    assert runs == ["link-x", "link-x"]  # restarted without any change to the SyncConfig
    (failure,) = [r for r in caplog.records if "the link loop failed" in r.getMessage()]
    assert failure.exc_info is not None and failure.exc_info[0] is RuntimeError
