"""What a Job or its pod says about how a run ended, in the words an execution's status uses."""

from __future__ import annotations

import datetime

from jobs_builders import condition, job_body, pod_body

from workspace_link.core import job_manifest

T0 = datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.UTC)


def test_a_running_job_has_no_outcome() -> None:
    assert job_manifest.job_outcome(job_body(), []) is None
    assert job_manifest.job_outcome(job_body(condition("Failed", "X", status="False")), []) is None


def test_a_complete_job_succeeded() -> None:
    phase, reason, _ = job_manifest.job_outcome(job_body(condition("Complete")), []) or ("", "", "")
    assert (phase, reason) == ("Succeeded", "Completed")


def test_deadline_exceeded() -> None:
    outcome = job_manifest.job_outcome(job_body(condition("Failed", "DeadlineExceeded"), deadline=30), [])
    assert outcome is not None
    phase, reason, message = outcome
    assert (phase, reason) == ("Failed", "DeadlineExceeded")
    assert message.startswith("Job exceeded its deadline")
    assert "30" in message


def test_backoff_limit_with_an_oom_killed_runner() -> None:
    pod = pod_body(terminated={"reason": "OOMKilled", "exitCode": 137})
    outcome = job_manifest.job_outcome(job_body(condition("Failed", "BackoffLimitExceeded")), [pod])
    assert outcome == ("Failed", "OOMKilled", "container OOMKilled")


def test_backoff_limit_with_an_exit_code() -> None:
    pod = pod_body(terminated={"reason": "Error", "exitCode": 3})
    outcome = job_manifest.job_outcome(job_body(condition("Failed", "BackoffLimitExceeded")), [pod])
    assert outcome is not None
    assert outcome[:2] == ("Failed", "RunnerExited")
    assert "code 3" in outcome[2]


def test_backoff_limit_without_pods_says_what_the_job_said() -> None:
    failed = condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    outcome = job_manifest.job_outcome(job_body(failed), [])
    assert outcome is not None
    assert outcome[0] == "Failed"
    assert "backoff limit" in outcome[2]


def test_invalid_image_name_fails_at_once_naming_the_image() -> None:
    pod = pod_body(waiting="InvalidImageName", image="bad image")
    outcome = job_manifest.pod_problem(pod, now=T0, pending_timeout=300)
    assert outcome is not None
    assert outcome[:2] == ("Failed", "ImagePullFailed")
    assert "bad image" in outcome[2]


def test_image_pull_back_off_fails_only_after_the_timeout() -> None:
    pod = pod_body(waiting="ImagePullBackOff", waiting_message="not found")
    before = T0 + datetime.timedelta(seconds=299)
    after = T0 + datetime.timedelta(seconds=300)

    assert job_manifest.pod_problem(pod, now=before, pending_timeout=300) is None
    assert job_manifest.pod_recheck_at(pod, pending_timeout=300) == after
    outcome = job_manifest.pod_problem(pod, now=after, pending_timeout=300)
    assert outcome is not None
    assert outcome[:2] == ("Failed", "ImagePullFailed")
    assert "registry.example/runner:1" in outcome[2]
    assert "not found" in outcome[2]


def test_unschedulable_longer_than_the_timeout_gives_the_schedulers_message() -> None:
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient memory.",
        "lastTransitionTime": "2024-05-01T10:00:05Z",
    }
    pod = pod_body(conditions=[scheduled])
    assert job_manifest.pod_problem(pod, now=T0 + datetime.timedelta(seconds=60), pending_timeout=120) is None
    recheck = job_manifest.pod_recheck_at(pod, pending_timeout=120)
    assert recheck == T0 + datetime.timedelta(seconds=125)

    outcome = job_manifest.pod_problem(pod, now=recheck, pending_timeout=120)
    assert outcome is not None
    assert outcome[:2] == ("Failed", "Unschedulable")
    assert "Insufficient memory" in outcome[2]


def test_a_healthy_pending_pod_is_no_problem() -> None:
    pod = pod_body(waiting="ContainerCreating")
    assert job_manifest.pod_problem(pod, now=T0 + datetime.timedelta(hours=1), pending_timeout=300) is None
    assert job_manifest.pod_recheck_at(pod, pending_timeout=300) is None
