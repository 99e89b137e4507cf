"""The operator's pod passes the Pod Security Standards "restricted" profile (the checker is
in this folder's conftest), and its probes, ports, resources and the runner NetworkPolicy are
what the operator and its runners need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Checker = Callable[[dict[str, Any]], list[str]]


def test_the_checks_catch_what_restricted_forbids(restricted_violations: Checker) -> None:
    """The checker itself: a default-ish pod breaks several rules, each reported."""
    loose = {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
             "volumes": [{"name": "h", "hostPath": {"path": "/"}}], "hostNetwork": True}  # fmt: skip
    found = "\n".join(restricted_violations(loose))
    for words in (
        "hostNetwork",
        "hostPath",
        "NET_ADMIN",
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccomp",
        "drop ALL",
    ):
        assert words in found


def pod_spec(objs: Any) -> dict[str, Any]:
    spec: dict[str, Any] = objs.one("Deployment")["spec"]["template"]["spec"]
    return spec


def test_operator_pod_passes_the_restricted_profile(any_objects: Any, restricted_violations: Checker) -> None:
    assert restricted_violations(pod_spec(any_objects)) == []


def test_operator_pod_runs_as_a_numeric_non_root_user_on_a_read_only_root(any_objects: Any) -> None:
    pod = pod_spec(any_objects)
    assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] > 0
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])


def test_operator_probes_health_and_has_resources(any_objects: Any) -> None:
    (container,) = pod_spec(any_objects)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert ports["health"] == 8080
    assert set(container["resources"]) == {"requests", "limits"}


def test_one_operator_replaced_never_run_twice(any_objects: Any) -> None:
    spec = any_objects.one("Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_runner_pods_may_reach_only_dns_and_the_runner_api(any_objects: Any) -> None:
    policy = any_objects.one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/managed-by": "workspace-link",
        "app.kubernetes.io/component": "runner",
    }
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["ingress"] == []
    dns, api, *extra = policy["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert all("namespaceSelector" in peer for peer in dns["to"])
    operator_labels = any_objects.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    (peer,) = api["to"]
    assert peer.keys() == {"podSelector"}
    assert peer["podSelector"]["matchLabels"].items() <= operator_labels.items()
    runner_port = next(
        p["containerPort"]
        for p in pod_spec(any_objects)["containers"][0]["ports"]
        if p["name"] == "runner-api"
    )
    assert api["ports"] == [{"port": runner_port, "protocol": "TCP"}]
    # Only what the admin added by value; the all-on values add one rule.
    assert len(extra) in (0, 1)


def test_the_labels_the_network_policy_selects_are_the_operators_runner_labels() -> None:
    """The Job builder labels runner pods with these keys (labels.py): the policy must use them."""
    from workspace_link.core import labels

    assert labels.MANAGED_BY == "app.kubernetes.io/managed-by"
    assert labels.MANAGED_BY_VALUE == "workspace-link"
    assert labels.COMPONENT == "app.kubernetes.io/component"
