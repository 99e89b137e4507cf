"""The example across two workspaces on kind, and the promises a cluster admin checks there.

State on entry (made by `make e2e`): the chart installed in workspace-a (dials) and
workspace-b (listens), linked by `workspace-link link --issue-ca`, and
examples/two-workspaces' Flows and Execution `main-example` applied in workspace-a.
"""

from __future__ import annotations

from typing import Any

import pytest

from workspace_link.core import labels

pytestmark = pytest.mark.kind

EXECUTION = "main-example"


def phase(cluster: Any, namespace: str, name: str) -> str | None:
    proc = cluster.kubectl(
        "get", "execution", name, "-n", namespace, "-o", "jsonpath={.status.phase}", check=False
    )
    return proc.stdout or None


def received_in_b(cluster: Any) -> list[dict[str, Any]]:
    items = cluster.get("executions", "-n", cluster.ns_b)["items"]
    return [e for e in items if (e.get("status", {}).get("origin") or {}).get("link") == "link-to-a"]


@pytest.fixture(scope="module")
def finished(cluster: Any) -> dict[str, Any]:
    """The example's execution in A, once terminal."""
    cluster.wait_until(
        f"execution {EXECUTION} to end",
        lambda: phase(cluster, cluster.ns_a, EXECUTION) in {"Succeeded", "Failed", "Cancelled"},
    )
    body: dict[str, Any] = cluster.get("execution", EXECUTION, "-n", cluster.ns_a)
    return body


def test_the_example_succeeds_with_the_childs_outputs_in_the_caller(
    cluster: Any, finished: dict[str, Any]
) -> None:
    status = finished["status"]
    assert status["phase"] == "Succeeded", status
    assert status.get("message") == "all done"
    children = cluster.get("executions", "-n", cluster.ns_a, "-l", f"{labels.PARENT}={EXECUTION}")["items"]
    assert len(children) == 1, children
    (child,) = children
    assert child["spec"]["remoteWorkspace"] == "link-to-b"
    assert child["status"]["phase"] == "Succeeded"
    assert child["status"]["outputs"] == {"greeting": "hello, x"}
    assert any("remote said" in line for line in status.get("logTail", []))


def test_the_remote_workspace_shows_the_execution_and_its_script_but_no_flow(
    cluster: Any, finished: dict[str, Any]
) -> None:
    received = received_in_b(cluster)
    assert len(received) == 1, received
    (remote,) = received
    assert "def handler" in remote["spec"]["script"]
    assert "hello" in remote["spec"]["script"]
    assert "flow" not in remote["spec"]
    assert remote["status"]["phase"] == "Succeeded"
    assert cluster.get("flows", "-n", cluster.ns_b)["items"] == []


def test_the_remote_job_ran_without_a_service_account_token(cluster: Any, finished: dict[str, Any]) -> None:
    (remote,) = received_in_b(cluster)
    job_name = remote["status"]["jobName"]
    job = cluster.get("job", job_name, "-n", cluster.ns_b)
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["automountServiceAccountToken"] is False
    sa = cluster.get("serviceaccount", pod_spec["serviceAccountName"], "-n", cluster.ns_b)
    assert sa.get("automountServiceAccountToken") is False
    # The pod as admitted (kept for ttlSecondsAfterFinished): no token volume was injected.
    pods = cluster.get("pods", "-n", cluster.ns_b, "-l", f"job-name={job_name}")["items"]
    for pod in pods:
        for volume in pod["spec"].get("volumes", []):
            sources = (volume.get("projected") or {}).get("sources", [])
            assert not any("serviceAccountToken" in s for s in sources), volume
        for container in pod["spec"]["containers"]:
            mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
            assert "/var/run/secrets/kubernetes.io/serviceaccount" not in mounts


def can_i(cluster: Any, verb: str, resource: str, user: str, namespace: str) -> bool:
    proc = cluster.kubectl("auth", "can-i", verb, resource, "-n", namespace, "--as", user, check=False)
    return proc.stdout.strip() == "yes"


def test_a_namespace_admin_may_not_create_syncconfigs_but_an_org_admin_may(cluster: Any) -> None:
    ns_admin = "ns-admin@example.com"
    binding = cluster.kubectl(
        "create", "rolebinding", "e2e-ns-admin", "--clusterrole=admin", f"--user={ns_admin}",
        "-n", cluster.ns_a, "--dry-run=client", "-o", "yaml",
    ).stdout  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=binding)
    # The admin role is aggregated by a controller: wait until it includes our -user role
    # (Flows), so the "no" below is about SyncConfigs and not about a role still being built.
    cluster.wait_until(
        "the admin role to aggregate workspace-link-user",
        lambda: can_i(cluster, "create", "flows.workspacelink.io", ns_admin, cluster.ns_a),
    )
    assert not can_i(cluster, "create", "syncconfigs.workspacelink.io", ns_admin, cluster.ns_a)
    assert not can_i(cluster, "delete", "syncconfigs.workspacelink.io", ns_admin, cluster.ns_a)
    assert can_i(cluster, "create", "syncconfigs.workspacelink.io", cluster.org_admin_user, cluster.ns_a)
    assert can_i(cluster, "create", "syncconfigs.workspacelink.io", cluster.org_admin_user, cluster.ns_b)


def test_the_runner_service_account_may_do_nothing(cluster: Any) -> None:
    sa = f"system:serviceaccount:{cluster.ns_b}:{cluster.release}-runner"
    for verb, resource in [("get", "secrets"), ("list", "executions.workspacelink.io"), ("create", "pods")]:
        assert not can_i(cluster, verb, resource, sa, cluster.ns_b)
