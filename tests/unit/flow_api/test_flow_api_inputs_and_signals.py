"""What a flow sees of ``this`` without talking to a workspace: inputs and lifecycle signals."""

import pytest

import flow_api
from flow_api import client


def this(**inputs: object) -> flow_api.Execution:
    # The client is never called by these operations.
    api = client.RunnerClient("http://127.0.0.1:9", "x.y", retry_for=0)
    return flow_api.Execution(api, {"name": "run-1", "inputs": inputs, "workspace": "ns-a"})


def test_inputs_are_read_as_the_engine_reads_them() -> None:
    execution = this(name="x", count=3)
    assert execution.get("input_value") == {"name": "x", "count": 3}
    assert execution.get("name") == "run-1"
    assert execution.load("name", "input_value") == ("run-1", {"name": "x", "count": 3})
    with pytest.raises(flow_api.InvalidInputError, match="'outputs' is not a field of this execution"):
        execution.get("outputs")


def test_get_input_checks_presence_and_type() -> None:
    execution = this(count=3, flag=True, ratio=1)
    assert execution.get_input("count", type=int) == 3
    assert execution.get_input("ratio", type=float) == 1.0
    assert execution.get_input("absent", default=7) == 7
    with pytest.raises(flow_api.MissingInputError, match="'absent' is required"):
        execution.get_input("absent")
    with pytest.raises(flow_api.InvalidInputError, match="'count' must be of type str, not int"):
        execution.get_input("count", type=str)
    with pytest.raises(flow_api.InvalidInputError):
        execution.get_input("flag", type=int)


def test_success_and_error_end_the_flow_even_through_except_exception() -> None:
    execution = this()

    def flow(end: str) -> str:
        try:
            if end == "success":
                execution.success("done")
            execution.error("broken")
        except Exception:
            return "swallowed"
        return "unreachable"

    with pytest.raises(flow_api.LifecycleSuccess) as success:
        flow("success")
    assert success.value.message == "done"
    with pytest.raises(flow_api.LifecycleError) as error:
        flow("error")
    assert error.value.message == "broken"


def test_an_unreachable_workspace_is_a_runner_api_error_without_the_token() -> None:
    api = client.RunnerClient("http://127.0.0.1:9", "run-1.very-secret-token", retry_for=0)
    with pytest.raises(flow_api.RunnerApiError) as info:
        api.get("/v1/execution")
    assert "very-secret-token" not in str(info.value)
