"""The execution state machine: which status changes are allowed, and what they write.

Pure: every function takes an Execution ``status`` dict and returns a NEW dict (the input is
never mutated) with ``version`` bumped, so ``engine.executions`` (operator and embedded mode
alike), the link's ``engine.inbox`` and the tests all share one definition of "what a change
means". A terminal phase is final: any change to a terminal status raises
``InvalidTransition``, which is how a late runner call after a cancel is told "too late" instead
of resurrecting the execution.

The reasons are the words a user reads in ``kubectl get executions`` and in events; each has a
message builder here so the same situation is always described the same way.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from workspace_link.core import bounds, errors, resources

Status = dict[str, Any]

#: Pending -> Running -> Succeeded | Failed | Cancelled; Pending may end directly (a flow that
#: does not exist, a cancel before the run started). Terminal phases allow nothing.
TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    resources.PENDING: frozenset(
        {resources.RUNNING, resources.SUCCEEDED, resources.FAILED, resources.CANCELLED}
    ),
    resources.RUNNING: frozenset({resources.SUCCEEDED, resources.FAILED, resources.CANCELLED}),
    resources.SUCCEEDED: frozenset(),
    resources.FAILED: frozenset(),
    resources.CANCELLED: frozenset(),
}

#: The status names of the Engine this project replaces, so flows and dashboards that know them
#: keep working.
ENGINE_STATUS: Final[Mapping[str, str]] = {
    resources.PENDING: "PENDING",
    resources.RUNNING: "RUNNING",
    resources.SUCCEEDED: "ENDED_SUCCESS",
    resources.FAILED: "ENDED_ERROR",
    resources.CANCELLED: "ENDED_CANCELLED",
}

# -- reasons ---------------------------------------------------------------------------------
COMPLETED: Final = "Completed"
FLOW_ERROR: Final = "FlowError"
UNHANDLED_EXCEPTION: Final = "UnhandledException"
INVALID_FLOW: Final = "InvalidFlow"
DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
OOM_KILLED: Final = "OOMKilled"
IMAGE_PULL_FAILED: Final = "ImagePullFailed"
UNSCHEDULABLE: Final = "Unschedulable"
RUNNER_EXITED: Final = "RunnerExited"
CANCELLED: Final = "Cancelled"
PARENT_CANCELLED: Final = "ParentCancelled"
FLOW_NOT_FOUND: Final = "FlowNotFound"
PEER_LOST: Final = "PeerLost"
DEPENDENCY_FAILED: Final = "DependencyFailed"
RUN_LOST: Final = "RunLost"

#: The reason an end reported by a runner gets when it names none.
DEFAULT_REASON: Final[Mapping[str, str]] = {
    resources.SUCCEEDED: COMPLETED,
    resources.FAILED: FLOW_ERROR,
    resources.CANCELLED: CANCELLED,
}


def truncate(text: str, limit: int = bounds.MAX_TEXT_CHARS) -> str:
    """Cut ``text`` to ``limit`` characters, saying that it was cut."""
    if len(text) <= limit:
        return text
    marker = "… [truncated]"
    return text[: max(0, limit - len(marker))] + marker


def completed_message(message: str | None = None) -> str:
    return message or "flow completed"


def flow_error_message(message: str | None) -> str:
    return message or "the flow reported an error"


def unhandled_exception_message(traceback_text: str) -> str:
    # The end of a traceback (the exception itself) matters most: keep the tail when cutting.
    text = traceback_text.rstrip()
    limit = bounds.MAX_TEXT_CHARS
    if len(text) <= limit:
        return text
    marker = "[truncated] …"
    return marker + text[-(limit - len(marker)) :]


def deadline_exceeded_message(seconds: float) -> str:
    return f"Job exceeded its deadline of {seconds:g} s"


def oom_killed_message() -> str:
    return "container OOMKilled"


def image_pull_failed_message(image: str, detail: str | None = None) -> str:
    suffix = f": {detail}" if detail else ""
    return f"image {image} could not be pulled{suffix}"


def unschedulable_message(seconds: float, detail: str | None = None) -> str:
    suffix = f": {detail}" if detail else ""
    return f"the runner pod could not be scheduled for {seconds:g} s{suffix}"


def runner_exited_message(code: int) -> str:
    return f"runner exited with code {code} before reporting"


def cancelled_message() -> str:
    return "cancelled by request"


def parent_cancelled_message(parent: str) -> str:
    return f"cancelled because its parent execution {parent} ended"


def flow_not_found_message(flow: str) -> str:
    return f"flow {flow!r} does not exist in this workspace"


def peer_lost_message(link: str, seconds: float) -> str:
    return f"no successful exchange with the peer of link {link} for {seconds:g} s"


def dependency_failed_message(child: str, phase: str, message: str | None) -> str:
    detail = f": {message}" if message else ""
    return f"child execution {child} ended {phase}{detail}"


# -- transitions -----------------------------------------------------------------------------
def _phase(status: Mapping[str, Any]) -> str:
    return resources.phase({"status": status})


def version(status: Mapping[str, Any]) -> int:
    return int(status.get("version") or 0)


def status_is_terminal(status: Mapping[str, Any]) -> bool:
    """``resources.is_terminal`` for a status alone (a body's status being computed)."""
    return _phase(status) in resources.TERMINAL


def phase_event(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[Literal["Normal", "Warning"], str, str] | None:
    """The event (type, reason, message) that goes with a status change: one per phase change."""
    phase = _phase(new)
    if phase == _phase(old):
        return None
    message = str(new.get("message") or "")
    if phase == resources.RUNNING:
        return "Normal", "Started", f"runner started as {new.get('jobName')}"
    if phase == resources.SUCCEEDED:
        return "Normal", "Succeeded", message
    if phase == resources.FAILED:
        # The last line is enough for an event; the status keeps the whole traceback.
        last = message.splitlines()[-1] if message else ""
        return "Warning", str(new.get("reason") or "Failed"), last
    if phase == resources.CANCELLED:
        return "Warning", str(new.get("reason") or "Cancelled"), message
    return None


def can_transition(current: str, wanted: str) -> bool:
    return wanted in TRANSITIONS.get(current, frozenset())


def engine_status(phase_name: str) -> str:
    return ENGINE_STATUS.get(phase_name, "PENDING")


def _bumped(status: Mapping[str, Any], **changes: Any) -> Status:
    new = copy.deepcopy(dict(status))
    new.update(changes)
    new["version"] = version(status) + 1
    return new


def _require_live(status: Mapping[str, Any], wanted: str) -> None:
    if status_is_terminal(status):
        raise errors.InvalidTransition(_phase(status), wanted)


def start(status: Mapping[str, Any], *, job_name: str, now: datetime.datetime) -> Status:
    """Pending -> Running: the run was claimed and is being started as ``job_name``."""
    current = _phase(status)
    if not can_transition(current, resources.RUNNING):
        raise errors.InvalidTransition(current, resources.RUNNING)
    return _bumped(status, phase=resources.RUNNING, jobName=job_name, startTime=resources.timestamp(now))


def finish(
    status: Mapping[str, Any],
    *,
    phase: str,
    reason: str,
    message: str | None,
    now: datetime.datetime,
) -> Status:
    """Any live phase -> a terminal ``phase`` with its reason and message."""
    if phase not in resources.TERMINAL:
        raise ValueError(f"finish() needs a terminal phase, not {phase!r}")
    current = _phase(status)
    if not can_transition(current, phase):
        raise errors.InvalidTransition(current, phase)
    return _bumped(
        status,
        phase=phase,
        reason=reason,
        message=truncate(message or ""),
        endTime=resources.timestamp(now),
    )


def cancel(
    status: Mapping[str, Any],
    *,
    now: datetime.datetime,
    reason: str = CANCELLED,
    message: str | None = None,
) -> Status:
    """Any live phase -> Cancelled (by request unless another reason is given)."""
    return finish(
        status,
        phase=resources.CANCELLED,
        reason=reason,
        message=message or cancelled_message(),
        now=now,
    )


def _log_lines(lines: Iterable[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        for part in str(line).splitlines() or [""]:
            out.append(truncate(part, bounds.MAX_LOG_LINE_CHARS))
    return out


def append_log(status: Mapping[str, Any], lines: Iterable[str]) -> Status:
    """Append to the bounded ``logTail`` (the full log is the process's output)."""
    _require_live(status, "logged to")
    tail = [*list(status.get("logTail") or []), *_log_lines(lines)]
    return _bumped(status, logTail=tail[-bounds.MAX_LOG_LINES :])


def outputs_size(outputs: Mapping[str, Any]) -> int:
    """Bytes of ``outputs`` as compact JSON; raises ``errors.SpecError`` if not JSON-able."""
    if bounds.json_depth(outputs) > bounds.MAX_JSON_DEPTH:
        raise errors.SpecError(f"nested deeper than {bounds.MAX_JSON_DEPTH} levels", field="outputs")
    try:
        return bounds.json_size(outputs)
    except (TypeError, ValueError) as exc:
        raise errors.SpecError(f"must be JSON-serialisable ({exc})", field="outputs") from None


def save_outputs(status: Mapping[str, Any], outputs: Mapping[str, Any]) -> Status:
    """Merge ``outputs`` into the saved outputs, refusing a result over the size cap."""
    _require_live(status, "given outputs")
    if not isinstance(outputs, Mapping):
        raise errors.SpecError("must be an object", field="outputs")
    outputs_size(outputs)  # refuses over-deep values before deepcopy recurses into them
    merged = {**dict(status.get("outputs") or {}), **copy.deepcopy(dict(outputs))}
    if len(merged) > bounds.MAX_OBJECT_KEYS:
        raise errors.OutputsTooLarge(
            f"would have {len(merged)} keys, over the limit of {bounds.MAX_OBJECT_KEYS}", field="outputs"
        )
    size = outputs_size(merged)
    if size > bounds.MAX_OUTPUTS_BYTES:
        raise errors.OutputsTooLarge(
            f"would be {size} bytes of JSON, over the limit of {bounds.MAX_OUTPUTS_BYTES}",
            field="outputs",
        )
    return _bumped(status, outputs=merged)


def save_message(status: Mapping[str, Any], message: str) -> Status:
    """Set the status message while the execution runs (``this.save(message=...)``): what
    ``kubectl get`` and a waiting parent read until the end writes its own."""
    _require_live(status, "given a message")
    if not isinstance(message, str):
        raise errors.SpecError("must be a string", field="message")
    return _bumped(status, message=truncate(message))
