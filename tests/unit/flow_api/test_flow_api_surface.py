"""The public surface of ``flow_api`` is exactly this: changing it is a decision, not an accident."""

import flow_api

EXPECTED = {
    "ENDED_CANCELLED",
    "ENDED_ERROR",
    "ENDED_SUCCESS",
    "PENDING",
    "RUNNING",
    "ChildExecution",
    "CloudomationException",
    "DependencyFailedError",
    "DependencyTimeoutError",
    "EngineException",
    "Execution",
    "ExecutionCancel",
    "ExecutionError",
    "ExecutionSuccess",
    "ExtraInputError",
    "FlowApiError",
    "InvalidInputError",
    "LifecycleCancel",
    "LifecycleError",
    "LifecycleSignal",
    "LifecycleSuccess",
    "LockTimeoutError",
    "MissingInputError",
    "NotAvailableError",
    "PermissionDenied",
    "ResourceNotFoundError",
    "ReturnWhen",
    "RunnerApiError",
    "Setting",
    "System",
    "TimeoutExceededError",
    "return_when",
}


def test_all_is_pinned() -> None:
    assert set(flow_api.__all__) == EXPECTED
    assert len(flow_api.__all__) == len(EXPECTED)


def test_every_exported_name_exists_and_is_public() -> None:
    for name in flow_api.__all__:
        assert hasattr(flow_api, name), name
    public = {name for name in vars(flow_api) if not name.startswith("_")}
    # Submodules are importable but are not part of the promise.
    assert public - EXPECTED <= {"client", "exceptions", "execution"}


def test_lifecycle_signals_are_not_swallowed_by_except_exception() -> None:
    for signal in (flow_api.LifecycleSuccess, flow_api.LifecycleError, flow_api.LifecycleCancel):
        assert issubclass(signal, flow_api.LifecycleSignal)
        assert issubclass(signal, BaseException)
        assert not issubclass(signal, Exception)


def test_errors_a_flow_may_catch_are_exceptions() -> None:
    for error in (
        flow_api.DependencyFailedError,
        flow_api.TimeoutExceededError,
        flow_api.DependencyTimeoutError,
        flow_api.LockTimeoutError,
        flow_api.MissingInputError,
        flow_api.InvalidInputError,
        flow_api.ExtraInputError,
        flow_api.ResourceNotFoundError,
        flow_api.PermissionDenied,
        flow_api.NotAvailableError,
        flow_api.RunnerApiError,
    ):
        assert issubclass(error, flow_api.CloudomationException)
        assert issubclass(error, Exception)


def test_the_engine_tree_and_the_older_names() -> None:
    assert flow_api.FlowApiError is flow_api.CloudomationException
    assert flow_api.EngineException is flow_api.CloudomationException
    assert flow_api.LifecycleSuccess is flow_api.ExecutionSuccess
    assert flow_api.LifecycleError is flow_api.ExecutionError
    assert flow_api.LifecycleCancel is flow_api.ExecutionCancel
    assert issubclass(flow_api.DependencyTimeoutError, flow_api.TimeoutExceededError)
    assert issubclass(flow_api.LockTimeoutError, flow_api.TimeoutExceededError)
    assert not issubclass(flow_api.LifecycleSignal, flow_api.CloudomationException)
    assert flow_api.return_when is flow_api.System.return_when
    assert {member.value for member in flow_api.return_when} >= {"ALL_SUCCEEDED", "ALL_ENDED", "FIRST_ENDED"}
