"""The public surface of ``flow_api`` is exactly this: changing it is a decision, not an accident."""

import flow_api

EXPECTED = {
    "ENDED_CANCELLED",
    "ENDED_ERROR",
    "ENDED_SUCCESS",
    "PENDING",
    "RUNNING",
    "ChildExecution",
    "DependencyFailedError",
    "Execution",
    "FlowApiError",
    "InvalidInputError",
    "LifecycleCancel",
    "LifecycleError",
    "LifecycleSignal",
    "LifecycleSuccess",
    "MissingInputError",
    "RunnerApiError",
    "System",
    "TimeoutExceededError",
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
        flow_api.MissingInputError,
        flow_api.InvalidInputError,
        flow_api.RunnerApiError,
    ):
        assert issubclass(error, flow_api.FlowApiError)
        assert issubclass(error, Exception)
