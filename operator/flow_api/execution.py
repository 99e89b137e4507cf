"""``system`` and ``this``: what a flow's handler is given, close to the Engine's flow API.

Everything goes through the runner API (``client.RunnerClient``); nothing here knows about
Kubernetes. Phase names map to the Engine's statuses (``ENDED_SUCCESS``...), so flows written
for the Engine that compare ``child.get('status')`` keep working.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any, Final, NoReturn

from flow_api import client, exceptions

PENDING: Final = "PENDING"
RUNNING: Final = "RUNNING"
ENDED_SUCCESS: Final = "ENDED_SUCCESS"
ENDED_ERROR: Final = "ENDED_ERROR"
ENDED_CANCELLED: Final = "ENDED_CANCELLED"

_ENGINE_STATUS: Final = {
    "Pending": PENDING,
    "Running": RUNNING,
    "Succeeded": ENDED_SUCCESS,
    "Failed": ENDED_ERROR,
    "Cancelled": ENDED_CANCELLED,
}
_TERMINAL: Final = frozenset({"Succeeded", "Failed", "Cancelled"})
#: Longest single long-poll; the runner API caps it at 20 s.
_POLL_SECONDS: Final = 20.0

_MISSING: Any = object()


def _call(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one API call; a 409 means this execution already ended (usually: cancelled)."""
    try:
        return fn()
    except exceptions.RunnerApiError as exc:
        if exc.status == 409:
            raise exceptions.LifecycleCancel(exc.message) from None
        raise


class System:
    """The workspace the flow runs in."""

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace

    def __repr__(self) -> str:
        return f"System(workspace={self.workspace!r})"


