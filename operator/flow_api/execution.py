"""``system`` and ``this``: what a flow's handler is given, the Engine's flow API.

Everything goes through the runner API (``client.RunnerClient``); nothing here knows about
Kubernetes. Phases map to the Engine's statuses (``ENDED_SUCCESS``...) and fields carry the
Engine's names (``input_value``, ``output_value``), so flows written for the Engine keep
working. docs/flow-api.md lists every Engine call, supported or not.
"""

from __future__ import annotations

import copy
import enum
import functools
import json
import math
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
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
#: Longest ``max_runtime_minutes``: the runner API's cap on timeoutSeconds (30 days).
_MAX_RUNTIME_MINUTES: Final = 30 * 24 * 60

_MISSING: Any = object()


class ReturnWhen(enum.StrEnum):
    """When a wait for children returns (``system.return_when.ALL_ENDED``)."""

    #: Every child succeeded; the first one that did not raises ``DependencyFailedError``.
    ALL_SUCCEEDED = "ALL_SUCCEEDED"
    #: Every child ended, however: a failed child does not raise.
    ALL_ENDED = "ALL_ENDED"
    #: One child ended, however.
    FIRST_ENDED = "FIRST_ENDED"
    #: One child succeeded; ``DependencyFailedError`` once all ended and none did.
    FIRST_SUCCEEDED = "FIRST_SUCCEEDED"


def _return_when(value: Any, *, call: str, name: str = "return_when") -> ReturnWhen:
    try:
        return ReturnWhen(value)
    except ValueError:
        choices = ", ".join(member.value for member in ReturnWhen)
        raise exceptions.InvalidInputError(
            name, f"must be a system.return_when value ({choices}), not {value!r}", call=call
        ) from None


def _timeout(value: Any, *, call: str, name: str = "timeout") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise exceptions.InvalidInputError(
            name, f"must be a number of seconds >= 0, not {value!r}", call=call
        )
    return float(value)


