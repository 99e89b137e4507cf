"""The module flow scripts import: the Cloudomation Engine's flow API.

A flow is a Python script with a handler::

    import flow_api

    def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
        child = this.flow('hello', remote_workspace_name='link-to-b', name='x')
        this.log('remote said', child.get('output_value'))
        return this.success('all done')

``handler(system, this)`` works too. The public surface is exactly ``__all__`` (pinned by
``tests/unit/flow_api/test_flow_api_surface.py``); everything else is internal.
docs/flow-api.md lists every Engine call and what it does here.
"""

from flow_api.exceptions import (
    CloudomationException,
    DependencyFailedError,
    DependencyTimeoutError,
    EngineException,
    ExecutionCancel,
    ExecutionError,
    ExecutionSuccess,
    ExtraInputError,
    FlowApiError,
    InvalidInputError,
    LifecycleCancel,
    LifecycleError,
    LifecycleSignal,
    LifecycleSuccess,
    LockTimeoutError,
    MissingInputError,
    NotAvailableError,
    PermissionDenied,
    ResourceNotFoundError,
    RunnerApiError,
    TimeoutExceededError,
)
from flow_api.execution import (
    ENDED_CANCELLED,
    ENDED_ERROR,
    ENDED_SUCCESS,
    PENDING,
    RUNNING,
    ChildExecution,
    Execution,
    ReturnWhen,
    Setting,
    System,
)

#: ``flow_api.return_when.ALL_ENDED``, as ``system.return_when``.
return_when = ReturnWhen

__all__ = [
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
]
