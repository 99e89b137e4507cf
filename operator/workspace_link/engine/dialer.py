"""The link loop of one SyncConfig (``run``): the dialer's sessions and the lost-peer watch.

``run`` is the long-lived loop (a kopf daemon, or an embedded task):

- **dialer, interval mode** (``syncInterval``): one exchange per interval carrying everything
  pending (more at once while a batch was full);
- **dialer, on-change mode**: two tasks. The *sender* exchanges (hold 0) whenever the outbox is
  non-empty or acks are owed; it wakes on ``ws.changes`` — there is no polling tick. The
  *poller* keeps one long-poll open (hold ``settings.long_poll_hold``), through which the
  listener's changes arrive as soon as they happen (docs/protocol.md §1.1);
- **listener**: the exchanges arrive through the HTTP listener; ``run`` only watches for a lost
  peer.

On the controlling side, both modes give up on a peer silent for ``settings.peer_lost_timeout``
(``lost_peer``). Failures back off exponentially with full jitter (``backoff``). The SyncConfig
and its Secrets are re-read (from the watch-fed cache) before the first exchange after any
SyncConfig or Secret event, so a changed spec or a rotated key is used at once. What the
SyncConfig's status says about all this is ``link_status``.

``stopped`` is any object with ``is_set() -> bool`` and ``async wait()`` (kopf's daemon
``stopped`` flag or an ``asyncio.Event``): the loop returns soon after it is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from workspace_link.core import backoff, errors, link_config, protocol, resources
from workspace_link.engine import exchange, link_keys, link_status, lost_peer, store, workspace

logger = logging.getLogger(__name__)

#: The longest a loop sleeps without re-checking anything (a safety net, not a delivery tick).
IDLE_RECHECK: Final = 300.0


class Stopped(Protocol):
    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


Sleep = Callable[[float], Awaitable[None]]
Observer = Callable[[str, exchange.ExchangeResult], None]


async def _wait(
    ws: workspace.Workspace,
    stopped: Stopped,
    *,
    since: int | None = None,
    seconds: float = IDLE_RECHECK,
    sleep: Sleep = asyncio.sleep,
    changes: workspace.Changes | None = None,
) -> None:
    """Until ``stopped``, or ``changes`` (default: any change in the store) moves past ``since``
    (if given), or ``seconds`` pass."""
    if stopped.is_set():
        return
    signal = changes or ws.changes
    waiter = signal.wait(since, seconds) if since is not None else sleep(seconds)
    tasks = [asyncio.ensure_future(stopped.wait()), asyncio.ensure_future(waiter)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)  # let the cancelled one finish; raises nothing itself
    for task in tasks:
        if not task.cancelled():
            task.result()  # a waiter that failed is a bug: let it surface, never swallow it


async def _current(
    ws: workspace.Workspace, name: str
) -> tuple[link_config.LinkConfig, link_config.LinkKeys] | None:
    """The SyncConfig and its keys as they are now; None when the SyncConfig is gone."""
    try:
        body = await ws.store.get(resources.SYNC_CONFIG, name)
    except errors.NotFound:
        return None
    config = link_config.parse(body)
    return config, await link_keys.load_keys(ws.secrets, config)


def _fingerprint(config: link_config.LinkConfig, keys: link_config.LinkKeys) -> tuple[Any, ...]:
    return (config, keys.key_id, tuple(sorted(keys.remote_keys)), keys.ca_pem)


class _Session:
    """One dialer session: fixed config, keys and client; ends when any of them changes."""

    def __init__(
        self,
        ws: workspace.Workspace,
        *,
        config: link_config.LinkConfig,
        keys: link_config.LinkKeys,
        client: exchange.Client,
        stopped: Stopped,
        reporter: link_status.Reporter,
        waits: backoff.Backoff,
        sleep: Sleep,
        observer: Observer | None,
        store_failures: store.FailureLog,
        config_seen: int,
    ) -> None:
        self.ws, self.config, self.keys, self.client = ws, config, keys, client
        self.stopped, self.reporter, self.waits, self.sleep = stopped, reporter, waits, sleep
        self.observer, self.store_failures = observer, store_failures
        #: ``ws.config_changes.counter`` when config and keys were last read.
        self.config_seen = config_seen
        self.state = exchange.DialerState()
        self.fingerprint = _fingerprint(config, keys)
        self.ended = asyncio.Event()

    def done(self) -> bool:
        return self.stopped.is_set() or self.ended.is_set()

    async def still_current(self) -> bool:
        seen = self.ws.config_changes.counter
        if seen == self.config_seen and self.ws.keys_store is None:
            # No SyncConfig or Secret event since the last read: nothing to re-read or parse
            # before this exchange. Key Secrets in a keys namespace send no events: re-read.
            return True
        try:
            current = await _current(self.ws, self.config.name)
        except (errors.SpecError, errors.KeyLoadError):
            current = None
        except errors.StoreError as exc:
            # Not a config change: the store failed. Back off, keep the session.
            self.store_failures.failed(f"SyncConfig {self.config.name}: could not re-read it", exc)
            await _wait(self.ws, self.stopped, seconds=self.waits.failed(), sleep=self.sleep)
            return True
        if current is None or _fingerprint(*current) != self.fingerprint:
            self.ended.set()
            return False
        self.config_seen = seen
        return True

    async def exchange(
        self, *, hold: float, send_messages: bool, outbox: list[protocol.Message] | None = None
    ) -> exchange.ExchangeResult | None:
        try:
            result = await exchange.once(
                self.ws,
                config=self.config,
                keys=self.keys,
                client=self.client,
                hold=hold,
                state=self.state,
                send_messages=send_messages,
                outbox=outbox,
            )
        except (errors.PeerError, errors.StoreError) as exc:
            if isinstance(exc, errors.StoreRefused):
                self.store_failures.failed(f"link {self.config.name}: exchange failed", exc)
            else:
                logger.info("link %s: exchange failed: %s", self.config.name, exc)
            self.reporter.failed(exc)
            await self.reporter.flush()
            await _wait(self.ws, self.stopped, seconds=self.waits.failed(), sleep=self.sleep)
            return None
        self.waits.succeeded()
        self.reporter.succeeded(peer=result.peer, sent=result.sent, received=result.received)
        await self.reporter.flush()
        if self.observer is not None:
            self.observer(self.config.name, result)
        return result

    async def interval_loop(self) -> None:
        assert self.config.interval is not None
        while not self.done() and await self.still_current():
            result = await self.exchange(hold=0.0, send_messages=True)
            if result is not None and result.sent >= self.ws.settings.exchange_batch:
                continue  # a full batch: the rest follows at once
            if result is not None:
                await _wait(self.ws, self.stopped, seconds=self.config.interval, sleep=self.sleep)

    async def sender_loop(self) -> None:
        while not self.done():
            since = self.ws.changes.counter
            if not await self.still_current():
                return
            try:
                outbox = await exchange.read_outbox(self.ws, self.config)
            except errors.StoreError as exc:
                self.store_failures.failed(f"link {self.config.name}: could not read what to send", exc)
                await _wait(self.ws, self.stopped, seconds=self.waits.failed(), sleep=self.sleep)
                continue
            if outbox or self.state:
                result = await self.exchange(hold=0.0, send_messages=True, outbox=outbox)
                if result is None or result.progressed:
                    continue
            # Only the change: ``run`` cancels this loop once stopped or ended. One future, not
            # ``_wait``'s tasks, so a change wakes it in one step of the event loop: the start
            # leaves before the work the event's handler does next.
            await self.ws.changes.wait(since, IDLE_RECHECK)

    async def poller_loop(self) -> None:
        # The first poll (and the first after a failure) is answered at once, so a new or
        # recovered link shows Connected without waiting out a whole hold.
        hold = 0.0
        while not self.done():
            if not await self.still_current():
                return
            result = await self.exchange(hold=hold, send_messages=False)
            hold = self.ws.settings.long_poll_hold if result is not None else 0.0

    async def run(self) -> None:
        if self.config.interval is not None:
            await self.interval_loop()
            return
        tasks = [
            asyncio.ensure_future(self.sender_loop()),
            asyncio.ensure_future(self.poller_loop()),
            asyncio.ensure_future(self.stopped.wait()),
            asyncio.ensure_future(self.ended.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.ended.set()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


ClientFactory = Callable[[link_config.LinkConfig, link_config.LinkKeys], Any]


async def run(
    ws: workspace.Workspace,
    name: str,
    *,
    stopped: Stopped,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    client_factory: ClientFactory,
    observer: Observer | None = None,
) -> None:
    """Keep the link of SyncConfig ``name`` going until ``stopped`` is set or it is deleted.

    ``sleep`` waits out intervals and backoff (tests pass a clock they control); ``observer`` is
    told about every successful dialer exchange; ``client_factory`` builds the transport for a
    config and its keys (the adapters pass ``peer_client.factory``; the engine imports no HTTP).
    """
    started = resources.now()
    reporter = link_status.Reporter(ws, name)
    store_failures = store.FailureLog(logger)
    waits = backoff.Backoff(ws.settings.backoff_initial, ws.settings.backoff_max, rng or random.Random())
    build = client_factory
    last_problem: str | None = None
    gc_every = (
        max(1.0, min(ws.settings.peer_lost_timeout / 4, 60.0))
        if ws.settings.peer_lost_timeout > 0
        else IDLE_RECHECK
    )
    gc_task: asyncio.Task[None] | None = None
    loaded_keys: tuple[Any, ...] | None = None

    async def gc_loop() -> None:
        while not stopped.is_set():
            try:
                await lost_peer.check(ws, name, started=started, reporter=reporter)
            except errors.StoreError as exc:
                # Checked again at the next round; a lost peer stays lost until then.
                store_failures.failed(f"SyncConfig {name}: lost-peer check failed", exc)
            await _wait(ws, stopped, seconds=gc_every, sleep=sleep)

    try:
        gc_task = asyncio.ensure_future(gc_loop())
        while not stopped.is_set():
            since = ws.config_changes.counter
            try:
                current = await _current(ws, name)
            except (errors.SpecError, errors.KeyLoadError) as exc:
                if str(exc) != last_problem:
                    last_problem = str(exc)
                    logger.warning("SyncConfig %s: %s", name, exc)
                    reporter.failed(exc)
                    await reporter.flush(force=True)
                # Keys may be fixed by a Secret change: re-check on changes, backing off.
                await _wait(ws, stopped, since=since, seconds=waits.failed(), changes=ws.config_changes)
                continue
            except errors.StoreError as exc:
                # Not a reason to end the link: retried with backoff.
                store_failures.failed(f"SyncConfig {name}: could not read it", exc)
                await _wait(ws, stopped, seconds=waits.failed(), sleep=sleep)
                continue
            if current is None:
                return
            last_problem = None
            config, keys = current
            reporter.generation = config.generation
            loaded = (keys.key_id, tuple(sorted(keys.remote_keys)), keys.ca_pem)
            if loaded_keys is not None and loaded != loaded_keys:
                # A rotated key Secret: the status (keyId, KeysLoaded) follows without a restart.
                try:
                    await link_status.reconcile_config(ws, await ws.store.get(resources.SYNC_CONFIG, name))
                except errors.WorkspaceLinkError as exc:
                    logger.warning("SyncConfig %s: could not refresh its status: %s", name, exc)
            loaded_keys = loaded
            if not config.enabled or not config.dialer:
                # A disabled link idles until its SyncConfig changes; a listener's exchanges
                # arrive through the HTTP listener.
                await _wait(ws, stopped, since=since, changes=ws.config_changes)
                continue
            client = build(config, keys)
            session = _Session(
                ws,
                config=config,
                keys=keys,
                client=client,
                stopped=stopped,
                reporter=reporter,
                waits=waits,
                sleep=sleep,
                observer=observer,
                store_failures=store_failures,
                config_seen=since,
            )
            try:
                await session.run()
            finally:
                closer = getattr(client, "aclose", None)
                if closer is not None:
                    await closer()
    finally:
        if gc_task is not None:
            gc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gc_task
        with contextlib.suppress(errors.StoreError):
            await reporter.flush(force=True)
        reporter.close()
