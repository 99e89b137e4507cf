"""One workspace in this process: a memstore, local runner processes, the same core.

The embedded mode is not a second implementation: it is another store (``memstore.MemStore``)
and another executor (``process_executor.ProcessExecutor``) under the very same
``lifecycle`` core, driven by the store's watch stream the way kopf drives it in the operator.
The runner API is served on 127.0.0.1 at an ephemeral port, and ``settings.runner_api_url``
points runners there.

A "restart" is a new ``EmbeddedWorkspace`` given the old store (as etcd would survive an
operator restart): everything held in memory — processes, the registry, the runner API — is
gone, and reconcile picks up from what the store says.

The link (SyncConfig supervision, the sync listener) plugs in at ``_start_links`` /
``_stop_links``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType

from workspace_link import (
    errors,
    lifecycle,
    memstore,
    process_executor,
    resources,
    runner_api,
    settings,
    store,
    workspace,
)

logger = logging.getLogger(__name__)


class EmbeddedWorkspace:
    """An async context manager (or ``start()``/``stop()``) around one in-process workspace."""

    def __init__(
        self,
        namespace: str,
        *,
        settings: settings.Settings | None = None,
        store: memstore.MemStore | None = None,
        log_dir: Path | None = None,
        grace_period: float = 5.0,
        passthrough: bool = False,
    ) -> None:
        self.namespace = namespace
        self.store = store or memstore.MemStore(namespace)
        self.executor = process_executor.ProcessExecutor(
            self.store,
            on_ended=self._run_ended,
            log_dir=log_dir,
            grace_period=grace_period,
            passthrough=passthrough,
        )
        self._settings = settings or _default_settings()
        self.ws = workspace.Workspace(namespace=namespace, store=self.store, executor=self.executor)
        self._runner_api = runner_api.Server(self.ws, host="127.0.0.1", port=0)
        self._pump_task: asyncio.Task[None] | None = None
        self.runner_url = ""

    async def __aenter__(self) -> EmbeddedWorkspace:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self.runner_url = await self._runner_api.start()
        self.ws.settings = dataclasses.replace(self._settings, runner_api_url=self.runner_url)
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())
        await self._start_links()

    async def stop(self) -> None:
        await self._stop_links()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        await self.executor.close()
        await self._runner_api.stop()

    # -- the place for the link (SyncConfig supervision, the sync listener) -----------------
    async def _start_links(self) -> None:
        """Start what links this workspace to peers. Nothing yet: the link engineer's part."""

    async def _stop_links(self) -> None:
        """Stop what ``_start_links`` started."""

    # -- events -----------------------------------------------------------------------------
    async def _run_ended(self, name: str, *, phase: str, reason: str, message: str) -> None:
        await lifecycle.run_ended(self.ws, name, phase=phase, reason=reason, message=message)

    async def _pump(self) -> None:
        """Deliver store events to the core, as kopf does in the operator."""
        watch: store.WatchableStore = self.store
        async for event in watch.watch():
            if event.kind == resources.EXECUTION:
                try:
                    if event.type == "DELETED":
                        await lifecycle.cleanup(self.ws, event.body)
                    else:
                        await lifecycle.reconcile(self.ws, event.body)
                except Exception:
                    # One broken execution must not stop every other from being handled.
                    logger.exception("Execution %s: reconcile failed", resources.name(event.body))
            self.ws.changes.notify()

    # -- helpers ----------------------------------------------------------------------------
    async def wait_for_phase(
        self,
        name: str,
        phases: Collection[str],
        timeout: float | None = 30.0,  # noqa: ASYNC109
    ) -> resources.Body:
        """Wait until Execution ``name`` is in one of ``phases``; return it. Raises TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            since = self.ws.changes.counter
            try:
                body = await self.store.get(resources.EXECUTION, name)
            except errors.NotFound:
                body = None
            if body is not None and resources.phase(body) in phases:
                return body
            remaining = 3600.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0 or not await self.ws.changes.wait(since, remaining):
                seen = resources.phase(body) if body is not None else "absent"
                raise TimeoutError(f"Execution {name} is {seen}, not one of {sorted(phases)}")


def _default_settings() -> settings.Settings:
    return settings.Settings()
