"""Runs executions as local runner processes: the embedded mode's and the tests' executor.

The same runner as in a Job (``python -m workspace_link.runner``), handed its credentials the
same way: the per-execution Secret's ``token`` and ``url`` written as files into a private
temp dir (0700 dir, 0600 files) named by ``WL_RUNNER_CREDENTIALS``, never in arguments or
plain environment values. Each runner's output goes to a log file per execution, capped at
``max_log_bytes`` (a Job's log is the kubelet's to rotate; here nothing else would stop it).

Runs are kept in a registry by execution name, so ``start`` is idempotent. The registry is
memory only and a local process dies with its workspace, so after a restart a Running
execution has no run: ``start(resume=True)`` raises ``errors.RunLost`` as the Job executor does
for a vanished Job, and the execution fails instead of running its script a second time.

Each runner leads its own process group, and the whole group is signalled: ``cancel`` and the
deadline (``spec.timeoutSeconds``, DeadlineExceeded) send SIGTERM (the runner ends the flow
through a lifecycle signal) and SIGKILL after a grace period; when the runner exits, whatever
the flow forked and left behind is killed too. A process that exits without its execution
being terminal is reported through ``on_ended`` (RunnerExited). A child that leaves the group
(``setsid``, a daemon's double fork) is found by the mark every runner's environment carries
(``RUN_MARK_ENV``, inherited by all it starts) and killed as well, on Linux (``/proc``). Only a
process that clears its own environment escapes: the embedded mode runs flows as the
workspace's own user and is no sandbox (a Job's pod is).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from workspace_link.core import errors, execution_state, naming, resources, runner_credentials
from workspace_link.engine import runner_secret, store

logger = logging.getLogger(__name__)

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])
#: Default cap of one runner's log file (``settings.runner_log_max_bytes``).
DEFAULT_MAX_LOG_BYTES = 8 * 1024 * 1024
_LOG_CHUNK = 64 * 1024
#: Set in each runner's environment to a value of its own; whatever it starts inherits it.
RUN_MARK_ENV = "WL_RUN_MARK"
_PROC = Path("/proc")


class _ExitAware(asyncio.subprocess.SubprocessStreamProtocol):
    """Tells when the runner itself exited. ``Process.wait()`` also waits for its output pipe
    to close, which a child the flow forked may hold open for as long as it lives."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


