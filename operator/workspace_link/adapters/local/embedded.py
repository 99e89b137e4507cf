"""One workspace in this process: a memstore, local runner processes, the same core.

The embedded mode is not a second implementation: it is another store (``memstore.MemStore``)
and another executor (``process_executor.ProcessExecutor``) under the very same
``engine``, driven by the store's watch stream the way kopf drives it in the operator.
The runner API is served on 127.0.0.1 at an ephemeral port, and ``settings.runner_api_url``
points runners there.

A "restart" is a new ``EmbeddedWorkspace`` given the old store (as etcd would survive an
operator restart): everything held in memory — processes, the registry, the runner API — is
gone, and reconcile picks up from what the store says.

The link side (``_start_links`` / ``_stop_links``): the sync listener, and a supervisor that
runs one link loop per SyncConfig and restarts a loop that died of a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import ssl
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType

from aiohttp import web

from workspace_link.adapters import metrics
from workspace_link.adapters.http import listener, peer_client, runner_api, serving
from workspace_link.adapters.local import memstore, process_executor
from workspace_link.core import backoff, errors, protocol, resources, settings
from workspace_link.engine import dialer, exchange, executions, link_status, store, workspace

logger = logging.getLogger(__name__)

#: A reconcile that raised is tried this many times in all, waiting ``backoff.delay`` (up to
#: RETRY_DELAY, 2x, 4x... seconds, capped at RETRY_MAX, jittered) before each retry.
RETRIES = 5
RETRY_DELAY = 0.5
RETRY_MAX = 4.0


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
        self._settings = settings or _default_settings()
        self.executor = process_executor.ProcessExecutor(
            self.store,
            on_ended=self._run_ended,
            log_dir=log_dir,
            grace_period=grace_period,
            passthrough=passthrough,
            max_log_bytes=self._settings.runner_log_max_bytes,
        )
        self.ws = workspace.Workspace(
            namespace=namespace, store=workspace.cached(self.store), executor=self.executor
        )
        self._runner_api = runner_api.Server(self.ws, host="127.0.0.1", port=0)
        self._pump_task: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()
        self._rng = random.Random()
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
        for task in list(self._retries):
            task.cancel()
        await self.executor.close()
        await self._runner_api.stop()

    # == Link: SyncConfig supervision and the sync listener ==================================
    # Set these before ``start()``. The sync listener serves every listening SyncConfig of this
    # workspace on 127.0.0.1 over TLS (the link speaks HTTPS only); without a TLS context (here
    # or from settings.tls_cert_file/tls_key_file) no listener is started. Every SyncConfig gets
    # ``link_status.reconcile_config`` when its spec changes and one ``dialer.run`` task while it exists.
    #: TLS for the sync listener (a server context, e.g. from trustme).
    sync_ssl_context: ssl.SSLContext | None = None
    #: Port of the sync listener (0 = ephemeral). A "restarted" workspace reuses its old port
    #: so the peer's remoteUrl keeps working.
    sync_port: int = 0
    #: ``https://127.0.0.1:<port>`` once started (empty without a listener).
    sync_url: str = ""
    #: Told about every successful dialer exchange (tests count exchanges with it).
    link_observer: dialer.Observer | None = None
    #: How the link loops wait out intervals, backoff and lost-peer checks (tests pass a clock
    #: they control); None = asyncio.sleep.
    link_sleep: dialer.Sleep | None = None

    def sync_url_for(self, config_name: str) -> str:
        """The remoteUrl a peer uses to reach SyncConfig ``config_name`` here."""
        return self.sync_url + protocol.SYNC_PATH.format(name=config_name)

    async def _start_links(self) -> None:
        """Start the sync listener and the supervisor of this workspace's SyncConfigs."""
        self._link_runs: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self._sync_runner: web.AppRunner | None = None
        context = self.sync_ssl_context or _listener_tls(self.ws.settings)
        if context is not None:
            # Held long-polls end with the workspace: a short shutdown timeout, like a pod kill.
            self._sync_runner, self.sync_port = await serving.serve(
                listener.create_app(self.ws),
                host="127.0.0.1",
                port=self.sync_port,
                ssl_context=context,
                shutdown_timeout=0.1,
                limits=listener.limits(self.ws.settings),
            )
            self.sync_url = f"https://127.0.0.1:{self.sync_port}"
        self._link_supervisor = asyncio.get_running_loop().create_task(self._supervise_links())

    async def _stop_links(self) -> None:
        """Stop what ``_start_links`` started; the store keeps everything."""
        supervisor = getattr(self, "_link_supervisor", None)
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        for stop, _ in getattr(self, "_link_runs", {}).values():
            stop.set()
        for _, task in getattr(self, "_link_runs", {}).values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # _run_link raises nothing else
                await task
        self._link_runs = {}
        runner = getattr(self, "_sync_runner", None)
        if runner is not None:
            await runner.cleanup()
            self._sync_runner = None

    async def _supervise_links(self) -> None:
        watch: store.WatchableStore = self.store
        async for event in watch.watch(frozenset({resources.SYNC_CONFIG})):
            name = resources.name(event.body)
            if event.type == "DELETED":
                stop, _ = self._link_runs.pop(name, (None, None))
                if stop is not None:
                    stop.set()
                continue
            observed = resources.status(event.body).get("observedGeneration")
            if event.type == "ADDED" or observed != event.body["metadata"].get("generation"):
                try:
                    await link_status.reconcile_config(self.ws, event.body)
                except errors.WorkspaceLinkError as exc:
                    logger.warning("SyncConfig %s: %s", name, exc)
                except Exception:
                    # A bug, not a bad SyncConfig: say where, and keep supervising the others.
                    logger.exception("SyncConfig %s: reconcile failed", name)
            running = self._link_runs.get(name)
            if running is None or running[1].done():
                stop = asyncio.Event()
                task = asyncio.get_running_loop().create_task(self._run_link(name, stop))
                self._link_runs[name] = (stop, task)

    def _observe_exchange(self, name: str, result: exchange.ExchangeResult) -> None:
        metrics.observe_exchange(name, result)
        if self.link_observer is not None:
            self.link_observer(name, result)

    async def _run_link(self, name: str, stop: asyncio.Event) -> None:
        """Run the link loop of ``name`` until ``stop``; restart it, with backoff, if it dies.

        The loop handles every failure a peer, a SyncConfig or the store can cause; an exception
        that still reaches here is a bug. It is logged with its traceback and the loop starts
        again rather than staying dead until the SyncConfig next changes.
        """
        waits = backoff.Backoff(self.ws.settings.backoff_initial, self.ws.settings.backoff_max)
        while not stop.is_set():
            try:
                await self._link_loop(name, stop)
                return
            except Exception:
                delay = waits.failed()
                logger.exception("SyncConfig %s: the link loop failed; restarting it in %.1f s", name, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _link_loop(self, name: str, stop: asyncio.Event) -> None:
        await dialer.run(
            self.ws,
            name,
            stopped=stop,
            client_factory=peer_client.factory(self.ws.settings),
            observer=self._observe_exchange,
            sleep=self.link_sleep or asyncio.sleep,
        )

    # == end of the link side =================================================================

    # -- events -----------------------------------------------------------------------------
    async def _run_ended(self, name: str, *, phase: str, reason: str, message: str) -> None:
        await executions.run_ended(self.ws, name, phase=phase, reason=reason, message=message)

    async def _pump(self) -> None:
        """Deliver store events to the core, as kopf does in the operator."""
        watch: store.WatchableStore = self.store
        async for event in watch.watch():
            self.ws.observe(event.type, event.kind, event.body)
            if event.kind == resources.EXECUTION:
                await self._handle(event, attempt=0)
            self.ws.changes.notify()

    async def _handle(self, event: store.WatchEvent, *, attempt: int) -> None:
        # One broken execution must not stop the others; like kopf, retry it with backoff
        # (reconcile is idempotent and re-reads, so a late retry is harmless).
        name = resources.name(event.body)
        try:
            if event.type == "DELETED":
                await executions.cleanup(self.ws, event.body)
            else:
                # A MODIFIED event is of an object already seen: no run check (``reconcile``).
                await executions.reconcile(self.ws, event.body, resumed=event.type != "MODIFIED")
            return
        except errors.WorkspaceLinkError as exc:
            logger.warning("Execution %s: reconcile failed (attempt %d): %s", name, attempt + 1, exc)
        except Exception:
            # A bug: kopf would log it with its traceback and retry; so does this.
            logger.exception("Execution %s: reconcile failed (attempt %d)", name, attempt + 1)
        if attempt + 1 >= RETRIES:
            logger.error("Execution %s: gave up after %d attempts; its next change retries", name, RETRIES)
            return
        task = asyncio.get_running_loop().create_task(self._retry(event, attempt=attempt + 1))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry(self, event: store.WatchEvent, *, attempt: int) -> None:
        await asyncio.sleep(backoff.delay(attempt, initial=RETRY_DELAY, maximum=RETRY_MAX, rng=self._rng))
        await self._handle(event, attempt=attempt)

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


def _listener_tls(wl_settings: settings.Settings) -> ssl.SSLContext | None:
    """The sync listener's TLS from settings (PEM files), if configured."""
    if not wl_settings.tls_cert_file or not wl_settings.tls_key_file:
        return None
    return serving.server_tls_context(wl_settings.tls_cert_file, wl_settings.tls_key_file)


def _default_settings() -> settings.Settings:
    return settings.Settings()
