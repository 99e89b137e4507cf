"""Fixtures of the Job tests."""

from __future__ import annotations

import pytest

from workspace_link.core import settings


@pytest.fixture
def wl_settings() -> settings.Settings:
    return settings.Settings(
        runner_image="registry.example/workspace-link:1.2.3",
        runner_service_account="runner-sa",
        runner_cpu_request="100m",
        runner_memory_request="128Mi",
        runner_cpu_limit="2",
        runner_memory_limit="1Gi",
        job_ttl_after_finished=600,
    )
