"""The chart's RBAC keeps the README's security promises ("Security model").

- The operator's Role grants exactly what the code calls, nothing more.
- Only org-admin may write SyncConfigs; nothing aggregated into the built-in admin/edit roles
  does (a namespace admin is not an org-admin).
- Nothing lets the runner's ServiceAccount reach the API server.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any

import pytest

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}
Permissions = dict[tuple[str, str], frozenset[str]]


def grants(rules: Iterable[dict[str, Any]]) -> Permissions:
    """(apiGroup, resource) -> verbs, merged over the rules (a rule may name several)."""
    out: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out[group, resource] |= set(rule["verbs"])
    return {k: frozenset(v) for k, v in out.items()}


def as_permissions(entries: Iterable[tuple[str, str, frozenset[str]]]) -> Permissions:
    return grants({"apiGroups": [g], "resources": [r], "verbs": sorted(v)} for g, r, v in entries)


def operator_role(objs: Any, namespace: str = "workspace-a") -> dict[str, Any]:
    roles = [r for r in objs.find("Role") if r["metadata"]["namespace"] == namespace]
    assert len(roles) == 1, roles
    return roles[0]


def writes_syncconfigs(rules: Iterable[dict[str, Any]]) -> bool:
    for rule in rules:
        groups = set(rule.get("apiGroups", []))
        resources = set(rule.get("resources", []))
        if (
            groups & {"workspacelink.io", "*"}
            and resources & {"syncconfigs", "*"}
            and set(rule["verbs"]) & WRITE_VERBS
        ):
            return True
    return False


def test_role_grants_exactly_what_kubestore_requires(any_objects: Any) -> None:
    """kubestore.REQUIRED_PERMISSIONS lists every verb the adapter, Job executor and kopf use."""
    try:
        from workspace_link.adapters.kube import kubestore
    except ImportError as e:
        pytest.fail(f"kubestore cannot be imported ({e}): the Role cannot be checked against the code")
    required = getattr(kubestore, "REQUIRED_PERMISSIONS", None)
    if required is None:
        pytest.fail("kubestore.REQUIRED_PERMISSIONS is missing: the Role cannot be checked")
    assert grants(operator_role(any_objects)["rules"]) == as_permissions(required)


def test_operator_may_only_get_secrets_and_configmaps_in_the_keys_namespace(all_on_objects: Any) -> None:
    """syncconfig.load_keys reads the keys and the CA (Secret or ConfigMap) there, by name."""
    role = operator_role(all_on_objects, namespace="workspace-keys")
    assert grants(role["rules"]) == {
        ("", "secrets"): frozenset({"get"}),
        ("", "configmaps"): frozenset({"get"}),
    }
    binding = next(
        b
        for b in all_on_objects.find("RoleBinding")
        if b["metadata"]["namespace"] == "workspace-keys" and b["roleRef"]["kind"] == "Role"
    )
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ws-a", "namespace": "workspace-a"}]


def test_the_operator_role_is_bound_to_the_operator_only(any_objects: Any) -> None:
    role = operator_role(any_objects)
    deployment = any_objects.one("Deployment")
    sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    bindings = [
        b
        for b in any_objects.find("RoleBinding")
        if b["roleRef"]
        == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    ]
    assert [b["subjects"] for b in bindings] == [
        [{"kind": "ServiceAccount", "name": sa, "namespace": "workspace-a"}]
    ]


def test_only_org_admin_may_write_syncconfigs(any_objects: Any) -> None:
    operator = operator_role(any_objects)
    writers = {
        f"{o['kind']}/{o['metadata']['name']}"
        for o in [*any_objects.find("ClusterRole"), *any_objects.find("Role")]
        if o is not operator and writes_syncconfigs(o["rules"])
    }
    assert writers == {"ClusterRole/workspace-link-org-admin"}
    # The operator's own Role is the one exception, and only for `patch` (kopf's finalizer and
    # annotations on the object it reconciles): it can neither create, replace nor delete a link.
    verbs = grants(operator["rules"])["workspacelink.io", "syncconfigs"]
    assert verbs & WRITE_VERBS == {"patch"}


def test_nothing_aggregated_into_admin_or_edit_writes_syncconfigs(any_objects: Any) -> None:
    aggregated = [
        c
        for c in any_objects.find("ClusterRole")
        if {"rbac.authorization.k8s.io/aggregate-to-admin", "rbac.authorization.k8s.io/aggregate-to-edit"}
        & {k for k, v in c["metadata"]["labels"].items() if v == "true"}
    ]
    assert aggregated, "the user role should be aggregated into edit/admin by default"
    assert not [c["metadata"]["name"] for c in aggregated if writes_syncconfigs(c["rules"])]
    org_admin = any_objects.one("ClusterRole", "workspace-link-org-admin")
    assert not [
        k for k in org_admin["metadata"]["labels"] if k.startswith("rbac.authorization.k8s.io/aggregate-to")
    ]


def test_org_admin_manages_syncconfigs_and_key_secrets(default_objects: Any) -> None:
    g = grants(default_objects.one("ClusterRole", "workspace-link-org-admin")["rules"])
    assert {"create", "update", "patch", "delete"} <= g["workspacelink.io", "syncconfigs"]
    assert {"get", "create", "update", "delete"} <= g["", "secrets"]


def test_user_writes_flows_and_executions_and_reads_syncconfigs(default_objects: Any) -> None:
    g = grants(default_objects.one("ClusterRole", "workspace-link-user")["rules"])
    for resource in ("flows", "executions"):
        assert {"create", "update", "patch", "delete"} <= g["workspacelink.io", resource]
    assert g["workspacelink.io", "syncconfigs"] == {"get", "list", "watch"}
    assert ("", "secrets") not in g


def test_viewer_is_read_only_and_aggregated_into_view(default_objects: Any) -> None:
    viewer = default_objects.one("ClusterRole", "workspace-link-viewer")
    assert viewer["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    for verbs in grants(viewer["rules"]).values():
        assert verbs <= {"get", "list", "watch"}


def test_the_runner_service_account_cannot_reach_the_api(any_objects: Any) -> None:
    runner_sa = next(
        s
        for s in any_objects.find("ServiceAccount")
        if s["metadata"]["labels"]["app.kubernetes.io/component"] == "runner"
    )
    assert runner_sa["automountServiceAccountToken"] is False
    name, namespace = runner_sa["metadata"]["name"], runner_sa["metadata"]["namespace"]
    sa_user = f"system:serviceaccount:{namespace}:{name}"
    for binding in [*any_objects.find("RoleBinding"), *any_objects.find("ClusterRoleBinding")]:
        for subject in binding.get("subjects", []):
            assert not (subject["kind"] == "ServiceAccount" and subject["name"] == name), binding
            assert subject["name"] not in {
                sa_user,
                f"system:serviceaccounts:{namespace}",
                "system:serviceaccounts",
            }, binding
    # The operator tells its Job builder to use this ServiceAccount.
    env = {
        e["name"]: e.get("value")
        for e in any_objects.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["WL_RUNNER_SERVICE_ACCOUNT"] == name


def test_optional_bindings_bind_the_named_people_in_the_workspace(all_on_objects: Any) -> None:
    by_role = {
        b["roleRef"]["name"]: b
        for b in all_on_objects.find("RoleBinding")
        if b["metadata"]["namespace"] == "workspace-a" and b["roleRef"]["kind"] == "ClusterRole"
    }
    admins = by_role["workspace-link-org-admin"]["subjects"]
    assert {(s["kind"], s["name"]) for s in admins} == {
        ("User", "alice@example.com"),
        ("Group", "platform-admins"),
    }
    assert {(s["kind"], s["name"]) for s in by_role["workspace-link-viewer"]["subjects"]} == {
        ("Group", "auditors")
    }


def test_no_bindings_without_people(default_objects: Any) -> None:
    assert [b["roleRef"]["name"] for b in default_objects.find("RoleBinding")] == ["workspace-link"]
