"""What a flow can raise or catch.

Two families, on purpose:

- **Lifecycle signals** (``this.success``, ``this.error``, a cancel) derive from
  ``BaseException``, not ``Exception``: they end the execution, and a flow's own
  ``except Exception:`` must not swallow them by accident.
- **Errors** (``Exception``): a failed child, a wait that ran out, a missing or malformed
  input, a refused runner API call. A flow may catch them; unhandled, they fail the execution.
"""

from __future__ import annotations


class LifecycleSignal(BaseException):
    """Ends the execution. ``message`` becomes the execution's status message."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message


class LifecycleSuccess(LifecycleSignal):
    """``this.success(message)``: end Succeeded."""


class LifecycleError(LifecycleSignal):
    """``this.error(message)``: end Failed with reason FlowError."""


class LifecycleCancel(LifecycleSignal):
    """The execution was cancelled (or had already ended): stop now, end Cancelled."""


class FlowApiError(Exception):
    """Base of the errors a flow may catch."""


class DependencyFailedError(FlowApiError):
    """A child the flow waited for ended Failed or Cancelled."""

    def __init__(self, child: str, phase: str, reason: str | None, message: str | None) -> None:
        detail = f" ({reason})" if reason else ""
        text = f": {message}" if message else ""
        super().__init__(f"child execution {child} ended {phase}{detail}{text}")
        self.child = child
        self.phase = phase
        self.reason = reason
        self.message = message


class TimeoutExceededError(FlowApiError):
    """A wait for a child ran out. The child keeps running: ``child.cancel()`` stops it."""

    def __init__(self, child: str, timeout: float) -> None:
        super().__init__(f"child execution {child} did not end within {timeout:g} s")
        self.child = child
        self.timeout = timeout


class MissingInputError(FlowApiError):
    """A required input is absent."""

    def __init__(self, name: str) -> None:
        super().__init__(f"input {name!r} is required but was not given")
        self.name = name


class InvalidInputError(FlowApiError):
    """An input has the wrong type or value."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"input {name!r} {problem}")
        self.name = name
        self.problem = problem


class RunnerApiError(FlowApiError):
    """The workspace refused a call (``status`` is the HTTP status; the message names the field)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message