def _call(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one API call; a 409 means this execution already ended (usually: cancelled)."""
    try:
        return fn()
    except exceptions.RunnerApiError as exc:
        if exc.status == 409:
            raise exceptions.ExecutionCancel(exc.message) from None
        raise


def _unavailable(call: str, what: str) -> Callable[..., NoReturn]:
    """A stand-in for an Engine call this project does not offer: fails clearly when called."""

    def unavailable(*args: Any, **kwargs: Any) -> NoReturn:
        del args, kwargs
        raise exceptions.NotAvailableError(call, what)

    unavailable.__doc__ = f"Not available here: {what} are not part of Workspace Link."
    return unavailable


def _fields(kind: str, allowed: Iterable[str], field: str) -> None:
    if field not in allowed:
        raise exceptions.InvalidInputError(
            field, f"is not a field of {kind}; fields are {', '.join(sorted(allowed))}", call="get"
        )


# -- children --------------------------------------------------------------------------------
class ChildExecution:
    """A child started by ``this.flow``: run it, wait for it, read its fields, cancel it.

    ``name`` is the child Execution's name in the workspace (``None`` until it was started);
    ``get('name')`` is the Engine's name of the child: ``name=`` of ``this.flow``, else the flow.
    """

    _FIELDS: Final = frozenset(
        {
            "name",
            "status",
            "message",
            "input_value",
            "output_value",
            "start_time",
            "end_time",
            "created_at",
            "flow_name",
            "execution_name",
            "phase",
            "reason",
        }
    )

    def __init__(
        self,
        api: client.RunnerClient,
        start_body: dict[str, Any],
        *,
        flow: str,
        remote_workspace: str | None,
        display_name: str | None,
        wait_mode: ReturnWhen,
    ) -> None:
        self._api = api
        self._start_body = start_body
        self._start_lock = threading.Lock()
        self.name: str | None = None
        self.flow = flow
        self.remote_workspace = remote_workspace
        self.display_name = display_name or flow
        self._wait_mode = wait_mode
        self._state: dict[str, Any] = {"phase": "Pending", "outputs": {}}

    def __repr__(self) -> str:
        return f"ChildExecution(name={self.name!r}, flow={self.flow!r}, phase={self.phase!r})"

    # -- starting ----------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self.name is not None

    def run_async(self) -> ChildExecution:
        """Start the child (``this.flow(..., run=False)``) without waiting; return self."""
        with self._start_lock:
            if self.name is None:
                body = self._start_body
                answer = _call(lambda: self._api.post("/v1/children", body))
                self.name = str(answer["name"])
        return self

    def run(self, timeout: float | None = None) -> ChildExecution:
        """Start the child and wait until it ended (as ``wait=`` of ``this.flow`` said: by
        default a failed child raises ``DependencyFailedError``); return self."""
        self.run_async()
        return self.wait(return_when=self._wait_mode, timeout=timeout)

    def _require_started(self, call: str) -> str:
        if self.name is None:
            raise exceptions.CloudomationException(
                f"{call}: child of flow {self.flow!r} was created with run=False and not started; "
                "call run() or run_async() first"
            )
        return self.name

    # -- reading -----------------------------------------------------------------------------
    def _refresh(self, wait: float = 0.0) -> dict[str, Any]:
        if self.name is not None and self._state.get("phase") not in _TERMINAL:
            name = self.name
            query = {"wait": f"{wait:g}"} if wait > 0 else None
            self._state = _call(lambda: self._api.get(f"/v1/children/{name}", query=query, timeout=wait + 30))
        return self._state

    @property
    def phase(self) -> str:
        """``Pending``, ``Running``, ``Succeeded``, ``Failed`` or ``Cancelled`` (as last read)."""
        return str(self._state.get("phase") or "Pending")

    @property
    def ended(self) -> bool:
        return self.phase in _TERMINAL

    @property
    def status(self) -> str:
        """The Engine's status, read now: ``RUNNING``, ``ENDED_SUCCESS``, ..."""
        return _ENGINE_STATUS.get(str(self._refresh().get("phase")), PENDING)

    def _field(self, state: dict[str, Any], field: str) -> Any:
        _fields("a child execution", self._FIELDS, field)
        if field == "name":
            return self.display_name
        if field == "execution_name":
            return self.name
        if field == "flow_name":
            return self.flow
        if field == "status":
            return _ENGINE_STATUS.get(str(state.get("phase")), PENDING)
        if field == "output_value":
            return copy.deepcopy(state.get("outputs") or {})
        if field == "input_value":
            return copy.deepcopy(self._start_body.get("inputs") or {})
        key = {"start_time": "startTime", "end_time": "endTime", "created_at": "createdAt"}.get(field, field)
        return state.get(key)

    def get(self, field: str) -> Any:
        """One field: ``name``, ``status``, ``message``, ``input_value``, ``output_value``,
        ``start_time``, ``end_time``, ``created_at`` (and ``phase``, ``reason``,
        ``execution_name``, ``flow_name``). An unknown field raises ``InvalidInputError``."""
        _fields("a child execution", self._FIELDS, field)
        return self._field(self._refresh(), field)

    def load(self, *fields: str) -> Any:
        """Several fields read at once: one value for one field, else a tuple in that order."""
        for field in fields:
            _fields("a child execution", self._FIELDS, field)
        state = self._refresh()
        values = tuple(self._field(state, field) for field in fields)
        return values[0] if len(values) == 1 else values

    # -- waiting and cancelling --------------------------------------------------------------
    def wait(
        self, return_when: ReturnWhen | str = ReturnWhen.ALL_SUCCEEDED, timeout: float | None = None
    ) -> ChildExecution:
        """Block until the child ended; return self. With ``ALL_SUCCEEDED`` (the default) a
        failed or cancelled child raises ``DependencyFailedError``; ``DependencyTimeoutError``
        when ``timeout`` seconds pass first (the child keeps running)."""
        mode = _return_when(return_when, call="wait")
        seconds = _timeout(timeout, call="wait")
        self._require_started("wait")
        _wait_for([self], mode, seconds)
        return self

    def cancel(self) -> None:
        """Ask for the child (and its own children) to be cancelled; does not wait."""
        name = self._require_started("cancel")
        _call(lambda: self._api.post(f"/v1/children/{name}/cancel"))


def _failed(child: ChildExecution) -> exceptions.DependencyFailedError:
    state = child._state
    return exceptions.DependencyFailedError(
        child.name or child.flow, str(state.get("phase")), state.get("reason"), state.get("message")
    )


def _wait_for(
    children: list[ChildExecution], mode: ReturnWhen, timeout: float | None
) -> list[ChildExecution]:
    """Wait for ``children`` as ``mode`` says; return the ones that ended, in the given order.

    One thread per child holds a long-poll on it, so whichever ends first is seen at once
    (``FIRST_ENDED``, and ``ALL_SUCCEEDED`` failing fast) without polling the others."""
    deadline = None if timeout is None else time.monotonic() + timeout
    condition = threading.Condition()
    stop = threading.Event()
    problems: list[BaseException] = []

    def watch(child: ChildExecution) -> None:
        try:
            while not stop.is_set() and not child.ended:
                remaining = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return
                child._refresh(wait=min(_POLL_SECONDS, remaining))
        except BaseException as exc:  # handed to the waiting flow: it decides
            problems.append(exc)
        finally:
            with condition:
                condition.notify_all()

    def decide() -> list[ChildExecution] | None:
        ended = [child for child in children if child.ended]
        failed = [child for child in ended if child.phase != "Succeeded"]
        if mode is ReturnWhen.ALL_SUCCEEDED and failed:
            raise _failed(failed[0])
        if mode in (ReturnWhen.ALL_SUCCEEDED, ReturnWhen.ALL_ENDED):
            return ended if len(ended) == len(children) else None
        if mode is ReturnWhen.FIRST_ENDED:
            return ended or None
        succeeded = [child for child in ended if child.phase == "Succeeded"]
        if succeeded:
            return succeeded
        if len(ended) == len(children):
            raise _failed(failed[0])
        return None

    threads = [
        threading.Thread(target=watch, args=(child,), daemon=True, name=f"wait-{child.name}")
        for child in children
        if not child.ended
    ]
    for thread in threads:
        thread.start()
    try:
        with condition:
            while True:
                if problems:
                    raise problems[0]
                result = decide()
                if result is not None:
                    return result
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    pending = ", ".join(str(child.name) for child in children if not child.ended)
                    raise exceptions.DependencyTimeoutError(pending, float(timeout or 0))
                condition.wait(remaining if remaining is not None else _POLL_SECONDS)
    finally:
        stop.set()


# -- settings --------------------------------------------------------------------------------
class Setting:
    """``system.setting(name)``: a named value of the workspace the flow runs in (a Setting
    object), readable and writable by its flows, usable as a lock between them."""

    _FIELDS: Final = frozenset({"name", "value", "lock_holder"})

    def __init__(self, api: client.RunnerClient, name: str, holder: str) -> None:
        if not isinstance(name, str) or not name:
            raise exceptions.InvalidInputError("name", "must be a non-empty string", call="system.setting")
        self._api = api
        self.name = name
        self._holder = holder

    def __repr__(self) -> str:
        return f"Setting(name={self.name!r})"

    def __enter__(self) -> Setting:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _path(self, suffix: str = "") -> str:
        # Engine names are free text: a space or a '?' must reach the runner API as part of the name.
        return f"/v1/settings/{urllib.parse.quote(self.name, safe='')}{suffix}"

    def _read(self) -> dict[str, Any]:
        return _call(lambda: self._api.get(self._path()))

    def exists(self) -> bool:
        try:
            self._read()
        except exceptions.ResourceNotFoundError:
            return False
        return True

    def get(self, field: str = "value") -> Any:
        """``value`` (the default), ``name`` or ``lock_holder`` (the execution holding the lock,
        or None). A setting that does not exist raises ``ResourceNotFoundError``."""
        return self.load(field)

    def load(self, *fields: str) -> Any:
        for field in fields:
            _fields("a setting", self._FIELDS, field)
        state = self._read()
        values = tuple(
            copy.deepcopy(state.get({"lock_holder": "lockHolder"}.get(field, field))) for field in fields
        )
        return values[0] if len(values) == 1 else values

    def save(self, value: Any = _MISSING, **extra: Any) -> None:
        """Set the value (creating the setting if it does not exist)."""
        if extra:
            raise exceptions.ExtraInputError("setting.save", sorted(extra), ["value"])
        if value is _MISSING:
            raise exceptions.InvalidInputError("value", "is required", call="setting.save")
        _call(lambda: self._api.request("PUT", self._path(), {"value": value}))

    def list_append(self, value: Any) -> list[Any]:
        """Append ``value`` to the setting's list (creating ``[value]`` if it does not exist),
        atomically: two flows appending at once both land. Returns the new list."""
        answer = _call(lambda: self._api.post(self._path("/append"), {"value": value}))
        return list(answer.get("value") or [])

    def acquire(self, timeout: float | None = None) -> None:
        """Take the setting's lock, waiting while another execution holds it (at most
        ``timeout`` seconds: then ``LockTimeoutError``). A lock whose holder ended is free."""
        seconds = _timeout(timeout, call="setting.acquire")
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            remaining = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
            body = {"wait": max(0.0, min(_POLL_SECONDS, remaining))}
            answer = _call(functools.partial(self._api.post, self._path("/lock"), body))
            if answer.get("acquired"):
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise exceptions.LockTimeoutError(self.name, answer.get("holder"), float(seconds or 0))

    def release(self) -> None:
        """Give the lock back. Releasing a lock this execution does not hold is refused."""
        _call(lambda: self._api.post(self._path("/unlock")))


# -- system ----------------------------------------------------------------------------------
class System:
    """``system``: the workspace the flow runs in."""

    return_when = ReturnWhen

    def __init__(self, workspace: str, api: client.RunnerClient | None = None, execution: str = "") -> None:
        self.workspace = workspace
        self._api = api
        self._execution = execution

    def __repr__(self) -> str:
        return f"System(workspace={self.workspace!r})"

    def get_env_name(self) -> str:
        """The name of the environment the flow runs in: its workspace (the namespace)."""
        return self.workspace

    def setting(self, name: str, value: Any = _MISSING) -> Setting:
        """The setting ``name`` of this workspace; with ``value``, it is saved first."""
        if self._api is None:
            raise exceptions.CloudomationException("system.setting: this System has no runner API")
        setting = Setting(self._api, name, self._execution)
        if value is not _MISSING:
            setting.save(value=value)
        return setting

    file = _unavailable("system.file", "files")
    files = _unavailable("system.files", "files")
    message = _unavailable("system.message", "messages (forms for people)")
    messages = _unavailable("system.messages", "messages (forms for people)")
    connector = _unavailable("system.connector", "connectors")
    connectors = _unavailable("system.connectors", "connectors")
    user = _unavailable("system.user", "users and identities")
    identity = _unavailable("system.identity", "users and identities")
    webhook = _unavailable("system.webhook", "webhooks")
    schedule = _unavailable("system.schedule", "schedules")
    vault = _unavailable("system.vault", "vault configurations")
    flow = _unavailable("system.flow", "flow objects read by a flow")
    execution = _unavailable("system.execution", "other executions read by a flow")
    settings = _unavailable("system.settings", "setting lists")


# -- this ------------------------------------------------------------------------------------
_END_STATUS: Final = {
    "success": "success",
    "ended_success": "success",
    "error": "error",
    "ended_error": "error",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "ended_cancelled": "cancelled",
}


class Execution:
    """``this``: the running execution. Read inputs, log, save outputs, start children, end."""

    _FIELDS: Final = frozenset(
        {"name", "status", "message", "input_value", "output_value", "flow_name", "parent"}
    )

    def __init__(self, api: client.RunnerClient, info: dict[str, Any]) -> None:
        self._api = api
        self.name = str(info.get("name") or "")
        self.flow_name: str | None = info.get("flow")
        self.parent: str | None = info.get("parent")
        self.workspace = str(info.get("workspace") or "")
        self._inputs: dict[str, Any] = dict(info.get("inputs") or {})
        self._outputs: dict[str, Any] = {}
        self._message: str | None = None
        self._calls = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Execution(name={self.name!r}, flow={self.flow_name!r})"

    # -- reading -----------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, Any]:
        return copy.deepcopy(self._inputs)

    @property
    def saved_message(self) -> str | None:
        """The message set by ``this.save(message=...)``: the end's message unless it has one."""
        return self._message

    def _field(self, field: str) -> Any:
        _fields("this execution", self._FIELDS, field)
        values: dict[str, Any] = {
            "name": self.name,
            "status": RUNNING,
            "message": self._message,
            "input_value": self._inputs,
            "output_value": self._outputs,
            "flow_name": self.flow_name,
            "parent": self.parent,
        }
        return copy.deepcopy(values[field])

    def get(self, field: str) -> Any:
        """``input_value`` (the inputs), ``output_value`` (saved so far), ``name``, ``status``,
        ``message``, ``flow_name``, ``parent``. An unknown field raises ``InvalidInputError``."""
        return self._field(field)

    def load(self, *fields: str) -> Any:
        values = tuple(self._field(field) for field in fields)
        return values[0] if len(values) == 1 else values

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
    def log(self, *args: Any, **fields: Any) -> None:
        """Log a line: printed to the run's output (the full log) and kept in the status tail.
        Keyword arguments are logged as structured fields, one JSON object after the text."""
        line = " ".join(str(arg) for arg in args)
        if fields:
            structured = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
            line = f"{line} {structured}" if line else structured
        print(line, flush=True)
        _call(lambda: self._api.post("/v1/log", {"lines": [line]}))

    def save(self, output_value: Any = _MISSING, message: Any = _MISSING, **extra: Any) -> None:
        """Write fields of this execution: ``output_value`` (a dict merged into the outputs)
        and ``message`` (its status message: shown at once while it runs, and the message it
        ends with unless its end gives one). Nothing else: an unknown field raises
        ``ExtraInputError`` and changes nothing."""
        if extra:
            raise exceptions.ExtraInputError(
                "this.save", sorted(extra), ["output_value={...}", "message='...'"]
            )
        if output_value is not _MISSING and (
            not isinstance(output_value, dict) or not all(isinstance(key, str) for key in output_value)
        ):
            raise exceptions.InvalidInputError(
                "output_value", "must be a dict with string keys", call="this.save"
            )
        if message is not _MISSING and message is not None and not isinstance(message, str):
            raise exceptions.InvalidInputError("message", "must be a string", call="this.save")
        body: dict[str, Any] = {}
        if output_value is not _MISSING:
            body["outputs"] = dict(output_value)
        if isinstance(message, str):
            body["message"] = message
        if body:
            # One call: the outputs and the message are written together, or neither is.
            answer = _call(lambda: self._api.post("/v1/outputs", body))
            outputs = body.get("outputs") or {}
            self._outputs = dict(answer.get("outputs") or {**self._outputs, **outputs})
        if message is not _MISSING:
            self._message = message

    def set_output(self, key: str, value: Any) -> None:
        """Set one key of ``output_value``."""
        if not isinstance(key, str) or not key:
            raise exceptions.InvalidInputError("key", "must be a non-empty string", call="this.set_output")
        self.save(output_value={key: value})

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a cancel still ends the execution at once."""
        delay = _timeout(seconds, call="this.sleep", name="seconds")
        time.sleep(delay or 0.0)

    def flow(
        self,
        flow_name: str,
        /,
        *,
        remote_workspace_name: str | None = None,
        inputs: dict[str, Any] | None = None,
        input_value: dict[str, Any] | None = None,
        wait: bool | ReturnWhen | str = True,
        run: bool = True,
        timeout: float | None = None,
        name: str | None = None,
        max_runtime_minutes: float | None = None,
        location_inheritance: str | None = None,
        **input_kwargs: Any,
    ) -> ChildExecution:
        """Start flow ``flow_name`` as a child, in the workspace linked by SyncConfig
        ``remote_workspace_name`` when given.

        Inputs are ``input_value``, then ``inputs``, then any other keyword argument, merged in
        that order. ``wait`` (default True: ``ALL_SUCCEEDED``) blocks until the child ended,
        ``timeout`` seconds at most; a ``system.return_when`` value says how (``ALL_ENDED``:
        a failed child does not raise). ``run=False`` returns the child not yet started:
        ``run()`` or ``run_async()`` starts it. ``max_runtime_minutes`` is the child's
        deadline (its run is stopped then, also in a linked workspace). ``name`` is the
        child's Engine name. ``location_inheritance`` has no meaning here and is ignored.
        """
        del location_inheritance  # projects and locations do not exist here: nothing to inherit
        call = "this.flow"
        if not isinstance(flow_name, str) or not flow_name:
            raise exceptions.InvalidInputError("flow_name", "must be a non-empty string", call=call)
        merged: dict[str, Any] = {}
        for argument, given in (("input_value", input_value), ("inputs", inputs)):
            if given is None:
                continue
            if not isinstance(given, dict):
                raise exceptions.InvalidInputError(argument, "must be a dict", call=call)
            merged.update(given)
        merged.update(input_kwargs)
        if isinstance(wait, bool):
            wait_mode: ReturnWhen | None = ReturnWhen.ALL_SUCCEEDED if wait else None
        else:
            wait_mode = _return_when(wait, call=call, name="wait")
        seconds = _timeout(timeout, call=call)
        if name is not None and (not isinstance(name, str) or not name):
            raise exceptions.InvalidInputError("name", "must be a non-empty string", call=call)
        with self._lock:
            self._calls += 1
            call_id = str(self._calls)
        body: dict[str, Any] = {"callId": call_id, "flow": flow_name, "inputs": merged}
        if remote_workspace_name:
            body["remoteWorkspace"] = remote_workspace_name
        if max_runtime_minutes is not None:
            body["timeoutSeconds"] = _runtime_seconds(max_runtime_minutes)
        child = ChildExecution(
            self._api,
            body,
            flow=flow_name,
            remote_workspace=remote_workspace_name,
            display_name=name,
            wait_mode=wait_mode or ReturnWhen.ALL_SUCCEEDED,
        )
        if not run:
            return child
        child.run_async()
        if wait_mode is not None:
            child.wait(return_when=wait_mode, timeout=seconds)
        return child

    def wait_for(
        self,
        *executions: ChildExecution | Iterable[ChildExecution],
        return_when: ReturnWhen | str = ReturnWhen.ALL_SUCCEEDED,
        timeout: float | None = None,
    ) -> list[ChildExecution]:
        """Wait for several children (started ones; a list works too) as ``return_when`` says;
        return those that ended, in the order given. ``ALL_SUCCEEDED`` raises
        ``DependencyFailedError`` for the first that failed, ``DependencyTimeoutError`` when
        ``timeout`` seconds pass first."""
        mode = _return_when(return_when, call="this.wait_for")
        seconds = _timeout(timeout, call="this.wait_for")
        children: list[ChildExecution] = []
        for item in executions:
            group = [item] if isinstance(item, ChildExecution) else list(item)
            for child in group:
                if not isinstance(child, ChildExecution):
                    raise exceptions.InvalidInputError(
                        "executions", f"must be children from this.flow, not {child!r}", call="this.wait_for"
                    )
                child._require_started("this.wait_for")
                if child not in children:
                    children.append(child)
        if not children:
            return []
        return _wait_for(children, mode, seconds)

    # -- ending ------------------------------------------------------------------------------
    def success(self, message: str | None = None) -> NoReturn:
        """End the execution ENDED_SUCCESS with ``message``."""
        raise exceptions.ExecutionSuccess(message)

    def error(self, message: str | None = None) -> NoReturn:
        """End the execution ENDED_ERROR (reason FlowError) with ``message``."""
        raise exceptions.ExecutionError(message)

    def cancel(self, message: str | None = None) -> NoReturn:
        """End the execution ENDED_CANCELLED."""
        raise exceptions.ExecutionCancel(message)

    def end(self, status: str, message: str | None = None) -> NoReturn:
        """End with ``status`` ``'success'``, ``'error'`` or ``'cancelled'`` (or the
        ``ENDED_*`` spelling) and ``message``."""
        kind = _END_STATUS.get(status.lower()) if isinstance(status, str) else None
        if kind is None:
            raise exceptions.InvalidInputError(
                "status", f"must be 'success', 'error' or 'cancelled', not {status!r}", call="this.end"
            )
        if message is not None and not isinstance(message, str):
            raise exceptions.InvalidInputError("message", "must be a string", call="this.end")
        if kind == "success":
            self.success(message)
        if kind == "error":
            self.error(message)
        self.cancel(message)

    connect = _unavailable("this.connect", "connectors")
    task = _unavailable("this.task", "tasks (connector calls)")
    message = _unavailable("this.message", "messages (forms for people)")
    webhook = _unavailable("this.webhook", "webhooks")
    openapi = _unavailable("this.openapi", "OpenAPI connectors")
    clone = _unavailable("this.clone", "cloned executions")
    pause = _unavailable("this.pause", "paused executions")


def _runtime_seconds(minutes: Any) -> int:
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not 0 < minutes <= _MAX_RUNTIME_MINUTES
    ):
        raise exceptions.InvalidInputError(
            "max_runtime_minutes",
            f"must be a number of minutes above 0 and at most {_MAX_RUNTIME_MINUTES}, not {minutes!r}",
            call="this.flow",
        )
    return max(1, math.ceil(minutes * 60))