class ChildExecution:
    """A child started by ``this.flow``: wait for it, read its status and outputs, cancel it."""

    def __init__(
        self, api: client.RunnerClient, name: str, *, flow: str, remote_workspace: str | None
    ) -> None:
        self._api = api
        self.name = name
        self.flow = flow
        self.remote_workspace = remote_workspace
        self._state: dict[str, Any] = {"name": name, "phase": "Pending", "outputs": {}}

    def __repr__(self) -> str:
        return f"ChildExecution(name={self.name!r}, flow={self.flow!r}, phase={self.phase!r})"

    def _refresh(self, wait: float = 0.0) -> dict[str, Any]:
        if self._state.get("phase") not in _TERMINAL:
            query = {"wait": f"{wait:g}"} if wait > 0 else None
            self._state = _call(
                lambda: self._api.get(f"/v1/children/{self.name}", query=query, timeout=wait + 30)
            )
        return self._state

    @property
    def phase(self) -> str:
        """``Pending``, ``Running``, ``Succeeded``, ``Failed`` or ``Cancelled`` (as last read)."""
        return str(self._state.get("phase") or "Pending")

    @property
    def status(self) -> str:
        """The Engine's status name, read now: ``RUNNING``, ``ENDED_SUCCESS``, ..."""
        return _ENGINE_STATUS.get(str(self._refresh().get("phase")), PENDING)

    def get(self, key: str, default: Any = None) -> Any:
        """``output_value`` (the child's outputs), ``status`` (the Engine's name), ``phase``,
        ``message``, ``reason`` or ``name``; ``default`` for anything else."""
        state = self._refresh()
        if key == "output_value":
            return copy.deepcopy(state.get("outputs") or {})
        if key == "status":
            return _ENGINE_STATUS.get(str(state.get("phase")), PENDING)
        if key in ("phase", "message", "reason", "name"):
            value = state.get(key)
            return default if value is None else value
        return default

    def wait(self, timeout: float | None = None) -> ChildExecution:
        """Block until the child ends; return self. Raises ``DependencyFailedError`` when it
        failed or was cancelled, ``TimeoutExceededError`` when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
            state = self._refresh(wait=max(0.0, min(_POLL_SECONDS, remaining)))
            phase = str(state.get("phase"))
            if phase in _TERMINAL:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise exceptions.TimeoutExceededError(self.name, float(timeout or 0))
        if phase != "Succeeded":
            raise exceptions.DependencyFailedError(
                self.name, phase, state.get("reason"), state.get("message")
            )
        return self

    def cancel(self) -> None:
        """Ask for the child (and its own children) to be cancelled; does not wait."""
        _call(lambda: self._api.post(f"/v1/children/{self.name}/cancel"))


class Execution:
    """``this``: the running execution. Read inputs, log, save outputs, start children, end."""

    def __init__(self, api: client.RunnerClient, info: dict[str, Any]) -> None:
        self._api = api
        self.name = str(info.get("name") or "")
        self.flow_name: str | None = info.get("flow")
        self.parent: str | None = info.get("parent")
        self.workspace = str(info.get("workspace") or "")
        self._inputs: dict[str, Any] = dict(info.get("inputs") or {})
        self._outputs: dict[str, Any] = {}
        self._calls = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Execution(name={self.name!r}, flow={self.flow_name!r})"

    # -- reading -----------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, Any]:
        return copy.deepcopy(self._inputs)

    def get(self, key: str, default: Any = None) -> Any:
        """``input_value`` (the inputs), ``output_value`` (outputs saved so far), ``name``, ``status``."""
        if key == "input_value":
            return copy.deepcopy(self._inputs)
        if key == "output_value":
            return copy.deepcopy(self._outputs)
        if key == "name":
            return self.name
        if key == "status":
            return RUNNING
        if key == "parent":
            return self.parent
        return default

    def get_input(self, name: str, *, type: type | None = None, default: Any = _MISSING) -> Any:
        """One input; ``MissingInputError`` when absent without a default, ``InvalidInputError``
        when it is not of ``type`` (an int is accepted where a float is asked for)."""
        if name not in self._inputs:
            if default is _MISSING:
                raise exceptions.MissingInputError(name)
            return default
        value = self._inputs[name]
        if type is not None:
            ok = isinstance(value, type) and not (type is int and isinstance(value, bool))
            if type is float and isinstance(value, int) and not isinstance(value, bool):
                ok, value = True, float(value)
            if not ok:
                raise exceptions.InvalidInputError(
                    name, f"must be of type {type.__name__}, not {value.__class__.__name__}"
                )
        return copy.deepcopy(value)

    # -- writing -----------------------------------------------------------------------------
    def log(self, *args: Any, sep: str = " ") -> None:
        """Log a line: printed to the run's output (the full log) and kept in the status tail."""
        line = sep.join(str(arg) for arg in args)
        print(line, flush=True)
        _call(lambda: self._api.post("/v1/log", {"lines": [line]}))

    def save(self, **outputs: Any) -> None:
        """Merge ``outputs`` into the execution's outputs (JSON values; size capped)."""
        answer = _call(lambda: self._api.post("/v1/outputs", {"outputs": outputs}))
        self._outputs = dict(answer.get("outputs") or {**self._outputs, **outputs})

    def flow(
        self,
        name: str,
        remote_workspace_name: str | None = None,
        inputs: dict[str, Any] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> ChildExecution:
        """Start flow ``name`` as a child (in the workspace linked by SyncConfig
        ``remote_workspace_name`` when given). With ``wait`` (the default), block until it ends
        (``timeout`` seconds at most) and raise ``DependencyFailedError`` if it failed."""
        with self._lock:
            self._calls += 1
            call_id = str(self._calls)
        body: dict[str, Any] = {"callId": call_id, "flow": name, "inputs": inputs or {}}
        if remote_workspace_name:
            body["remoteWorkspace"] = remote_workspace_name
        answer = _call(lambda: self._api.post("/v1/children", body))
        child = ChildExecution(
            self._api, str(answer["name"]), flow=name, remote_workspace=remote_workspace_name
        )
        if wait:
            child.wait(timeout)
        return child

    # -- ending ------------------------------------------------------------------------------
    def success(self, message: str | None = None) -> NoReturn:
        """End the execution Succeeded with ``message``."""
        raise exceptions.LifecycleSuccess(message)

    def error(self, message: str | None = None) -> NoReturn:
        """End the execution Failed (reason FlowError) with ``message``."""
        raise exceptions.LifecycleError(message)

    def cancel(self, message: str | None = None) -> NoReturn:
        """End the execution Cancelled."""
        raise exceptions.LifecycleCancel(message)
