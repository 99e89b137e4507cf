"""The runner Job the operator builds from the chart's settings fits the chart around it.

The chart and the Job builder (workspace_link.jobs) are written apart; what a cluster admin
notices is whether they meet: the runner pod must be selected by the chart's NetworkPolicy,
run as the chart's token-less ServiceAccount, pass "restricted", validate as a Job, and carry
the runner placement values the admin set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate

from workspace_link.core import job_manifest, settings


def runner_job(objs: Any) -> dict[str, Any]:
    env = objs.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    parsed = settings.Settings.from_env({e["name"]: e["value"] for e in env if "value" in e})
    execution = {
        "apiVersion": "workspacelink.io/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": "main-example", "namespace": "workspace-a", "uid": "0f1e2d3c"},
        "spec": {"script": "def handler(system, this): pass", "timeoutSeconds": 60},
    }
    return job_manifest.build_job(execution, settings=parsed, secret_name="wl-run-x")


def test_the_network_policy_selects_the_runner_pods(any_objects: Any) -> None:
    pod_labels = runner_job(any_objects)["spec"]["template"]["metadata"]["labels"]
    selector = any_objects.one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    # ... and not the operator, which must keep reaching the API server.
    operator_labels = any_objects.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= operator_labels.items()


def test_runner_pods_run_as_the_tokenless_service_account(any_objects: Any) -> None:
    pod = runner_job(any_objects)["spec"]["template"]["spec"]
    runner_sa = any_objects.one("ServiceAccount", pod["serviceAccountName"])
    assert runner_sa["automountServiceAccountToken"] is False
    assert pod["automountServiceAccountToken"] is False


def test_runner_pods_pass_the_restricted_profile(
    any_objects: Any, restricted_violations: Callable[[dict[str, Any]], list[str]]
) -> None:
    assert restricted_violations(runner_job(any_objects)["spec"]["template"]["spec"]) == []


def test_the_runner_job_is_a_valid_job(any_objects: Any) -> None:
    kubernetes_validate.validate(runner_job(any_objects), "1.26.0", strict=True)


def test_runner_placement_values_reach_the_pod(all_on_objects: Any) -> None:
    pod = runner_job(all_on_objects)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/workspace-link-runner:1.2.3-slim"
    assert pod["imagePullSecrets"] == [{"name": "registry-creds"}]
    assert pod["nodeSelector"] == {"pool": "flows"}
    assert pod["tolerations"] == [{"key": "flows", "operator": "Exists", "effect": "NoSchedule"}]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
