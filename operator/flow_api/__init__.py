"""The module flow scripts import (the README shows a flow; docs/architecture.md, the runner API).

A flow is a Python script with a handler::

    import flow_api

    def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
        child = this.flow('hello', remote_workspace_name='link-to-b', inputs={'name': 'x'})
        this.log('remote said', child.get('output_value'))
        return this.success('all done')

``handler(system, this)`` works too. The public surface is exactly ``__all__`` (pinned by
``tests/unit/flow_api/test_flow_api_surface.py``); everything else is internal.
"""

from flow_api.exceptions import (
    DependencyFailedError,
    FlowApiError,
    InvalidInputError,
    LifecycleCancel,
    LifecycleError,
    LifecycleSignal,
    LifecycleSuccess,
    MissingInputError,
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
    System,
)

__all__ = [
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
]
