"""The runner Job manifest: what a cluster admin relies on when a peer's code runs here."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import kubernetes_validate
import pytest
from jobs_builders import execution_body

from workspace_link.core import errors, job_manifest, labels, naming, settings


def _pod(job: dict[str, Any]) -> dict[str, Any]:
    return dict(job["spec"]["template"]["spec"])


def _container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = _pod(job)["containers"]
    return dict(container)


def test_job_is_a_valid_batch_v1_job(wl_settings: settings.Settings) -> None:
    job = job_manifest.build_job(execution_body(), settings=wl_settings, secret_name="wl-run-x")
    kubernetes_validate.validate(job, "1.30", strict=True)


def test_job_is_named_after_the_execution_and_owned_by_it(wl_settings: settings.Settings) -> None:
    long_name = "x" * 60
    job = job_manifest.build_job(execution_body(long_name, uid="u-9"), settings=wl_settings, secret_name="s")

    assert job["metadata"]["name"] == naming.job_name(long_name)
    assert len(job["metadata"]["name"]) <= 52  # pods add "-xxxxx" and stay within 63
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "workspacelink.io/v1alpha1",
            "kind": "Execution",
            "name": long_name,
            "uid": "u-9",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_an_execution_without_uid_cannot_own_a_job(wl_settings: settings.Settings) -> None:
    body = execution_body()
    del body["metadata"]["uid"]
    with pytest.raises(ValueError, match="uid"):
        job_manifest.build_job(body, settings=wl_settings, secret_name="s")


def test_job_and_pod_carry_the_labels_the_network_policy_selects(wl_settings: settings.Settings) -> None:
    job = job_manifest.build_job(execution_body("hello-1"), settings=wl_settings, secret_name="s")
    expected = {
        labels.MANAGED_BY: "workspace-link",
        labels.EXECUTION: "hello-1",
        labels.COMPONENT: "runner",
    }
    assert job["metadata"]["labels"] == expected
    assert job["spec"]["template"]["metadata"]["labels"] == expected


def test_an_execution_from_a_link_labels_its_job_with_the_link(wl_settings: settings.Settings) -> None:
    body = execution_body("wl-abc", **{labels.ORIGIN_LINK: "link-from-a"})
    job = job_manifest.build_job(body, settings=wl_settings, secret_name="s")
    assert job["metadata"]["labels"][labels.ORIGIN_LINK] == "link-from-a"
    assert job["spec"]["template"]["metadata"]["labels"][labels.ORIGIN_LINK] == "link-from-a"


def test_a_long_execution_name_still_gives_a_valid_label(wl_settings: settings.Settings) -> None:
    job = job_manifest.build_job(execution_body("y" * 100), settings=wl_settings, secret_name="s")
    assert len(job["metadata"]["labels"][labels.EXECUTION]) <= 63


def test_one_attempt_with_the_deadline_and_ttl(wl_settings: settings.Settings) -> None:
    job = job_manifest.build_job(execution_body(timeout=90), settings=wl_settings, secret_name="s")
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 90
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    assert _pod(job)["restartPolicy"] == "Never"


def test_no_timeout_means_no_deadline(wl_settings: settings.Settings) -> None:
    job = job_manifest.build_job(execution_body(timeout=None), settings=wl_settings, secret_name="s")
    assert "activeDeadlineSeconds" not in job["spec"]


def test_the_pod_has_no_kubernetes_credentials(wl_settings: settings.Settings) -> None:
    pod = _pod(job_manifest.build_job(execution_body(), settings=wl_settings, secret_name="s"))
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "runner-sa"
    assert pod["enableServiceLinks"] is False


def test_the_pod_passes_the_restricted_profile(wl_settings: settings.Settings) -> None:
    job = job_manifest.build_job(execution_body(), settings=wl_settings, secret_name="s")
    pod_context = _pod(job)["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["runAsUser"] == pod_context["runAsGroup"] == pod_context["fsGroup"] == 10001
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    container_context = _container(job)["securityContext"]
    assert container_context["allowPrivilegeEscalation"] is False
    assert container_context["readOnlyRootFilesystem"] is True
    assert container_context["capabilities"] == {"drop": ["ALL"]}
    # "restricted" also forbids these outright; none may appear anywhere in the pod.
    text = json.dumps(_pod(job))
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "privileged", "hostPath", "hostPort"):
        assert forbidden not in text


def test_credentials_come_from_a_read_only_secret_volume_never_env_or_args(
    wl_settings: settings.Settings,
) -> None:
    job = job_manifest.build_job(execution_body(), settings=wl_settings, secret_name="wl-run-abc")
    container = _container(job)
    volumes = {v["name"]: v for v in _pod(job)["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}

    secret_mount = mounts["/var/run/workspace-link"]
    assert secret_mount["readOnly"] is True
    assert volumes[secret_mount["name"]]["secret"] == {"secretName": "wl-run-abc", "defaultMode": 0o400}
    assert {"name": "WL_RUNNER_CREDENTIALS", "value": "/var/run/workspace-link"} in container["env"]
    # Nothing in env or args refers to the Secret's values.
    assert all("valueFrom" not in e for e in container["env"])
    assert "envFrom" not in container
    assert container["command"] == ["python", "-m", "workspace_link.runner"]
    assert "args" not in container


def test_tmp_is_a_bounded_empty_dir(wl_settings: settings.Settings) -> None:
    job = job_manifest.build_job(execution_body(), settings=wl_settings, secret_name="s")
    volumes = {v["name"]: v for v in _pod(job)["volumes"]}
    tmp = next(m for m in _container(job)["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp["name"]]
    assert volumes[tmp["name"]]["emptyDir"]["sizeLimit"]


def test_image_and_resources_come_from_the_settings(wl_settings: settings.Settings) -> None:
    container = _container(job_manifest.build_job(execution_body(), settings=wl_settings, secret_name="s"))
    assert container["image"] == "registry.example/workspace-link:1.2.3"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }


def test_placement_and_pull_secrets_from_the_settings(wl_settings: settings.Settings) -> None:
    tuned = dataclasses.replace(
        wl_settings,
        runner_image_pull_secrets="regcred, other",
        runner_node_selector='{"pool": "runners"}',
        runner_tolerations='[{"key": "runners", "operator": "Exists", "effect": "NoSchedule"}]',
    )
    job = job_manifest.build_job(execution_body(), settings=tuned, secret_name="s")
    kubernetes_validate.validate(job, "1.30", strict=True)
    pod = _pod(job)
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]
    assert pod["nodeSelector"] == {"pool": "runners"}
    assert pod["tolerations"][0]["key"] == "runners"


def test_a_malformed_setting_is_named(wl_settings: settings.Settings) -> None:
    tuned = dataclasses.replace(wl_settings, runner_node_selector="pool=runners")
    with pytest.raises(errors.SpecError) as caught:
        job_manifest.build_job(execution_body(), settings=tuned, secret_name="s")
    assert caught.value.field == "WL_RUNNER_NODE_SELECTOR"
