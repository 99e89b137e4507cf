"""The chart lints, renders in every supported shape, and its objects are valid Kubernetes.

What an admin notices: `helm install` works with defaults, with every option on, and a second
time in the same cluster for a second workspace; a wrong or incompatible value is refused
with a message that says what to change.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import pathlib
import subprocess
from typing import Any

import kubernetes_validate
import pytest

from workspace_link.core import settings

CHART = pathlib.Path(__file__).resolve().parents[3] / "charts" / "workspace-link"
ALL_ON = pathlib.Path(__file__).with_name("values-all-on.yaml")

# The oldest Kubernetes we support (docs/install.md), a mid version, the newest kubernetes-validate has.
K8S_VERSIONS = ["1.26.0", "1.30.0", kubernetes_validate.latest_version()]


def test_helm_lint_is_clean(helm: str, chart: Any) -> None:
    for extra in ([], ["--values", str(ALL_ON)]):
        proc = subprocess.run(
            [helm, "lint", "--strict", str(CHART), *extra], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


def test_defaults_render_the_workspace(default_objects: Any) -> None:
    kinds = collections.Counter(o["kind"] for o in default_objects)
    assert kinds == {
        "Deployment": 1,
        "Service": 2,  # sync, runner API
        "ServiceAccount": 2,  # operator, runner
        "Role": 1,
        "RoleBinding": 1,
        "ClusterRole": 3,  # org-admin, user, viewer
        "NetworkPolicy": 1,
    }
    names = {o["metadata"]["name"] for o in default_objects.find("ClusterRole")}
    assert names == {"workspace-link-org-admin", "workspace-link-user", "workspace-link-viewer"}


def test_every_option_on_renders_the_optional_parts(all_on_objects: Any) -> None:
    ingress = all_on_objects.one("Ingress")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "workspace-a.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    sync_svc = all_on_objects.one("Service", backend["name"])
    assert sync_svc["spec"]["ports"][0]["targetPort"] == "sync"
    assert ingress["spec"]["tls"][0]["secretName"] == "workspace-a-example-com"
    # The keys namespace gets the operator's read-only Role and the org-admins' binding.
    in_keys = [o for o in all_on_objects if o["metadata"].get("namespace") == "workspace-keys"]
    assert sorted(o["kind"] for o in in_keys) == ["Role", "RoleBinding", "RoleBinding"]
    bound = {b["roleRef"]["name"] for b in all_on_objects.find("RoleBinding")}
    assert {"workspace-link-org-admin", "workspace-link-user", "workspace-link-viewer"} <= bound


def test_the_ingress_routes_the_sync_endpoint_only_and_never_rewrites(all_on_objects: Any) -> None:
    ingress = all_on_objects.one("Ingress")
    runner_api = next(
        s for s in all_on_objects.find("Service") if s["metadata"]["name"].endswith("-runner-api")
    )
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] != runner_api["metadata"]["name"]
            assert path["path"] == "/api/latest/sync_config/"
    assert not any("rewrite" in k for k in ingress["metadata"].get("annotations", {}))


def test_a_second_release_installs_beside_the_first(chart: Any) -> None:
    first = chart(release="workspace-link", namespace="workspace-a")
    second = chart(
        release="workspace-link", namespace="workspace-b", set_values=["rbac.createClusterRoles=false"]
    )
    assert not second.find("ClusterRole") and not second.find("ClusterRoleBinding")

    def key(o: dict[str, Any]) -> tuple[str, str, str, str]:
        md = o["metadata"]
        return (o["apiVersion"], o["kind"], md.get("namespace", ""), md["name"])

    clash = {key(o) for o in first} & {key(o) for o in second}
    assert not clash, f"objects both releases would own: {sorted(clash)}"


def test_two_workspaces_sharing_one_keys_namespace_do_not_clash(chart: Any) -> None:
    args = ["keysNamespace=keys", "rbac.orgAdmins.groups={admins}"]
    a = chart(namespace="workspace-a", set_values=args)
    b = chart(namespace="workspace-b", set_values=[*args, "rbac.createClusterRoles=false"])

    def in_keys(objs: Any) -> set[tuple[str, str]]:
        return {(o["kind"], o["metadata"]["name"]) for o in objs if o["metadata"].get("namespace") == "keys"}

    assert in_keys(a) and in_keys(b)
    assert not in_keys(a) & in_keys(b)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_objects_validate_against_the_kubernetes_schemas(any_objects: Any, version: str) -> None:
    problems = []
    for obj in any_objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {e.message} at {list(e.path)}")
    assert not problems, "\n".join(problems)


def test_unknown_values_are_refused(refusal: Any) -> None:
    assert "additional properties 'replicas' not allowed" in refusal(set_values=["operator.replicas=2"])
    assert "additional properties" in refusal(set_values=["sync.tls.secret=x"])


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (["sync.ingress.enabled=true"], "sync.ingress.host is empty"),
        (
            ["sync.enabled=false", "sync.ingress.enabled=true", "sync.ingress.host=a.example.com"],
            "needs the sync Service",
        ),
        (["sync.tls.enabled=false"], "plain HTTP end to end"),
        (
            ["sync.tls.enabled=false", "sync.ingress.enabled=true", "sync.ingress.host=a.example.com"],
            "plain HTTP end to end",
        ),
        (["keysNamespace=workspace-a"], "is the release namespace"),
        (["ports.health=8081"], "must all differ"),
    ],
)
def test_incompatible_values_fail_with_what_to_change(refusal: Any, values: list[str], says: str) -> None:
    assert says in refusal(set_values=values)


def test_tls_terminated_at_the_ingress_serves_plain_http_behind_it(chart: Any) -> None:
    objs = chart(
        set_values=[
            "sync.tls.enabled=false",
            "sync.ingress.enabled=true",
            "sync.ingress.host=a.example.com",
            "sync.ingress.tls.secretName=a-example-com",
        ]
    )
    env = {e["name"] for e in objs.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "WL_TLS_CERT_FILE" not in env


def test_a_dial_only_workspace_has_no_sync_service_and_needs_no_certificate(chart: Any) -> None:
    objs = chart(set_values=["sync.enabled=false"])
    assert [s["metadata"]["name"] for s in objs.find("Service")] == ["workspace-link-runner-api"]
    pod = objs.one("Deployment")["spec"]["template"]["spec"]
    assert not [v for v in pod["volumes"] if "secret" in v]


def test_operator_settings_values_are_operator_settings() -> None:
    """Every key values.schema.json accepts under operator.settings is a field the operator reads."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    accepted = set(schema["properties"]["operator"]["properties"]["settings"]["properties"])
    fields = {f.name for f in dataclasses.fields(settings.Settings)}
    assert accepted <= fields, accepted - fields