def _signal_group(process: asyncio.subprocess.Process, signum: int) -> None:
    """Signal the process group the runner leads (``start_new_session``), children included."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _kill_marked(mark: str) -> int:
    """SIGKILL every process of ours whose environment carries ``mark``; how many were found.
    A child that left the runner's process group is still one of these."""
    needle = f"{RUN_MARK_ENV}={mark}".encode()
    killed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(_PROC):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (_PROC / entry.name / "environ").read_bytes()
            except OSError:  # gone meanwhile, or another user's
                continue
            if needle in environ.split(b"\0"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed += 1
    return killed


class OnEnded(Protocol):
    """Told that a run ended without its runner reporting (``executions.run_ended`` bound to a ws)."""

    def __call__(self, name: str, *, phase: str, reason: str, message: str) -> Awaitable[None]: ...


@dataclass
class _Run:
    name: str
    process: asyncio.subprocess.Process
    gone: asyncio.Event
    credentials: Path
    log_path: Path
    log_file: IO[bytes] | None
    deadline: float | None
    #: ``RUN_MARK_ENV``'s value in this runner's environment (and all it started).
    mark: str
    cancelled: bool = False
    deadline_hit: bool = False
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    copier: asyncio.Task[None] | None = None


class ProcessExecutor:
    """``executor.Executor`` over local subprocesses."""

    def __init__(
        self,
        store_: store.Store,
        *,
        on_ended: OnEnded,
        log_dir: Path | None = None,
        grace_period: float = 5.0,
        passthrough: bool = False,
        max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
    ) -> None:
        self._store = store_
        self._max_log = max_log_bytes
        self._on_ended = on_ended
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="wl-logs-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._grace = grace_period
        #: Runner output to this process's stdout (``workspace-link run``) instead of a file.
        self._passthrough = passthrough
        self._runs: dict[str, _Run] = {}
        self._lock = asyncio.Lock()

    # -- executor.Executor -----------------------------------------------------------------
    async def start(self, execution_body: resources.Body, *, secret_name: str, resume: bool = False) -> str:
        name = resources.name(execution_body)
        job = naming.job_name(name)
        async with self._lock:
            if name in self._runs:
                return job
            if resume:
                # Found Running with no run here: this workspace restarted and its process died
                # with it, after the script may have done anything. Starting it again could run
                # it twice; a Job's executor answers the same for a vanished Job.
                raise errors.RunLost(
                    f"the local runner of Execution {name!r} ended with the workspace it ran in;"
                    " it is not run again so that the script does not run twice"
                )
            secret = await self._store.get(resources.SECRET, secret_name)
            token = runner_secret.secret_value(secret, runner_credentials.TOKEN)
            url = runner_secret.secret_value(secret, runner_credentials.URL)
            credentials = Path(tempfile.mkdtemp(prefix="wl-cred-"))  # mkdtemp makes it 0700
            for key, value in ((runner_credentials.TOKEN, token), (runner_credentials.URL, url)):
                fd = os.open(credentials / key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(value)
            log_path = self.log_dir / f"{job}.log"
            log_file = None if self._passthrough else log_path.open("ab")
            env = dict(os.environ)
            env[runner_credentials.DIR_ENV] = str(credentials)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
            env["PYTHONUNBUFFERED"] = "1"
            mark = secrets.token_hex(8)
            env[RUN_MARK_ENV] = mark
            try:
                loop = asyncio.get_running_loop()
                transport, protocol = await loop.subprocess_exec(
                    lambda: _ExitAware(_LOG_CHUNK, loop),
                    sys.executable,
                    "-m",
                    "workspace_link.runner",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE if log_file else None,
                    stderr=asyncio.subprocess.STDOUT if log_file else None,
                    env=env,
                    start_new_session=True,
                )
                process = asyncio.subprocess.Process(transport, protocol, loop)
            except OSError:
                shutil.rmtree(credentials, ignore_errors=True)
                if log_file:
                    log_file.close()
                raise
            timeout = resources.spec(execution_body).get("timeoutSeconds")
            run = _Run(
                name=name,
                process=process,
                gone=protocol.exited,
                credentials=credentials,
                log_path=log_path,
                log_file=log_file,
                deadline=float(timeout) if timeout else None,
                mark=mark,
            )
            self._runs[name] = run
            if process.stdout is not None and log_file is not None:
                run.copier = self._spawn(run, self._copy_log(process.stdout, log_file))
            self._spawn(run, self._watch(run))
            logger.info("Execution %s: runner started (pid %s, log %s)", name, process.pid, log_path)
            return job

    async def cancel(self, execution_body: resources.Body) -> None:
        run = self._runs.get(resources.name(execution_body))
        if run is None or run.exited.is_set():
            return
        run.cancelled = True
        self._spawn(run, self._stop(run))

    async def cleanup(self, execution_body: resources.Body) -> None:
        name = resources.name(execution_body)
        run = self._runs.get(name)
        if run is None:
            return
        run.cancelled = True
        if not run.exited.is_set():
            await self._stop(run)
        self._runs.pop(name, None)

    # -- for the embedded mode and tests ----------------------------------------------------
    def log_path(self, name: str) -> Path | None:
        run = self._runs.get(name)
        return run.log_path if run else None

    def is_running(self, name: str) -> bool:
        run = self._runs.get(name)
        return run is not None and not run.exited.is_set()

    def pid(self, name: str) -> int | None:
        run = self._runs.get(name)
        return run.process.pid if run else None

    async def wait(self, name: str, timeout: float | None = None) -> int | None:  # noqa: ASYNC109
        """The run's exit code once it exited (None if there is no such run)."""
        run = self._runs.get(name)
        if run is None:
            return None
        await asyncio.wait_for(run.exited.wait(), timeout)
        return run.process.returncode

    async def close(self) -> None:
        """Kill every runner without reporting anything, as a crashed operator would lose them:
        the store keeps saying Running, and the next executor over it starts them again."""
        runs = list(self._runs.values())
        for run in runs:
            run.cancelled = True
            if not run.exited.is_set():
                _signal_group(run.process, signal.SIGKILL)
        await asyncio.gather(*(run.gone.wait() for run in runs))
        # The watchers finish promptly now (the processes are gone) and remove the credentials.
        await asyncio.gather(*(task for run in runs for task in list(run.tasks)), return_exceptions=True)
        self._runs.clear()

    # -- internals --------------------------------------------------------------------------
    async def _copy_log(self, source: asyncio.StreamReader, target: IO[bytes]) -> None:
        """Copy the runner's output to its log file up to the cap; past it, read and drop, so
        a flow that prints without end neither fills the disk nor blocks on a full pipe."""
        written = 0
        while chunk := await source.read(_LOG_CHUNK):
            if written >= self._max_log:
                continue
            kept = chunk[: self._max_log - written]
            target.write(kept)
            written += len(kept)
            if written >= self._max_log:
                target.write(f"\n[log truncated at {self._max_log} bytes]\n".encode())
            target.flush()

    def _spawn(self, run: _Run, coro: Awaitable[None]) -> asyncio.Task[None]:
        async def wrapper() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(wrapper())
        run.tasks.add(task)
        task.add_done_callback(run.tasks.discard)
        return task

    async def _stop(self, run: _Run) -> None:
        """SIGTERM to the run's process group, then SIGKILL once the grace period has passed."""
        _signal_group(run.process, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(run.gone.wait()), self._grace)
        except TimeoutError:
            _signal_group(run.process, signal.SIGKILL)
            await run.gone.wait()

    async def _report(self, run: _Run, *, reason: str, message: str) -> None:
        try:
            # A no-op when the execution is terminal already (the runner reported its end).
            await self._on_ended(run.name, phase=resources.FAILED, reason=reason, message=message)
        except errors.WorkspaceLinkError:
            logger.exception("Execution %s: could not record the end of its runner", run.name)

    async def _watch(self, run: _Run) -> None:
        try:
            try:
                await asyncio.wait_for(asyncio.shield(run.gone.wait()), run.deadline)
            except TimeoutError:
                if not run.cancelled:
                    # Status first, so the runner's own "Cancelled" after SIGTERM is refused.
                    run.deadline_hit = True
                    await self._report(
                        run,
                        reason=execution_state.DEADLINE_EXCEEDED,
                        message=execution_state.deadline_exceeded_message(run.deadline or 0),
                    )
                await self._stop(run)
        finally:
            # The runner is gone; what its flow forked and left behind goes with it.
            _signal_group(run.process, signal.SIGKILL)
            _kill_marked(run.mark)
            shutil.rmtree(run.credentials, ignore_errors=True)
            if run.copier is not None:
                # It ends at end-of-file, which the group's death brings (a child that left
                # the group may hold the pipe: then the log just stops here).
                await asyncio.wait([run.copier], timeout=5)
            if run.log_file:
                run.log_file.close()
            run.exited.set()
        if run.cancelled or run.deadline_hit:
            return
        code = run.process.returncode if run.process.returncode is not None else -1
        await self._report(
            run, reason=execution_state.RUNNER_EXITED, message=execution_state.runner_exited_message(code)
        )
