"""Shared harness of the benchmarks: keys, a throwaway CA, two linked embedded workspaces.

The link under measurement is the product's own: ``embedded.EmbeddedWorkspace`` (the
operator's core over a MemStore), the real sync listener serving TLS on 127.0.0.1, the real
peer client verifying B's certificate, RSA-signed messages, the SyncConfigs and Secrets built
by ``manifests.link_manifests`` (what ``workspace-link link --issue-ca`` writes).

One thing is NOT the product: ``HarnessExecutor`` replaces B's local-process executor. A runner
process costs tens of milliseconds to start and would hide the link; the harness executor
either leaves a claimed execution Running (the status round trip ends it by hand) or ends it
Succeeded at once through ``runner_calls.end``, the call a runner's ``POST /v1/end`` makes.
Every table row that uses it says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import platform
import ssl
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from workspace_link.adapters.local import embedded, memstore
from workspace_link.cli import manifests
from workspace_link.core import certs, errors, keys, naming, resources, settings
from workspace_link.engine import runner_calls, workspace

A_CONFIG = manifests.DEFAULT_NAME_A
B_CONFIG = manifests.DEFAULT_NAME_B
NOOP_FLOW = "noop"
NOOP_SCRIPT = "import flow_api\n\n\ndef handler(system, this, inputs):\n    return this.success('ok')\n"


# -- sizes -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each benchmark does; ``run.py`` picks one of the three profiles."""

    name: str
    key_bits: int
    floor_samples: int
    latency_samples: int
    throughput_executions: int
    mirror_executions: int
    memory_links: int


FULL = Sizes("full", keys.DEFAULT_BITS, 300, 100, 1000, 10_000, 100)
QUICK = Sizes("quick", keys.DEFAULT_BITS, 100, 30, 200, 10_000, 100)
SMOKE = Sizes("smoke", keys.MIN_BITS, 5, 2, 5, 20, 3)


# -- figures ---------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    return statistics.median(values)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}"
    )


# -- keys and TLS ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Material:
    a_key: Any
    b_key: Any
    serving: certs.ServingCertificate
    folder: Path

    def server_context(self) -> ssl.SSLContext:
        cert, key = self.folder / "tls.crt", self.folder / "tls.key"
        if not cert.exists():
            cert.write_bytes(self.serving.cert_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.serving.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.serving.ca_pem.decode())


_MATERIAL: dict[int, Material] = {}


def material(bits: int) -> Material:
    """Two RSA keys of ``bits`` and a CA-issued certificate for 127.0.0.1, made once per process."""
    if bits not in _MATERIAL:
        folder = Path(tempfile.mkdtemp(prefix="wl-bench-"))
        _MATERIAL[bits] = Material(
            a_key=keys.generate_private_key(bits),
            b_key=keys.generate_private_key(bits),
            serving=certs.issue_serving_certificate(["127.0.0.1"], days=1),
            folder=folder,
        )
    return _MATERIAL[bits]


# -- the harness executor --------------------------------------------------------------------
class HarnessExecutor:
    """Benchmark harness, not a product executor (see the module docstring)."""

    def __init__(self, ws: workspace.Workspace, *, finish: bool) -> None:
        self._ws = ws
        self._finish = finish

    async def start(self, execution_body: resources.Body, *, secret_name: str, resume: bool = False) -> str:
        name = resources.name(execution_body)
        if self._finish:
            with contextlib.suppress(errors.InvalidTransition, errors.NotFound):
                await runner_calls.end(self._ws, name, resources.SUCCEEDED, "harness", None)
        return naming.job_name(name)

    async def cancel(self, execution_body: resources.Body) -> None:
        return None

    async def cleanup(self, execution_body: resources.Body) -> None:
        return None


# -- two linked workspaces -------------------------------------------------------------------
class Pair:
    """Workspace A (dials, controls) linked to B (listens) over HTTPS on 127.0.0.1."""

    def __init__(
        self,
        sizes: Sizes,
        *,
        finish: bool,
        a_store: memstore.MemStore | None = None,
        b_settings: settings.Settings | None = None,
    ) -> None:
        self.material = material(sizes.key_bits)
        self.logs = Path(tempfile.mkdtemp(prefix="wl-bench-logs-"))
        self.a = embedded.EmbeddedWorkspace("bench-a", store=a_store, log_dir=self.logs / "a")
        self.b = embedded.EmbeddedWorkspace("bench-b", settings=b_settings, log_dir=self.logs / "b")
        self.b.sync_ssl_context = self.material.server_context()
        self.b.ws.executor = HarnessExecutor(self.b.ws, finish=finish)

    async def start(self, *, send_all: bool = False) -> None:
        await self.b.start()
        await self.a.start()
        await self.a.store.create(
            resources.FLOW, {"metadata": {"name": NOOP_FLOW}, "spec": {"script": NOOP_SCRIPT}}
        )
        await self.link(send_all=send_all)

    async def link(self, *, send_all: bool = False) -> None:
        request = manifests.LinkRequest(
            a_namespace="bench-a", b_namespace="bench-b", b_url=self.b.sync_url, send_all_executions=send_all
        ).validated()
        built = manifests.link_manifests(
            request, a_key=self.material.a_key, b_key=self.material.b_key, serving=self.material.serving
        )
        for body in built.b:
            await self.b.store.create(str(body["kind"]), body)
        for body in built.a:
            await self.a.store.create(str(body["kind"]), body)

    async def stop(self) -> None:
        await self.a.stop()
        await self.b.stop()

    async def remote(self, name: str, **spec: Any) -> resources.Body:
        """Create in A an execution of the no-op flow to run in B."""
        return await self.a.store.create(
            resources.EXECUTION,
            {
                "metadata": {"name": name},
                "spec": {"flow": NOOP_FLOW, "inputs": {}, "remoteWorkspace": A_CONFIG, **spec},
            },
        )


async def wait_until(
    ws: embedded.EmbeddedWorkspace, check: Callable[[], Awaitable[object]], *, seconds: float = 120.0
) -> Any:
    """Until ``check()`` is truthy, re-checked on every change in ``ws`` (and every 50 ms)."""
    deadline = time.monotonic() + seconds
    while True:
        since = ws.ws.changes.counter
        value = await check()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("a benchmark condition was not met in time")
        await ws.ws.changes.wait(since, min(remaining, 0.05))


async def warm_up(pair: Pair) -> None:
    """Send one execution through the link and wait for its status to come back.

    An idle link completes its first exchange only when the held long-poll ends (up to the
    hold, 20 s): a first message makes it complete at once, and warms TLS and the caches.
    """
    body = await pair.remote("warm-up")

    async def check() -> bool:
        current = await pair.a.store.get(resources.EXECUTION, resources.name(body))
        return int((resources.status(current).get("link") or {}).get("remoteVersion") or 0) >= 1

    await wait_until(pair.a, check)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]
