"""The operator's own probe and metrics, served on the health port while kopf runs."""

from __future__ import annotations

import pathlib

import httpx
import kopf
import pytest
from kopf_helpers import OperatorThread

from workspace_link.adapters.kube import handlers


async def test_health_and_metrics_are_served(operator: kopf.Memo) -> None:
    runtime: handlers.Runtime = operator["workspace_link"]
    assert runtime.health is not None
    base = f"http://127.0.0.1:{runtime.health.port}"

    async with httpx.AsyncClient(base_url=base) as client:
        healthz = await client.get("/healthz")
        metrics = await client.get("/metrics")

    assert healthz.status_code == 200
    assert healthz.json() == {"status": "ok"}
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "python_info" in metrics.text


async def test_unusable_tls_files_stop_the_operator_naming_them(
    kubeconfig: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "tls.crt"
    monkeypatch.setenv("WL_TLS_CERT_FILE", str(missing))
    monkeypatch.setenv("WL_TLS_KEY_FILE", str(tmp_path / "tls.key"))

    running = OperatorThread()
    await running.start()
    await running.stop()

    # The operator exits instead of retrying a configuration problem, and says which files.
    assert running.failure is not None
    assert str(missing) in str(running.failure.__cause__)
