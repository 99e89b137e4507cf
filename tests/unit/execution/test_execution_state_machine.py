"""The execution state machine: allowed changes, bounded logs and outputs, final terminal phases."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workspace_link.core import bounds, errors, execution_state, resources

NOW = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def running() -> dict:
    return execution_state.start({}, job_name="job-a", now=NOW)


def test_start_claims_a_pending_execution_and_bumps_the_version() -> None:
    before: dict = {"version": 3}
    after = execution_state.start(before, job_name="job-a", now=NOW)
    assert after["phase"] == resources.RUNNING
    assert after["jobName"] == "job-a"
    assert after["startTime"] == "2025-01-02T03:04:05Z"
    assert after["version"] == 4
    assert before == {"version": 3}, "the input status is never mutated"


def test_a_running_execution_cannot_be_started_twice() -> None:
    with pytest.raises(errors.InvalidTransition):
        execution_state.start(running(), job_name="job-a", now=NOW)


@pytest.mark.parametrize("phase", sorted(resources.TERMINAL))
def test_a_terminal_phase_is_final(phase: str) -> None:
    ended = execution_state.finish(running(), phase=phase, reason="X", message="m", now=NOW)
    for change in (
        lambda s: execution_state.start(s, job_name="j", now=NOW),
        lambda s: execution_state.finish(s, phase=resources.FAILED, reason="X", message=None, now=NOW),
        lambda s: execution_state.cancel(s, now=NOW),
        lambda s: execution_state.append_log(s, ["late"]),
        lambda s: execution_state.save_outputs(s, {"late": 1}),
    ):
        with pytest.raises(errors.InvalidTransition) as info:
            change(ended)
        assert phase in str(info.value)


def test_finish_records_reason_message_and_end_time() -> None:
    ended = execution_state.finish(
        running(), phase=resources.FAILED, reason=execution_state.FLOW_ERROR, message="boom", now=NOW
    )
    assert (ended["phase"], ended["reason"], ended["message"]) == (resources.FAILED, "FlowError", "boom")
    assert ended["endTime"] == "2025-01-02T03:04:05Z"


def test_a_pending_execution_can_be_cancelled_before_it_runs() -> None:
    cancelled = execution_state.cancel({}, now=NOW)
    assert cancelled["phase"] == resources.CANCELLED
    assert cancelled["reason"] == execution_state.CANCELLED
    assert cancelled["message"] == "cancelled by request"


def test_the_log_tail_is_bounded_in_lines_and_line_length() -> None:
    status = running()
    status = execution_state.append_log(status, ["x" * (bounds.MAX_LOG_LINE_CHARS + 50)])
    assert len(status["logTail"][0]) == bounds.MAX_LOG_LINE_CHARS
    status = execution_state.append_log(status, [f"line {i}" for i in range(bounds.MAX_LOG_LINES + 10)])
    assert len(status["logTail"]) == bounds.MAX_LOG_LINES
    assert status["logTail"][-1] == f"line {bounds.MAX_LOG_LINES + 9}"


def test_a_multi_line_log_call_becomes_several_lines() -> None:
    status = execution_state.append_log(running(), ["one\ntwo"])
    assert status["logTail"] == ["one", "two"]


def test_outputs_merge() -> None:
    status = execution_state.save_outputs(running(), {"a": 1, "b": 2})
    status = execution_state.save_outputs(status, {"b": 3, "c": [1]})
    assert status["outputs"] == {"a": 1, "b": 3, "c": [1]}


def test_outputs_over_the_cap_are_refused_naming_the_field() -> None:
    status = execution_state.save_outputs(running(), {"a": 1})
    with pytest.raises(errors.SpecError) as info:
        execution_state.save_outputs(status, {"big": "x" * bounds.MAX_OUTPUTS_BYTES})
    assert info.value.field == "outputs"
    assert "over the limit" in str(info.value)


def test_outputs_with_more_keys_than_the_crd_allows_are_refused() -> None:
    status = execution_state.save_outputs(running(), {f"k{i}": i for i in range(bounds.MAX_OBJECT_KEYS)})
    with pytest.raises(errors.SpecError) as info:
        execution_state.save_outputs(status, {"one-more": 1})
    assert info.value.field == "outputs"
    assert f"over the limit of {bounds.MAX_OBJECT_KEYS}" in str(info.value)
    assert execution_state.save_outputs(status, {"k0": "replaced"})["outputs"]["k0"] == "replaced"


def test_outputs_must_be_json() -> None:
    with pytest.raises(errors.SpecError) as info:
        execution_state.save_outputs(running(), {"when": NOW})
    assert info.value.field == "outputs"


def test_an_unhandled_exception_message_keeps_the_end_of_a_long_traceback() -> None:
    traceback_text = "Traceback (most recent call last):\n" + "  frame\n" * 2000 + "ValueError: the cause"
    message = execution_state.unhandled_exception_message(traceback_text)
    assert len(message) <= bounds.MAX_TEXT_CHARS
    assert message.endswith("ValueError: the cause")


def test_long_messages_are_truncated() -> None:
    ended = execution_state.finish(
        running(), phase=resources.FAILED, reason="X", message="m" * 10_000, now=NOW
    )
    assert len(ended["message"]) <= bounds.MAX_TEXT_CHARS


def test_reason_messages_say_what_happened() -> None:
    assert execution_state.deadline_exceeded_message(30) == "Job exceeded its deadline of 30 s"
    assert execution_state.oom_killed_message() == "container OOMKilled"
    assert execution_state.image_pull_failed_message("repo/img:1") == "image repo/img:1 could not be pulled"
    assert execution_state.runner_exited_message(137) == "runner exited with code 137 before reporting"
    assert execution_state.cancelled_message() == "cancelled by request"
    assert "hello" in execution_state.flow_not_found_message("hello")


def test_phases_map_to_the_engine_statuses() -> None:
    assert execution_state.engine_status(resources.SUCCEEDED) == "ENDED_SUCCESS"
    assert execution_state.engine_status(resources.FAILED) == "ENDED_ERROR"
    assert execution_state.engine_status(resources.CANCELLED) == "ENDED_CANCELLED"
    assert execution_state.engine_status(resources.RUNNING) == "RUNNING"
    assert execution_state.engine_status(resources.PENDING) == "PENDING"


_events = st.one_of(
    st.just(("start",)),
    st.tuples(st.just("finish"), st.sampled_from(sorted(resources.TERMINAL))),
    st.just(("cancel",)),
    st.tuples(st.just("log"), st.lists(st.text(max_size=20), max_size=3)),
    st.tuples(st.just("save"), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)),
)


def _apply(status: dict, event: tuple) -> dict:
    kind = event[0]
    if kind == "start":
        return execution_state.start(status, job_name="j", now=NOW)
    if kind == "finish":
        return execution_state.finish(status, phase=event[1], reason="R", message="m", now=NOW)
    if kind == "cancel":
        return execution_state.cancel(status, now=NOW)
    if kind == "log":
        return execution_state.append_log(status, event[1])
    return execution_state.save_outputs(status, event[1])


@given(st.lists(_events, max_size=30))
def test_no_sequence_of_events_leaves_a_terminal_phase_and_versions_only_grow(events: list) -> None:
    status: dict = {}
    terminal_phase = None
    for event in events:
        try:
            new = _apply(status, event)
        except errors.InvalidTransition:
            assert resources.phase({"status": status}) in resources.TERMINAL or event[0] == "start"
            continue
        assert new["version"] == execution_state.version(status) + 1
        if terminal_phase is not None:
            raise AssertionError(f"{event} changed a {terminal_phase} execution")
        status = new
        if execution_state.status_is_terminal(status):
            terminal_phase = resources.phase({"status": status})
    if terminal_phase is not None:
        assert resources.phase({"status": status}) == terminal_phase
