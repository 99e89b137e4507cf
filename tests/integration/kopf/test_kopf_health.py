"""The operator's own probe and metrics, served on the health port while kopf runs."""

from __future__ import annotations

import httpx
import kopf

from workspace_link import handlers


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
