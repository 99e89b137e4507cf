"""The runner: the process that runs one flow script (``python -m workspace_link.runner``).

It holds no Kubernetes credentials. Its token and the runner API's URL come from files in the
directory named by ``WL_RUNNER_CREDENTIALS`` (the Job mounts the per-execution Secret there;
the process executor writes a private temp dir) — never from arguments or plain environment
values, which ``ps`` and ``kubectl describe`` would show. Everything else (script, inputs,
log, outputs, children, the end) goes through the runner API.

How a flow ends decides the reported phase: a normal return or ``this.success`` → Succeeded;
``this.error`` → Failed (FlowError); a failed child left unhandled → Failed (DependencyFailed);
any other exception → Failed (UnhandledException) with the traceback; SIGTERM (a cancel) →
Cancelled. The exit code is 0 once the end was reported (or the workspace already knew it).

The flow author's local loop (``workspace-link run FLOW.py``) runs this same runner against an
in-process embedded workspace: ``cli.run_file``.
"""

from __future__ import annotations

import inspect
import linecache
import os
import signal
import sys
import traceback
import types
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final

import flow_api
from flow_api import client as flow_client
from workspace_link.core import execution_state, resources, runner_credentials

#: Exit codes: reported; credentials unusable; the workspace unreachable or refusing.
EXIT_REPORTED: Final = 0
EXIT_NOT_REPORTED: Final = 1
EXIT_NO_CREDENTIALS: Final = 2

Outcome = tuple[str, str, str | None]  # phase, reason, message


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise flow_api.LifecycleCancel(execution_state.cancelled_message())


def _after_flow_sigterm(signum: int, frame: FrameType | None) -> None:
    # The flow is over and its end is being reported: finish that instead of dying halfway.
    del signum, frame


def _flow_traceback(exc: BaseException) -> str:
    """The traceback from the flow's own frames on (the runner's frame adds nothing)."""
    tb: TracebackType | None = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _call_handler(handler: Any, system: flow_api.System, this: flow_api.Execution) -> None:
    params = list(inspect.signature(handler).parameters.values())
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if len(positional) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in positional):
        handler(system, this, this.inputs)
    else:
        handler(system, this)


def execute(api: flow_client.RunnerClient, info: Mapping[str, Any]) -> Outcome:
    """Run the script in ``info`` in a fresh module namespace; return how it ended."""
    script = str(info.get("script") or "")
    flow = info.get("flow")
    filename = f"<flow {flow}>" if flow else f"<execution {info.get('name')}>"
    try:
        code = compile(script, filename, "exec")
    except SyntaxError as exc:
        return resources.FAILED, execution_state.INVALID_FLOW, f"{filename}, line {exc.lineno}: {exc.msg}"
    # Lets tracebacks show the flow's source lines although it never was a file here.
    linecache.cache[filename] = (len(script), None, script.splitlines(keepends=True), filename)
    module = types.ModuleType("__flow__")
    module.__file__ = filename
    system = flow_api.System(str(info.get("workspace") or ""), api, str(info.get("name") or ""))
    this = flow_api.Execution(api, dict(info))
    outcome = _run_handler(code, module, filename, system, this)
    phase, reason, message = outcome
    if message is None and this.saved_message:
        # this.save(message=...) sets the message an end without one of its own reports.
        return phase, reason, this.saved_message
    return outcome


def _run_handler(
    code: types.CodeType,
    module: types.ModuleType,
    filename: str,
    system: flow_api.System,
    this: flow_api.Execution,
) -> Outcome:
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the flow is the runner's job
        handler = module.__dict__.get("handler")
        if not callable(handler):
            return (
                resources.FAILED,
                execution_state.INVALID_FLOW,
                f"{filename} defines no function handler(system, this[, inputs])",
            )
        _call_handler(handler, system, this)
    except flow_api.ExecutionSuccess as signal_:
        return resources.SUCCEEDED, execution_state.COMPLETED, signal_.message
    except flow_api.ExecutionError as signal_:
        return resources.FAILED, execution_state.FLOW_ERROR, signal_.message
    except flow_api.ExecutionCancel as signal_:
        return resources.CANCELLED, execution_state.CANCELLED, signal_.message
    except flow_api.DependencyFailedError as exc:
        return (
            resources.FAILED,
            execution_state.DEPENDENCY_FAILED,
            execution_state.unhandled_exception_message(_flow_traceback(exc)),
        )
    except BaseException as exc:  # whatever the flow raised ends it failed
        return (
            resources.FAILED,
            execution_state.UNHANDLED_EXCEPTION,
            execution_state.unhandled_exception_message(_flow_traceback(exc)),
        )
    return resources.SUCCEEDED, execution_state.COMPLETED, None


def run(api: flow_client.RunnerClient) -> int:
    """Fetch the execution, run it, report the end. Returns the process exit code."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        info = api.get("/v1/execution")
        outcome = execute(api, info)
    except flow_api.LifecycleCancel as signal_:
        outcome = resources.CANCELLED, execution_state.CANCELLED, signal_.message
        info = {}
    except flow_api.RunnerApiError as exc:
        print(f"runner: cannot read the execution: {exc}", file=sys.stderr, flush=True)
        return EXIT_NOT_REPORTED
    finally:
        signal.signal(signal.SIGTERM, _after_flow_sigterm)
    phase, reason, message = outcome
    body: dict[str, Any] = {"phase": phase, "reason": reason}
    if message is not None:
        body["message"] = message
    try:
        api.post("/v1/end", body)
    except flow_api.RunnerApiError as exc:
        if exc.status != 409:
            print(f"runner: could not report the end ({phase}): {exc}", file=sys.stderr, flush=True)
            return EXIT_NOT_REPORTED
        # 409: it had already ended (cancelled, or failed by the executor): nothing to add.
    print(f"runner: {info.get('name', '')} ended {phase} ({reason})", flush=True)
    return EXIT_REPORTED


def main() -> int:
    directory = Path(os.environ.get(runner_credentials.DIR_ENV) or runner_credentials.JOB_DIR)
    try:
        token = (directory / runner_credentials.TOKEN).read_text().strip()
        url = (directory / runner_credentials.URL).read_text().strip()
    except OSError as exc:
        print(
            f"runner: cannot read credentials from {directory}: {exc.strerror} ({exc.filename})",
            file=sys.stderr,
        )
        return EXIT_NO_CREDENTIALS
    return run(flow_client.RunnerClient(url, token))


if __name__ == "__main__":
    sys.exit(main())
