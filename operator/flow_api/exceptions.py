"""What a flow can raise or catch: the Engine's exception tree, under the Engine's names.

Two families, on purpose:

- **Lifecycle signals** (``this.success``, ``this.error``, ``this.end``, a cancel) derive from
  ``BaseException``, not ``Exception``: they end the execution, and a flow's own
  ``except Exception:`` must not swallow them by accident (the Engine makes them uncatchable
  too). They are not under ``CloudomationException`` for the same reason.
- **Errors** (``Exception``, all under ``CloudomationException``): a failed child, a wait that
  ran out, a missing or malformed input, a refused runner API call, a call this project does
  not offer. A flow may catch them; unhandled, they fail the execution.

The names before the Engine's were adopted (``FlowApiError``, ``Lifecycle*``) stay as aliases
so flows written against them keep working.
"""

from __future__ import annotations


class LifecycleSignal(BaseException):
    """Ends the execution. ``message`` becomes the execution's status message."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message


class ExecutionSuccess(LifecycleSignal):
    """``this.success(message)``: end ENDED_SUCCESS."""


class ExecutionError(LifecycleSignal):
    """``this.error(message)``: end ENDED_ERROR."""


class ExecutionCancel(LifecycleSignal):
    """The execution was cancelled (or had already ended): stop now, end ENDED_CANCELLED."""


LifecycleSuccess = ExecutionSuccess
LifecycleError = ExecutionError
LifecycleCancel = ExecutionCancel


class CloudomationException(Exception):
    """Root of the errors a flow may catch."""


#: The root's name in the Engine's documentation from version 8 on; ``FlowApiError`` is this
#: project's name before.
EngineException = CloudomationException
FlowApiError = CloudomationException


class RunnerApiError(CloudomationException):
    """The workspace refused a call (``status`` is the HTTP status; the message names the field)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message


class PermissionDenied(RunnerApiError):
    """The execution may not do this: the runner API refused it (HTTP 401 or 403)."""


class ResourceNotFoundError(RunnerApiError):
    """A requested resource (a setting) does not exist (HTTP 404)."""


class DependencyFailedError(CloudomationException):
    """A child the flow waited for ended ENDED_ERROR or ENDED_CANCELLED."""

    def __init__(self, child: str, phase: str, reason: str | None, message: str | None) -> None:
        detail = f" ({reason})" if reason else ""
        text = f": {message}" if message else ""
        super().__init__(f"child execution {child} ended {phase}{detail}{text}")
        self.child = child
        self.phase = phase
        self.reason = reason
        self.message = message


class TimeoutExceededError(CloudomationException):
    """Something the flow waited for did not happen in time."""

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"{what} did not happen within {timeout:g} s")
        self.timeout = timeout


class DependencyTimeoutError(TimeoutExceededError):
    """A wait for children ran out. They keep running: ``child.cancel()`` stops one."""

    def __init__(self, child: str, timeout: float) -> None:
        CloudomationException.__init__(self, f"child execution {child} did not end within {timeout:g} s")
        self.child = child
        self.timeout = timeout


class LockTimeoutError(TimeoutExceededError):
    """``setting.acquire(timeout=...)`` ran out while another execution held the lock."""

    def __init__(self, setting: str, holder: str | None, timeout: float) -> None:
        held = f" (held by execution {holder})" if holder else ""
        CloudomationException.__init__(
            self, f"the lock of setting {setting!r}{held} was not acquired within {timeout:g} s"
        )
        self.setting = setting
        self.holder = holder
        self.timeout = timeout


class MissingInputError(CloudomationException):
    """A required input is absent."""

    def __init__(self, name: str) -> None:
        super().__init__(f"input {name!r} is required but was not given")
        self.name = name


class InvalidInputError(CloudomationException):
    """An input or an argument of a flow API call has the wrong type or value."""

    def __init__(self, name: str, problem: str, *, call: str | None = None) -> None:
        where = f"{call}(): argument {name!r}" if call else f"input {name!r}"
        super().__init__(f"{where} {problem}")
        self.name = name
        self.problem = problem
        self.call = call


class ExtraInputError(CloudomationException):
    """A call was given an argument it does not know (``this.save(greeting=...)``)."""

    def __init__(self, call: str, names: list[str], allowed: list[str]) -> None:
        listed = ", ".join(repr(n) for n in names)
        super().__init__(f"{call}: unknown argument {listed}; it takes {', '.join(allowed)}")
        self.call = call
        self.names = names


class NotAvailableError(CloudomationException):
    """An Engine flow API call this project does not offer (connectors, tasks, files, ...)."""

    def __init__(self, call: str, what: str) -> None:
        super().__init__(
            f"{call}() is not available in Workspace Link: {what} are not part of it "
            "(docs/flow-api.md lists what is)"
        )
        self.call = call
