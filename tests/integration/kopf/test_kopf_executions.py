"""The Execution handlers on the emulator: an execution becomes a Job, the Job's end its phase."""

from __future__ import annotations

from typing import Any

import kopf
from apiserver_emulator import ApiServerEmulator, parse_selector, selects
from kopf_helpers import NAMESPACE, OperatorThread, eventually

from workspace_link.adapters.kube import handlers, kubestore
from workspace_link.core import errors, job_manifest, labels, naming, settings

FLOW = {
    "apiVersion": "workspacelink.io/v1alpha1",
    "kind": "Flow",
    "metadata": {"name": "hello"},
    "spec": {"script": "def handler(system, this):\n    return this.success('hi')\n"},
}


def _execution(name: str, *, timeout: int | None = 30) -> dict[str, Any]:
    spec: dict[str, Any] = {"flow": "hello", "inputs": {"name": "x"}}
    if timeout is not None:
        spec["timeoutSeconds"] = timeout
    return {
        "apiVersion": "workspacelink.io/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": name},
        "spec": spec,
    }


async def _get(kube: kubestore.KubeStore, kind: str, name: str) -> dict[str, Any] | None:
    try:
        return await kube.get(kind, name)
    except errors.NotFound:
        return None


async def _started(kube: kubestore.KubeStore, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create the Flow and an Execution; wait until the operator created its Job."""
    await kube.create("Flow", FLOW)
    execution = await kube.create("Execution", _execution(name))
    job = await eventually(lambda: _get(kube, kubestore.JOB, naming.job_name(name)), what="the Job")
    return execution, job


async def _phase(kube: kubestore.KubeStore, name: str, wanted: str) -> dict[str, Any] | None:
    body = await _get(kube, "Execution", name)
    return body if body and (body.get("status") or {}).get("phase") == wanted else None


async def test_an_execution_gets_its_job_and_runner_secret(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    execution, job = await _started(kube, "hello-1")

    running = await eventually(lambda: _phase(kube, "hello-1", "Running"), what="phase Running")
    assert running["status"]["jobName"] == job["metadata"]["name"]
    # No finalizer that only the operator could remove (it would hang namespace deletion).
    assert not running["metadata"].get("finalizers")

    secret_name = naming.runner_secret_name("hello-1")
    secret = await kube.get("Secret", secret_name)
    assert set(secret["data"]) == {"token", "url"}
    assert secret["metadata"]["ownerReferences"][0]["uid"] == execution["metadata"]["uid"]

    # The Job is exactly what the builder makes for this execution (the API server adds only
    # its own bookkeeping in metadata).
    expected = job_manifest.build_job(running, settings=settings.Settings.from_env(), secret_name=secret_name)
    assert job["spec"] == expected["spec"]
    assert job["metadata"]["labels"] == expected["metadata"]["labels"]
    assert job["metadata"]["ownerReferences"] == expected["metadata"]["ownerReferences"]
    assert job["metadata"]["ownerReferences"][0]["uid"] == execution["metadata"]["uid"]
    assert job["spec"]["template"]["metadata"]["labels"][labels.COMPONENT] == "runner"


async def test_the_job_and_pod_watches_ask_the_api_server_for_runners_only(
    api_server: ApiServerEmulator, kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-selected")
    await eventually(lambda: _phase(kube, "hello-selected", "Running"), what="phase Running")

    asked = {(plural, verb, selector) for _g, plural, verb, selector in api_server.selectors}
    for plural in ("jobs", "pods"):
        assert {(verb, selector) for p, verb, selector in asked if p == plural} == {
            ("list", handlers.RUNNER_SELECTOR),
            ("watch", handlers.RUNNER_SELECTOR),
        }, plural
    # What the selector keeps: the runner Job and the pods made from its template. Any other
    # Job or pod of the namespace (the operator's own pod) is never streamed to the operator.
    selector = parse_selector(handlers.RUNNER_SELECTOR)
    assert selects(selector, job["metadata"]["labels"])
    assert selects(selector, _runner_pod(job)["metadata"]["labels"])
    assert not selects(selector, {"app.kubernetes.io/name": "workspace-link"})


async def test_a_succeeded_job_ends_the_execution_succeeded(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-2")
    await eventually(lambda: _phase(kube, "hello-2", "Running"), what="phase Running")

    # What the Job controller writes when the pod exited 0.
    await _set_job_status(kube, job, {"succeeded": 1, "conditions": [_condition("Complete")]})

    done = await eventually(lambda: _phase(kube, "hello-2", "Succeeded"), what="phase Succeeded")
    assert done["status"]["reason"] == "Completed"


async def test_a_job_past_its_deadline_fails_the_execution_with_that_reason(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-3")
    await eventually(lambda: _phase(kube, "hello-3", "Running"), what="phase Running")

    failed = _condition("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
    await _set_job_status(kube, job, {"failed": 1, "conditions": [failed]})

    done = await eventually(lambda: _phase(kube, "hello-3", "Failed"), what="phase Failed")
    assert done["status"]["reason"] == "DeadlineExceeded"
    assert done["status"]["message"] == "Job exceeded its deadline of 30 s"


async def test_a_runner_killed_for_memory_fails_the_execution_oom_killed(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-4")
    await eventually(lambda: _phase(kube, "hello-4", "Running"), what="phase Running")
    await kube.create("Pod", _runner_pod(job, terminated={"reason": "OOMKilled", "exitCode": 137}))

    failed = _condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    await _set_job_status(kube, job, {"failed": 1, "conditions": [failed]})

    done = await eventually(lambda: _phase(kube, "hello-4", "Failed"), what="phase Failed")
    assert (done["status"]["reason"], done["status"]["message"]) == ("OOMKilled", "container OOMKilled")


async def test_an_image_that_can_never_be_pulled_fails_the_execution_and_stops_the_job(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-5")
    await eventually(lambda: _phase(kube, "hello-5", "Running"), what="phase Running")

    await kube.create("Pod", _runner_pod(job, waiting="InvalidImageName"))

    done = await eventually(lambda: _phase(kube, "hello-5", "Failed"), what="phase Failed")
    assert done["status"]["reason"] == "ImagePullFailed"
    assert "registry.example/workspace-link:test" in done["status"]["message"]
    await eventually(
        lambda: _absent(kube, kubestore.JOB, job["metadata"]["name"]), what="the Job to be deleted"
    )


async def test_a_deleted_execution_leaves_no_job_or_secret_behind(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-6")
    await eventually(lambda: _phase(kube, "hello-6", "Running"), what="phase Running")
    secret_name = naming.runner_secret_name("hello-6")
    assert await _get(kube, "Secret", secret_name) is not None

    await kube.delete("Execution", "hello-6")

    # The emulator has no garbage collector: these go because the operator deletes them when
    # it sees the Execution deleted (no finalizer holds the Execution back meanwhile).
    await eventually(lambda: _absent(kube, "Execution", "hello-6"), what="the Execution to go")
    await eventually(lambda: _absent(kube, kubestore.JOB, job["metadata"]["name"]), what="the Job to go")
    await eventually(lambda: _absent(kube, "Secret", secret_name), what="the runner Secret to go")


async def test_a_cancelled_execution_is_cancelled_and_its_job_deleted(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-7")
    await eventually(lambda: _phase(kube, "hello-7", "Running"), what="phase Running")

    await kube.patch("Execution", "hello-7", {"spec": {"cancel": True}})

    done = await eventually(lambda: _phase(kube, "hello-7", "Cancelled"), what="phase Cancelled")
    assert done["status"]["message"] == "cancelled by request"
    await eventually(
        lambda: _absent(kube, kubestore.JOB, job["metadata"]["name"]), what="the Job to be deleted"
    )


async def test_a_job_deleted_while_running_fails_the_execution_instead_of_hanging(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    _, job = await _started(kube, "hello-8")
    await eventually(lambda: _phase(kube, "hello-8", "Running"), what="phase Running")

    await kube.delete(kubestore.JOB, job["metadata"]["name"], propagation_policy="Background")

    done = await eventually(lambda: _phase(kube, "hello-8", "Failed"), what="phase Failed")
    assert done["status"]["reason"] == "JobDeleted"


# -- helpers -------------------------------------------------------------------------------------
def _condition(type_: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": type_, "status": "True", "reason": reason, "message": message}


async def _set_job_status(kube: kubestore.KubeStore, job: dict[str, Any], status: dict[str, Any]) -> None:
    current = await kube.get(kubestore.JOB, job["metadata"]["name"])
    await kube.replace_status(kubestore.JOB, {**current, "status": status})


async def _absent(kube: kubestore.KubeStore, kind: str, name: str) -> bool:
    return await _get(kube, kind, name) is None


def _runner_pod(
    job: dict[str, Any], *, terminated: dict[str, Any] | None = None, waiting: str | None = None
) -> dict[str, Any]:
    """A pod as the Job controller creates it from the template, with the kubelet's status."""
    template = job["spec"]["template"]
    state: dict[str, Any] = {}
    if terminated is not None:
        state["terminated"] = terminated
    if waiting is not None:
        state["waiting"] = {"reason": waiting, "message": "couldn't parse image reference"}
    image = template["spec"]["containers"][0]["image"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job['metadata']['name']}-abcde",
            "namespace": NAMESPACE,
            "labels": {**template["metadata"]["labels"], "job-name": job["metadata"]["name"]},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": job["metadata"]["name"],
                    "uid": job["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": template["spec"],
        "status": {
            "phase": "Failed" if terminated else "Pending",
            "containerStatuses": [{"name": "runner", "image": image, "state": state}],
        },
    }


async def test_a_running_execution_whose_job_is_gone_at_startup_fails_instead_of_running_twice(
    kube: kubestore.KubeStore,
) -> None:
    # Left Running by an earlier operator; its Job finished and expired while nobody watched.
    await kube.create("Flow", FLOW)
    created = await kube.create("Execution", _execution("orphan"))
    status = {"phase": "Running", "jobName": naming.job_name("orphan"), "version": 2}
    await kube.replace_status("Execution", {**created, "status": status})

    operator = OperatorThread()  # starts now and resumes what it finds
    await operator.start()
    try:
        failed = await eventually(lambda: _phase(kube, "orphan", "Failed"), what="phase Failed")
        assert failed["status"]["reason"] == "RunLost"
        assert "not started again" in failed["status"]["message"]
        assert await _get(kube, kubestore.JOB, naming.job_name("orphan")) is None
    finally:
        await operator.stop()
    operator.raise_failure()


async def test_kopf_keeps_the_script_out_of_its_annotations(
    kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    # A 200 KiB script (the CRD allows 256 KiB): copied into kopf's last-handled-configuration
    # annotation it would break the API server's 256 KiB limit on all annotations together.
    script = "def handler(system, this):\n    return this.success('big')\n" + "# padding\n" * 20_000
    body = _execution("big-script")
    body["spec"] = {"script": script, "inputs": {"blob": "x" * 1000}}
    await kube.create("Execution", body)
    await eventually(lambda: _get(kube, kubestore.JOB, naming.job_name("big-script")), what="the Job")

    async def handled() -> dict[str, Any] | None:
        found = await _get(kube, "Execution", "big-script")
        return found if (found or {}).get("status", {}).get("phase") == "Running" else None

    found = await eventually(handled, what="the execution claimed")
    annotations = found["metadata"].get("annotations") or {}
    # Executions have event handlers only: kopf keeps no diff base (nor progress) on them at all.
    assert "workspacelink.io/last-handled-configuration" not in annotations
    assert "padding" not in "".join(annotations.values())
    assert "x" * 1000 not in "".join(annotations.values())
    assert sum(len(value) for value in annotations.values()) < 4096
