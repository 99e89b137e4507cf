"""Engine calls whose refusals a flow author sees before anything reaches the workspace."""

import pytest

import flow_api
from flow_api import client


def this() -> flow_api.Execution:
    # Port 9 answers nothing: a call that reached the client would fail differently.
    api = client.RunnerClient("http://127.0.0.1:9", "x.y", retry_for=0)
    return flow_api.Execution(api, {"name": "run-1", "inputs": {}, "workspace": "ns-a"})


def test_save_refuses_a_field_an_execution_does_not_have() -> None:
    with pytest.raises(flow_api.ExtraInputError, match=r"this.save: unknown argument 'greeting'") as info:
        this().save(greeting="hi")
    assert "output_value" in str(info.value)
    with pytest.raises(
        flow_api.InvalidInputError, match=r"this.save\(\): argument 'output_value' must be a dict"
    ):
        this().save(output_value=["not", "a", "dict"])


def test_save_refuses_a_message_that_is_not_a_string_and_clears_one_without_a_call() -> None:
    # A string message is written at once (tests/integration/executions: it shows while the
    # execution runs); these two never reach the workspace.
    with pytest.raises(flow_api.InvalidInputError, match=r"argument 'message' must be a string"):
        this().save(message=42)
    execution = this()
    execution.save(message=None)
    assert execution.get("message") is None and execution.saved_message is None


@pytest.mark.parametrize(
    ("status", "signal"),
    [
        ("success", flow_api.ExecutionSuccess),
        ("ENDED_SUCCESS", flow_api.ExecutionSuccess),
        ("error", flow_api.ExecutionError),
        ("cancelled", flow_api.ExecutionCancel),
    ],
)
def test_end_raises_the_lifecycle_signal_of_its_status(status: str, signal: type) -> None:
    with pytest.raises(signal) as info:
        this().end(status, "the message")
    assert info.value.message == "the message"


def test_end_with_an_unknown_status_names_it() -> None:
    with pytest.raises(flow_api.InvalidInputError, match=r"this.end\(\): argument 'status' must be"):
        this().end("finished", "x")


def test_calls_the_project_does_not_offer_fail_clearly_never_with_attribute_error() -> None:
    system = flow_api.System("ns-a")
    for call, name in (
        (this().connect, "this.connect"),
        (this().task, "this.task"),
        (system.file, "system.file"),
        (system.message, "system.message"),
        (this().webhook, "this.webhook"),
    ):
        with pytest.raises(flow_api.NotAvailableError, match=rf"{name}\(\) is not available") as info:
            call("anything", key="value")
        assert not isinstance(info.value, AttributeError)
        assert info.value.call == name


def test_flow_arguments_are_checked_before_a_child_is_created() -> None:
    with pytest.raises(flow_api.InvalidInputError, match=r"argument 'wait' must be a system.return_when"):
        this().flow("child", wait="SOMETIMES")
    with pytest.raises(flow_api.InvalidInputError, match=r"argument 'max_runtime_minutes'"):
        this().flow("child", max_runtime_minutes=0)
    with pytest.raises(flow_api.InvalidInputError, match=r"argument 'inputs' must be a dict"):
        this().flow("child", inputs=["x"])


def test_a_child_not_started_can_be_read_but_not_waited_for() -> None:
    child = this().flow("check", run=False, i=3, input_value={"i": 1, "j": 2}, name="check 3")
    assert child.load("name", "status", "input_value") == ("check 3", "PENDING", {"i": 3, "j": 2})
    with pytest.raises(flow_api.CloudomationException, match="run=False and not started"):
        this().wait_for(child)
    with pytest.raises(flow_api.InvalidInputError, match="'outputs' is not a field of a child execution"):
        child.get("outputs")


def test_env_name_is_the_workspace() -> None:
    assert flow_api.System("ns-a").get_env_name() == "ns-a"
