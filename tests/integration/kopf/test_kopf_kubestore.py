"""KubeStore against the emulator: the Store promises the core relies on, over real HTTP."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import kmock
import pytest
from apiserver_emulator import ApiServerEmulator

from workspace_link.adapters.kube import kubestore
from workspace_link.core import errors


def _execution(name: str, **extra_labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "workspacelink.io/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": name, "labels": dict(extra_labels)},
        "spec": {"flow": "hello"},
    }


async def test_a_stale_status_write_is_refused_with_conflict(kube: kubestore.KubeStore) -> None:
    created = await kube.create("Execution", _execution("e1"))
    first = await kube.replace_status("Execution", {**created, "status": {"phase": "Running"}})
    assert first["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]

    with pytest.raises(errors.Conflict):
        await kube.replace_status("Execution", {**created, "status": {"phase": "Failed"}})
    assert (await kube.get("Execution", "e1"))["status"] == {"phase": "Running"}


async def test_status_goes_through_the_status_subresource_with_its_resource_version(
    kube: kubestore.KubeStore, api_server: ApiServerEmulator
) -> None:
    created = await kube.create("Execution", _execution("e2"))
    await kube.replace_status("Execution", {**created, "status": {"phase": "Running"}})

    put = [r for r in list(api_server) if r.method == "PUT"][-1]
    assert put.url.path == "/apis/workspacelink.io/v1alpha1/namespaces/ws-a/executions/e2/status"
    assert json.loads(put.body)["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_a_conditional_patch_is_a_merge_patch_carrying_the_resource_version(
    kube: kubestore.KubeStore, api_server: ApiServerEmulator
) -> None:
    created = await kube.create("Execution", _execution("e3"))
    version = created["metadata"]["resourceVersion"]
    patched = await kube.patch("Execution", "e3", {"spec": {"cancel": True}}, resource_version=version)
    assert patched["spec"] == {"flow": "hello", "cancel": True}

    request = [r for r in list(api_server) if r.method == "PATCH"][-1]
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    # As sent (the emulator then stores a new version into the parsed data).
    assert json.loads(request.body)["metadata"]["resourceVersion"] == version
    with pytest.raises(errors.Conflict):
        await kube.patch("Execution", "e3", {"spec": {"cancel": False}}, resource_version=version)


async def test_taken_names_and_missing_objects(kube: kubestore.KubeStore) -> None:
    await kube.create("Execution", _execution("e4"))
    with pytest.raises(errors.AlreadyExists):
        await kube.create("Execution", _execution("e4"))
    with pytest.raises(errors.NotFound):
        await kube.get("Execution", "nope")
    with pytest.raises(errors.NotFound):
        await kube.delete("Execution", "nope")


async def test_list_sends_a_label_selector_and_keeps_only_matching_objects(
    kube: kubestore.KubeStore, api_server: ApiServerEmulator
) -> None:
    await kube.create("Execution", _execution("child", **{"workspacelink.io/parent": "p1"}))
    await kube.create("Execution", _execution("other", **{"workspacelink.io/parent": "p2"}))

    found = await kube.list("Execution", labels={"workspacelink.io/parent": "p1"})

    assert [body["metadata"]["name"] for body in found] == ["child"]
    assert found[0]["kind"] == "Execution"
    request = [r for r in list(api_server) if r.method == "GET" and "labelSelector" in r.params][-1]
    assert request.params["labelSelector"] == "workspacelink.io/parent=p1"


async def test_a_forbidden_request_says_which_permission_is_missing(
    kube: kubestore.KubeStore, api_server: ApiServerEmulator
) -> None:
    api_server["post", kmock.resource("batch", "v1", "jobs")] << kmock.KubernetesError(
        status=403,
        reason="Forbidden",
        message='jobs.batch is forbidden: User "system:serviceaccount:ws-a:op" cannot create'
        ' resource "jobs" in API group "batch" in the namespace "ws-a"',
    )
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}}

    with pytest.raises(errors.StoreRefused) as caught:
        await kube.create(kubestore.JOB, job)

    assert not isinstance(caught.value, errors.NotFound | errors.Conflict | errors.AlreadyExists)
    assert "may not create jobs (apiGroup 'batch') in namespace ws-a" in str(caught.value)


async def test_a_quota_refusal_is_not_blamed_on_rbac(
    kube: kubestore.KubeStore, api_server: ApiServerEmulator
) -> None:
    api_server["post", kmock.resource("batch", "v1", "jobs")] << kmock.KubernetesError(
        status=403,
        reason="Forbidden",
        message='jobs.batch "j" is forbidden: exceeded quota: compute, requested: count/jobs.batch=1',
    )
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}}

    with pytest.raises(errors.StoreRefused) as caught:
        await kube.create(kubestore.JOB, job)

    assert "exceeded quota" in str(caught.value)
    assert "Role" not in str(caught.value)


async def test_a_rejected_object_names_the_field(
    kube: kubestore.KubeStore, api_server: ApiServerEmulator
) -> None:
    api_server["post", kmock.resource("workspacelink.io", "v1alpha1", "executions")] << kmock.KubernetesError(
        status=422,
        reason="Invalid",
        message='Execution.workspacelink.io "bad" is invalid: spec.timeoutSeconds: Invalid value: 0',
        details={
            "name": "bad",
            "kind": "Execution",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: 0: spec.timeoutSeconds in body should be >= 1",
                    "field": "spec.timeoutSeconds",
                }
            ],
        },
    )

    with pytest.raises(errors.SpecError) as caught:
        await kube.create("Execution", _execution("bad"))

    assert caught.value.field == "spec.timeoutSeconds"
    assert "should be >= 1" in str(caught.value)


async def test_an_event_is_posted_about_the_object(kube: kubestore.KubeStore) -> None:
    created = await kube.create("Execution", _execution("e5"))
    await kube.record_event(created, type="Warning", reason="Tested", message="something to know")

    (event,) = await kube.list("Event")
    assert event["involvedObject"]["name"] == "e5"
    assert event["involvedObject"]["uid"] == created["metadata"]["uid"]
    assert (event["type"], event["reason"], event["message"]) == ("Warning", "Tested", "something to know")


async def test_a_failed_event_post_never_raises(
    kube: kubestore.KubeStore, api_server: ApiServerEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    api_server["post", kmock.resource("", "v1", "events")] << kmock.KubernetesError(status=500)
    body = _execution("e6")
    before = copy.deepcopy(body)

    with caplog.at_level(logging.WARNING, logger=kubestore.__name__):
        await kube.record_event(body, type="Normal", reason="Tested", message="lost")  # returns

    posted = [r for r in list(api_server) if r.method == "POST" and r.url.path.endswith("/events")]
    assert len(posted) == 1  # it was tried, once
    assert body == before  # the caller's object is untouched
    (warning,) = caplog.records  # the failure is logged, once, saying which event and why
    assert warning.getMessage().startswith(
        "could not post event Tested on Execution e6: the API server failed to create Event objects"
        " (HTTP 500)"
    )
