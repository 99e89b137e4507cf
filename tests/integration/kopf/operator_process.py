"""``workspace-link operator`` in a process of its own, against the API server emulator.

The real entry point (settings, logging, kopf's identity, signals) with the environment the
image gives it and nothing of the test's: no ``USER`` or ``LOGNAME`` (a container has none),
``HOME=/tmp`` (``env`` may change any of it, or drop it with None). Its stderr is its log,
kept line by line. ``uid`` runs it as a user that has no passwd entry, as OpenShift's
arbitrary UIDs and a chart's ``runAsUser`` do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import random
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping

import httpx

#: Imports first, then drops to the UID: this interpreter may live where only root can read
#: (a root-only home directory); in the image every file is world-readable.
_AS_UID = """
import os, sys
import workspace_link.cli, workspace_link.adapters.kube.handlers
uid = int(sys.argv[1])
os.setgroups([])
os.setgid(uid)
os.setuid(uid)
sys.exit(workspace_link.cli.main(["operator"]))
"""


def _ephemeral_low() -> int:
    try:
        return int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port to serve on that is free now and that no client socket will be given meanwhile.

    Not ``bind(0)``: that picks from the kernel's ephemeral range, the range every outgoing
    connection's local port comes from, and one of the suite's many connections took such a
    port between this pick and the operator's bind (EADDRINUSE, once in a CI run). Below it,
    only a deliberate bind can take the port.
    """
    high = _ephemeral_low() - 1
    low = max(1024, high - 12000)
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))  # the operator binds every interface
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {low} to {high}")


def shared_dir() -> pathlib.Path:
    """A directory any UID can read (pytest's tmp_path is root's alone)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="wl-operator-"))
    path.chmod(0o755)
    return path


def write_kubeconfig(directory: pathlib.Path, server: str, namespace: str) -> pathlib.Path:
    path = directory / f"kubeconfig-{namespace}"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: emu, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: op, user: {token: not-a-secret}}]\n"
        f"contexts: [{{name: emu, context: {{cluster: emu, user: op, namespace: {namespace}}}}}]\n"
        "current-context: emu\n"
    )
    path.chmod(0o644)
    return path


class OperatorProcess:
    def __init__(
        self,
        *,
        server: str,
        namespace: str,
        directory: pathlib.Path,
        env: Mapping[str, str | None] | None = None,
        uid: int | None = None,
    ) -> None:
        self.namespace = namespace
        self.uid = uid
        self.sync_port, self.runner_port, self.health_port = free_port(), free_port(), free_port()
        environment: dict[str, str | None] = {
            "PATH": f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "KUBECONFIG": str(write_kubeconfig(directory, server, namespace)),
            "WL_NAMESPACE": namespace,
            "WL_SYNC_PORT": str(self.sync_port),
            "WL_RUNNER_PORT": str(self.runner_port),
            "WL_HEALTH_PORT": str(self.health_port),
            "WL_RUNNER_IMAGE": "registry.example/workspace-link:test",
            **(env or {}),
        }
        #: A variable given as None is left out.
        self.env = {k: v for k, v in environment.items() if v is not None}
        #: Its log, one entry per line of stderr.
        self.lines: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self, *, timeout: float = 30.0) -> None:
        """Until its health endpoint answers 200; fails with its log if it exits first."""
        if self.uid is None:
            argv = [sys.executable, "-m", "workspace_link.cli", "operator"]
        else:
            argv = [sys.executable, "-c", _AS_UID, str(self.uid)]
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            env=self.env,
            cwd="/tmp",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(self._process))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(trust_env=False) as client:
            while loop.time() < deadline:
                if self._process.returncode is not None:
                    await self._reader
                    raise AssertionError(
                        f"the operator exited with {self._process.returncode} at start-up:\n{self.log}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1)
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the operator's health endpoint did not answer within {timeout} s:\n{self.log}")

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def stop(self, *, timeout: float = 20.0) -> int:
        """SIGTERM, as the kubelet stops a pod; its exit code."""
        process = self._process
        if process is None:
            return 0
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            await self._reader
        return int(process.returncode or 0)


def is_root() -> bool:
    return os.geteuid() == 0


#: The ``start_operator`` fixture: ``await start_operator(namespace, env=..., uid=...)``.
StartOperator = Callable[..., Awaitable["OperatorProcess"]]
