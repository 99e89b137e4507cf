"""The example across two workspaces on kind, and the promises a cluster admin checks there.

State on entry (made by `make e2e`): the chart installed in workspace-a (dials) and
workspace-b (listens), linked by `workspace-link link --issue-ca`, and
examples/two-workspaces' Flows, workspace-b's Setting `tally`, and the Executions
`main-example`, `fanout-example` and `tallies-example` applied in workspace-a.
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


def children_in_a(cluster: Any, parent: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get(
        "executions", "-n", cluster.ns_a, "-l", f"{labels.PARENT}={parent}"
    )["items"]
    return items


def received_in_b(cluster: Any, parent: str = EXECUTION) -> list[dict[str, Any]]:
    """B's executions started over the link for the children of ``parent`` in A."""
    children = {c["metadata"]["name"] for c in children_in_a(cluster, parent)}
    items = cluster.get("executions", "-n", cluster.ns_b)["items"]
    return [
        e
        for e in items
        if (origin := e.get("status", {}).get("origin") or {}).get("link") == "link-to-a"
        and origin.get("name") in children
    ]


def ended(cluster: Any, name: str) -> dict[str, Any]:
    """An example's execution in A, once terminal."""
    cluster.wait_until(
        f"execution {name} to end",
        lambda: phase(cluster, cluster.ns_a, name) in {"Succeeded", "Failed", "Cancelled"},
    )
    body: dict[str, Any] = cluster.get("execution", name, "-n", cluster.ns_a)
    return body


@pytest.fixture(scope="module")
def finished(cluster: Any) -> dict[str, Any]:
    return ended(cluster, EXECUTION)


def test_the_example_succeeds_with_the_childs_outputs_in_the_caller(
    cluster: Any, finished: dict[str, Any]
) -> None:
    status = finished["status"]
    assert status["phase"] == "Succeeded", status
    assert status.get("message") == "all done"
    children = children_in_a(cluster, EXECUTION)
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


def test_the_engine_style_fanout_runs_its_four_checks_in_b_and_gathers_their_outputs(cluster: Any) -> None:
    status = ended(cluster, "fanout-example")["status"]
    assert status["phase"] == "Succeeded", status
    assert status["message"] == "4 checks done"
    assert status["outputs"] == {"squares": [0, 1, 4, 9], "statuses": ["ENDED_SUCCESS"] * 4}
    children = children_in_a(cluster, "fanout-example")
    assert len(children) == 4, children
    assert all(c["spec"]["remoteWorkspace"] == "link-to-b" for c in children)
    assert sorted(c["status"]["outputs"]["square"] for c in children) == [0, 1, 4, 9]
    assert {c["status"]["outputs"]["workspace"] for c in children} == {cluster.ns_b}
    received = received_in_b(cluster, "fanout-example")
    assert len(received) == 4, received
    assert all(r["status"]["phase"] == "Succeeded" and "flow" not in r["spec"] for r in received)
    assert all('this.save(output_value={"square"' in r["spec"]["script"] for r in received)


def test_the_tallies_count_in_b_s_setting_under_its_lock(cluster: Any) -> None:
    status = ended(cluster, "tallies-example")["status"]
    assert status["phase"] == "Succeeded", status
    # Each of the four children saw a different count: the lock kept the read-modify-writes apart.
    assert status["outputs"] == {"counts": [1, 2, 3, 4]}, status
    assert status["message"] == "counted 4 in link-to-b"
    assert {c["status"]["outputs"]["workspace"] for c in children_in_a(cluster, "tallies-example")} == {
        cluster.ns_b
    }
    # The Setting lives in B (where the children ran); A has none, and no lock is left held.
    tally = cluster.get("settings.workspacelink.io", "tally", "-n", cluster.ns_b)
    assert "lock" not in tally["spec"], tally
    assert cluster.get("settings.workspacelink.io", "-n", cluster.ns_a)["items"] == []


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
