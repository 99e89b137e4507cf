"""The runner Job of an execution, and what a Job or its pod says about how the run ended.

Why it exists: the Job is where code that may have arrived from a peer runs, so its manifest
is a security promise (README.md: "runs in a Job with no Kubernetes credentials at all") and
is built in one pure function that unit tests pin down:
no Kubernetes credentials (``automountServiceAccountToken: false``), a pod that passes the
"restricted" Pod Security profile, resource limits, the runner credentials handed over as a
read-only Secret volume (never env or args), and labels the runner NetworkPolicy selects.

The second half reads what the runner cannot report itself: a Job failed on its deadline or
its backoff limit (OOMKilled, an exit code), an image that cannot be pulled, a pod that cannot
be scheduled for longer than ``settings.pending_pod_timeout``. Pure: bodies and a clock in,
``(phase, reason, message)`` out; ``job_executor`` feeds them from kopf events.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from workspace_link.core import (
    errors,
    execution_state,
    labels,
    naming,
    resources,
    runner_credentials,
    settings,
)

Outcome = tuple[str, str, str]

#: Numeric user/group of the runner: "restricted" needs a non-root user the kubelet can verify
#: without reading the image, hence a number. The image's ``USER`` is the same.
RUNNER_UID: Final = 10001
CONTAINER_NAME: Final = "runner"
COMPONENT_RUNNER: Final = "runner"
#: Mode of the Secret files. With ``fsGroup`` the kubelet adds group read (0440, group
#: RUNNER_UID), so the non-root runner can read them and nobody else in the pod can write them.
SECRET_MODE: Final = 0o400
#: Bound on the writable /tmp (an emptyDir), so a flow cannot fill the node's disk.
TMP_SIZE_LIMIT: Final = "256Mi"

#: Reason of an execution whose Job was deleted before it ended (not one of ours: we delete
#: Jobs only after their execution ended).
JOB_DELETED: Final = "JobDeleted"

#: Waiting reasons that mean the image cannot be pulled. InvalidImageName never recovers, so
#: it fails at once; the others may be transient (registry hiccup) until the pending timeout.
_PULL_FAILURES: Final = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "RegistryUnavailable"}
)
_PULL_NEVER_RECOVERS: Final = frozenset({"InvalidImageName", "ErrImageNeverPull"})


def _setting_json(value: str | None, *, setting: str, expect: type) -> Any:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        raise errors.SpecError("is not valid JSON", field=setting) from None
    if not isinstance(parsed, expect):
        raise errors.SpecError(f"must be a JSON {expect.__name__}", field=setting)
    return parsed


def job_labels(execution_body: resources.Body) -> dict[str, str]:
    """Labels of the Job and its pods: managed-by, the execution, component runner, origin link."""
    name = resources.name(execution_body)
    extra = {
        labels.EXECUTION: labels.value(name),
        labels.COMPONENT: COMPONENT_RUNNER,
    }
    origin_link = resources.labels(execution_body).get(labels.ORIGIN_LINK) or str(
        resources.origin(execution_body).get("link") or ""
    )
    if origin_link:
        extra[labels.ORIGIN_LINK] = labels.value(origin_link)
    return labels.managed(**extra)


def build_job(
    execution_body: resources.Body, *, settings: settings.Settings, secret_name: str
) -> resources.Body:
    """The batch/v1 Job that runs ``execution_body``'s script with the runner.

    Raises ``errors.SpecError`` naming the setting when a JSON setting is malformed.
    """
    name = resources.name(execution_body)
    job_labels_ = job_labels(execution_body)
    spec = resources.spec(execution_body)
    node_selector = _setting_json(
        settings.runner_node_selector, setting="WL_RUNNER_NODE_SELECTOR", expect=dict
    )
    tolerations = _setting_json(settings.runner_tolerations, setting="WL_RUNNER_TOLERATIONS", expect=list)
    pull_secrets = [s.strip() for s in (settings.runner_image_pull_secrets or "").split(",") if s.strip()]

    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": settings.runner_image,
        "imagePullPolicy": settings.runner_image_pull_policy,
        "command": ["python", "-m", "workspace_link.runner"],
        "env": [
            {"name": runner_credentials.DIR_ENV, "value": runner_credentials.JOB_DIR},
            # The root filesystem is read-only: caches and home go to the /tmp emptyDir.
            {"name": "HOME", "value": "/tmp"},  # noqa: S108  (the pod's own emptyDir)
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
        ],
        "volumeMounts": [
            {"name": "credentials", "mountPath": runner_credentials.JOB_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
        ],
        "resources": {
            "requests": {"cpu": settings.runner_cpu_request, "memory": settings.runner_memory_request},
            "limits": {"cpu": settings.runner_cpu_limit, "memory": settings.runner_memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.runner_service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_UID,
            "fsGroup": RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "credentials", "secret": {"secretName": secret_name, "defaultMode": SECRET_MODE}},
            {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
        ],
    }
    if pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    if tolerations:
        pod_spec["tolerations"] = tolerations

    job_spec: dict[str, Any] = {
        # One attempt: a flow is not idempotent, a retry could repeat its side effects.
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": settings.job_ttl_after_finished,
        "template": {"metadata": {"labels": dict(job_labels_)}, "spec": pod_spec},
    }
    timeout = spec.get("timeoutSeconds")
    if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout >= 1:
        job_spec["activeDeadlineSeconds"] = timeout

    metadata: dict[str, Any] = {
        "name": naming.job_name(name),
        "labels": job_labels_,
        # Blocking: a foreground deletion of the Execution waits until its Job (and its pods)
        # is gone.
        "ownerReferences": [
            resources.owner_reference(execution_body, controller=True, block_owner_deletion=True)
        ],
    }
    namespace = (execution_body.get("metadata") or {}).get("namespace")
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}


# -- outcomes ----------------------------------------------------------------------------------
def _condition(body: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_ and condition.get("status") == "True":
            return dict(condition)
    return None


def _runner_terminated(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The runner container's terminated state in the newest pod that has one."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") != CONTAINER_NAME:
                continue
            terminated = (status.get("state") or {}).get("terminated") or (status.get("lastState") or {}).get(
                "terminated"
            )
            if terminated:
                created = str((pod.get("metadata") or {}).get("creationTimestamp") or "")
                found.append((created, terminated))
    return max(found, key=lambda item: item[0])[1] if found else None


def job_outcome(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> Outcome | None:
    """How a finished Job ended, as ``(phase, reason, message)``; None while it runs.

    Complete means the runner exited 0; a runner that reported its own end has already set a
    terminal phase, which ``executions.run_ended`` leaves alone.
    """
    if _condition(job, "Complete") is not None:
        return resources.SUCCEEDED, execution_state.COMPLETED, execution_state.completed_message()
    failed = _condition(job, "Failed")
    if failed is None:
        return None
    if failed.get("reason") == "DeadlineExceeded":
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds") or 0
        return (
            resources.FAILED,
            execution_state.DEADLINE_EXCEEDED,
            execution_state.deadline_exceeded_message(deadline),
        )
    terminated = _runner_terminated(pods)
    if terminated is not None:
        if terminated.get("reason") == "OOMKilled":
            return resources.FAILED, execution_state.OOM_KILLED, execution_state.oom_killed_message()
        code = terminated.get("exitCode")
        if isinstance(code, int):
            return (
                resources.FAILED,
                execution_state.RUNNER_EXITED,
                execution_state.runner_exited_message(code),
            )
    detail = str(failed.get("message") or failed.get("reason") or "the Job failed")
    return resources.FAILED, execution_state.RUNNER_EXITED, f"the runner Job failed: {detail}"


def job_deleted_outcome() -> Outcome:
    return resources.FAILED, JOB_DELETED, "the runner Job was deleted before the run ended"


def _since(value: Any, fallback: datetime.datetime | None) -> datetime.datetime | None:
    if isinstance(value, str) and value:
        try:
            return resources.parse_timestamp(value)
        except ValueError:
            return fallback
    return fallback


def _created(pod: Mapping[str, Any]) -> datetime.datetime | None:
    return _since((pod.get("metadata") or {}).get("creationTimestamp"), None)


def _pull_failure(pod: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(waiting reason, image, detail) of the runner container when its image cannot be pulled."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if reason in _PULL_FAILURES or reason in _PULL_NEVER_RECOVERS:
            image = str(status.get("image") or "")
            if not image:
                containers = (pod.get("spec") or {}).get("containers") or []
                image = str(containers[0].get("image", "")) if containers else ""
            detail = f"{reason}: {waiting['message']}" if waiting.get("message") else reason
            return reason, image, detail
    return None


def _unschedulable(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return dict(condition)
    return None


def pod_problem(pod: Mapping[str, Any], *, now: datetime.datetime, pending_timeout: float) -> Outcome | None:
    """A failure the Job will never report itself, once it is certain (see the module doc)."""
    pull = _pull_failure(pod)
    if pull is not None:
        reason, image, detail = pull
        started = _created(pod)
        ripe = started is not None and (now - started).total_seconds() >= pending_timeout
        if reason in _PULL_NEVER_RECOVERS or ripe:
            return (
                resources.FAILED,
                execution_state.IMAGE_PULL_FAILED,
                execution_state.image_pull_failed_message(image, detail),
            )
        return None
    condition = _unschedulable(pod)
    if condition is not None:
        since = _since(condition.get("lastTransitionTime"), _created(pod))
        if since is not None and (now - since).total_seconds() >= pending_timeout:
            return (
                resources.FAILED,
                execution_state.UNSCHEDULABLE,
                execution_state.unschedulable_message(
                    pending_timeout, str(condition.get("message") or "") or None
                ),
            )
    return None


def pod_recheck_at(pod: Mapping[str, Any], *, pending_timeout: float) -> datetime.datetime | None:
    """When a pod that is stuck now (pull back-off, unschedulable) must be looked at again.

    Neither condition is guaranteed to produce another watch event when the timeout passes,
    so the caller schedules a re-check at this time; None when nothing is pending.
    """
    timeout = datetime.timedelta(seconds=pending_timeout)
    if _pull_failure(pod) is not None:
        started = _created(pod)
        return started + timeout if started is not None else None
    condition = _unschedulable(pod)
    if condition is not None:
        since = _since(condition.get("lastTransitionTime"), _created(pod))
        return since + timeout if since is not None else None
    return None


def owner_name(body: Mapping[str, Any], kind: str) -> str | None:
    """The controller owner's name of ``kind`` (a Job's Execution, a pod's Job)."""
    for ref in (body.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == kind and ref.get("controller"):
            return str(ref.get("name"))
    return None


def owner_uid(body: Mapping[str, Any], kind: str) -> str | None:
    for ref in (body.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == kind and ref.get("controller"):
            return str(ref.get("uid"))
    return None
