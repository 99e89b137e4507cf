"""Builders for the Job tests: Execution, Job and pod bodies as the API server returns them."""

from __future__ import annotations

from typing import Any

from workspace_link.core import labels


def execution_body(
    name: str = "hello-1", *, uid: str = "uid-1", timeout: int | None = 60, **extra_labels: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {"flow": "hello", "inputs": {}}
    if timeout is not None:
        spec["timeoutSeconds"] = timeout
    return {
        "apiVersion": labels.API_VERSION,
        "kind": "Execution",
        "metadata": {"name": name, "namespace": "ws-a", "uid": uid, "labels": dict(extra_labels)},
        "spec": spec,
        "status": {"phase": "Running"},
    }


def job_body(*conditions: dict[str, Any], deadline: int | None = 60) -> dict[str, Any]:
    spec: dict[str, Any] = {"backoffLimit": 0}
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "hello-1"},
        "spec": spec,
        "status": {"conditions": list(conditions)},
    }


def condition(type_: str, reason: str = "", message: str = "", status: str = "True") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def pod_body(
    *,
    created: str = "2024-05-01T10:00:00Z",
    waiting: str | None = None,
    waiting_message: str = "",
    terminated: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    image: str = "registry.example/runner:1",
) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if waiting is not None:
        state["waiting"] = {"reason": waiting, "message": waiting_message}
    if terminated is not None:
        state["terminated"] = terminated
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello-1-abcde", "creationTimestamp": created},
        "spec": {"containers": [{"name": "runner", "image": image}]},
        "status": {
            "phase": "Pending" if terminated is None else "Failed",
            "conditions": conditions or [],
            "containerStatuses": [{"name": "runner", "image": image, "state": state}],
        },
    }
