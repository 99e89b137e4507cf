"""The link loop: one per SyncConfig, and what the SyncConfig's status says about it.

``reconcile_config`` (kopf's create/update/resume handler, or the embedded supervisor) checks
the spec and the keys and writes the conditions an admin reads first (``KeysLoaded``,
``Ready``) plus the path the peer must use. ``run`` is the long-lived loop (a kopf daemon, or an
embedded task):

- **dialer, interval mode** (``syncInterval``): one exchange per interval carrying everything
  pending (more at once while a batch was full);
- **dialer, on-change mode**: two tasks. The *sender* exchanges (hold 0) whenever the outbox is
  non-empty or acks are owed; it wakes on ``ws.changes`` — there is no polling tick. The
  *poller* keeps one long-poll open (hold ``settings.long_poll_hold``), through which the
  listener's changes arrive as soon as they happen;
- **listener**: the exchanges arrive through ``listener``; ``run`` only watches for a lost peer.

On the controlling side, both modes give up on a peer silent for ``settings.peer_lost_timeout``
(``gc``). Failures back off exponentially with full jitter (``backoff``). The SyncConfig and its
Secrets are re-read before every exchange, so a changed spec or a rotated key is used at once.

Status is written sparingly: at once when something an admin would see changes (connected or
not, the error, the peer), otherwise at most every ``STATUS_EVERY`` seconds for counters and
times — never once per exchange.

``stopped`` is any object with ``is_set() -> bool`` and ``async wait()`` (kopf's daemon
``stopped`` flag or an ``asyncio.Event``): the loop returns soon after it is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from workspace_link.core import backoff, conditions, errors, link_config, protocol, resources
from workspace_link.engine import exchange, link_keys, lost_peer, workspace

logger = logging.getLogger(__name__)

#: Seconds between status writes that would only move counters and times.
STATUS_EVERY: Final = 5.0
#: The longest a loop sleeps without re-checking anything (a safety net, not a delivery tick).
IDLE_RECHECK: Final = 300.0


class Stopped(Protocol):
    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


Sleep = Callable[[float], Awaitable[None]]
Observer = Callable[[str, exchange.ExchangeResult], None]


# -- status ----------------------------------------------------------------------------------


async def _update_status(
    ws: workspace.Workspace, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> resources.Body | None:
    """Read-modify-write the SyncConfig's status, conditional on resourceVersion; skip no-ops."""
    for _ in range(8):
        try:
            body = await ws.store.get(resources.SYNC_CONFIG, name)
        except errors.NotFound:
            return None
        current = resources.status(body)
        new = change(dict(current))
        if new == current:
            return body
        try:
            return await ws.store.replace_status(resources.SYNC_CONFIG, {**body, "status": new})
        except errors.Conflict:
            continue
    logger.warning("SyncConfig %s: status kept changing; skipped one update", name)
    return None


def _condition(
    status: dict[str, Any], type_: str, ok: bool, reason: str, message: str, generation: int | None
) -> None:
    status["conditions"] = conditions.set_condition(
        status.get("conditions"),
        type_=type_,
        status=ok,
        reason=reason,
        message=message,
        generation=generation,
        now=resources.timestamp(),
    )


def _ready_message(config: link_config.LinkConfig) -> str:
    where = (
        f"dials {config.remote_url}"
        if config.dialer
        else f"listens on {protocol.SYNC_PATH.format(name=config.name)}"
    )
    text = f"{config.role}; {where}"
    if config.dialer and not config.verify_ssl:
        text += "; WARNING: verifySsl is false, the peer's TLS certificate is NOT verified"
    return text


async def reconcile_config(ws: workspace.Workspace, body: resources.Body) -> None:
    """Validate a SyncConfig and its keys; write conditions and the path the peer must use.

    Raises ``errors.SpecError`` / ``errors.KeyLoadError`` after writing the status (and, for
    keys, a Warning event naming the Secret) so the caller (kopf) retries.
    """
    name = resources.name(body)
    generation = int(body["metadata"].get("generation") or 0)
    try:
        config = link_config.parse(body)
    except errors.SpecError as exc:
        error = exc

        def invalid(status: dict[str, Any]) -> dict[str, Any]:
            _condition(status, conditions.READY, False, "InvalidSpec", str(error), generation)
            status["observedGeneration"] = generation
            return status

        await _update_status(ws, name, invalid)
        await ws.store.record_event(body, type="Warning", reason="InvalidSpec", message=str(exc))
        raise
    keys: link_config.LinkKeys | None = None
    key_error: errors.KeyLoadError | None = None
    try:
        keys = await link_keys.load_keys(ws.secrets, config)
    except errors.KeyLoadError as exc:
        key_error = exc

    def write(status: dict[str, Any]) -> dict[str, Any]:
        status.update(
            observedGeneration=generation,
            path=protocol.SYNC_PATH.format(name=name),
            mode=config.mode,
            role=config.role,
        )
        if keys is not None:
            status["keyId"] = keys.key_id
            _condition(status, conditions.KEYS_LOADED, True, "KeysLoaded", _keys_message(keys), generation)
        else:
            _condition(status, conditions.KEYS_LOADED, False, "KeysUnavailable", str(key_error), generation)
        if key_error is not None:
            _condition(status, conditions.READY, False, "KeysUnavailable", str(key_error), generation)
        elif not config.enabled:
            _condition(
                status, conditions.READY, False, "Disabled", "enabled is false: no exchanges", generation
            )
        else:
            _condition(status, conditions.READY, True, "Ready", _ready_message(config), generation)
        return status

    await _update_status(ws, name, write)
    if key_error is not None:
        await ws.store.record_event(body, type="Warning", reason="KeysUnavailable", message=str(key_error))
        raise key_error


def _keys_message(keys: link_config.LinkKeys) -> str:
    accepted = ", ".join(sorted(keys.remote_keys))
    return f"own key {keys.key_id}; {len(keys.remote_keys)} accepted remote key(s): {accepted}"


@dataclasses.dataclass
class _Reporter:
    """Keeps what the status should say, and writes it when it matters (see module doc)."""

    ws: workspace.Workspace
    name: str
    exchanges: int = 0
    failures: int = 0
    sent: int = 0
    received: int = 0
    last_attempt: str | None = None
    last_success: str | None = None
    connected: bool | None = None
    error: str | None = None
    error_reason: str = ""
    ready_problem: tuple[str, str] | None = None
    peer: dict[str, str] | None = None
    generation: int | None = None
    _written_state: tuple[Any, ...] | None = None
    _written_at: float = -1e18
    _later: asyncio.Task[None] | None = None
    _dirty: bool = False

    def _state(self) -> tuple[Any, ...]:
        return (self.connected, self.error, self.ready_problem, tuple(sorted((self.peer or {}).items())))

    def succeeded(self, *, peer: protocol.Sender, sent: int, received: int) -> None:
        now = resources.timestamp()
        self.exchanges += 1
        self.sent += sent
        self.received += received
        self.last_attempt = self.last_success = now
        self.connected, self.error, self.error_reason, self.ready_problem = True, None, "", None
        self.peer = {"config": peer.config, "role": peer.role, "workspace": peer.workspace}
        self._dirty = True

    def failed(self, error: Exception, *, peer: protocol.Sender | None = None) -> None:
        self.failures += 1
        self.last_attempt = resources.timestamp()
        self.connected = False
        self.error = str(error)
        self.error_reason = _reason(error)
        if _is_role_mismatch(error):
            self.ready_problem = ("RoleMismatch", str(error))
        elif isinstance(error, errors.KeyLoadError):
            self.ready_problem = ("KeysUnavailable", str(error))
        elif isinstance(error, errors.PeerRefused):
            self.ready_problem = ("PeerRefused", str(error))
        else:
            self.ready_problem = None
        if peer is not None:
            self.peer = {"config": peer.config, "role": peer.role, "workspace": peer.workspace}
        self._dirty = True

    async def flush(self, *, force: bool = False) -> None:
        if not self._dirty:
            return
        loop = asyncio.get_running_loop()
        state = self._state()
        wait = self._written_at + STATUS_EVERY - loop.time()
        if not force and state == self._written_state and wait > 0:
            if self._later is None or self._later.done():
                self._later = loop.create_task(self._flush_after(wait))
            return
        self._dirty = False
        self._written_state = state
        self._written_at = loop.time()
        counts = {
            "exchanges": self.exchanges,
            "failures": self.failures,
            "messagesSent": self.sent,
            "messagesReceived": self.received,
        }
        try:
            await _update_status(self.ws, self.name, lambda status: self._apply(status, counts))
        except errors.StoreError as exc:
            # The API server is briefly unavailable: keep the counts and write them next time.
            logger.warning("SyncConfig %s: could not write its status (will retry): %s", self.name, exc)
            self.exchanges += counts["exchanges"]
            self.failures += counts["failures"]
            self.sent += counts["messagesSent"]
            self.received += counts["messagesReceived"]
            self._dirty = True
            self._written_state = None

    async def _flush_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.flush(force=True)

    def _apply(self, status: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
        old = dict(status.get("counters") or {})
        status["counters"] = {key: int(old.get(key) or 0) + value for key, value in counts.items()}
        if self.last_attempt:
            status["lastAttemptTime"] = self.last_attempt
        if self.last_success:
            status["lastSuccessTime"] = self.last_success
        if self.peer:
            status["peer"] = dict(self.peer)
        generation = self.generation
        if self.connected:
            status.pop("lastError", None)
            peer = self.peer or {}
            text = f"exchanging with SyncConfig {peer.get('config')} in {peer.get('workspace')}"
            _condition(status, conditions.CONNECTED, True, "Exchanging", text, generation)
        elif self.connected is False and self.error:
            status["lastError"] = self.error
            _condition(status, conditions.CONNECTED, False, self.error_reason, self.error, generation)
        if self.ready_problem is not None:
            _condition(
                status, conditions.READY, False, self.ready_problem[0], self.ready_problem[1], generation
            )
        elif conditions.find(status.get("conditions"), conditions.READY) is not None and self.connected:
            ready = conditions.find(status.get("conditions"), conditions.READY) or {}
            if ready.get("reason") in ("RoleMismatch", "PeerRefused"):
                _condition(
                    status, conditions.READY, True, "Ready", "the peer accepts this link again", generation
                )
        return status

    def close(self) -> None:
        if self._later is not None:
            self._later.cancel()


def _is_role_mismatch(error: Exception) -> bool:
    # Detected here (the peer's answer) or by the peer (its 409 refusal).
    return isinstance(error, errors.PeerRefused) and error.reason == "role-mismatch"


def _reason(error: Exception) -> str:
    if _is_role_mismatch(error):
        return "RoleMismatch"
    if isinstance(error, errors.PeerRefused):
        return "PeerRefused"
    if isinstance(error, errors.PeerUnreachable):
        return "PeerUnreachable"
    if isinstance(error, errors.KeyLoadError):
        return "KeysUnavailable"
    return type(error).__name__


def _listener_reporter(ws: workspace.Workspace, name: str) -> _Reporter:
    """The listener has no loop of its own: its reporter lives on the workspace."""
    reporter = ws.listener_reporters.get(name)
    if not isinstance(reporter, _Reporter):
        reporter = ws.listener_reporters[name] = _Reporter(ws, name)
    return reporter


async def record_listener_exchange(
    ws: workspace.Workspace,
    config: link_config.LinkConfig,
    *,
    peer: protocol.Sender,
    received: int,
    sent: int,
) -> None:
    """The listener answered an exchange: record contact (lastSuccessTime) sparingly."""
    reporter = _listener_reporter(ws, config.name)
    reporter.generation = config.generation
    reporter.succeeded(peer=peer, sent=sent, received=received)
    await reporter.flush()


async def record_listener_failure(
    ws: workspace.Workspace,
    config: link_config.LinkConfig,
    *,
    error: Exception,
    peer: protocol.Sender | None = None,
) -> None:
    """The listener refused an authenticated peer for a reason the admin must see (keys, role)."""
    reporter = _listener_reporter(ws, config.name)
    reporter.generation = config.generation
    reporter.failed(error, peer=peer)
    await reporter.flush()


# -- the loop --------------------------------------------------------------------------------


async def _wait(
    ws: workspace.Workspace,
    stopped: Stopped,
    *,
    since: int | None = None,
    seconds: float = IDLE_RECHECK,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Until ``stopped``, or the store changes after ``since`` (if given), or ``seconds`` pass."""
    if stopped.is_set():
        return
    waiter = ws.changes.wait(since, seconds) if since is not None else sleep(seconds)
    tasks = [asyncio.ensure_future(stopped.wait()), asyncio.ensure_future(waiter)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


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


def _last_contact(body: resources.Body, started: datetime.datetime) -> datetime.datetime:
    seen = resources.status(body).get("lastSuccessTime")
    if isinstance(seen, str):
        with contextlib.suppress(ValueError):
            return max(started, resources.parse_timestamp(seen))
    return started


async def _check_lost_peer(
    ws: workspace.Workspace, name: str, started: datetime.datetime, reporter: _Reporter | None
) -> None:
    timeout = ws.settings.peer_lost_timeout
    if timeout <= 0:
        return
    try:
        body = await ws.store.get(resources.SYNC_CONFIG, name)
        config = link_config.parse(body)
    except (errors.NotFound, errors.SpecError):
        return
    if config.role != resources.ROLE_CONTROLLING:
        return
    last = _last_contact(body, started)
    # The freshest contact may not be written to the status yet (it is written sparingly).
    for seen in (reporter, ws.listener_reporters.get(name)):
        if seen is not None and seen.ws is ws and seen.last_success:
            last = max(last, resources.parse_timestamp(seen.last_success))
    now = resources.now()
    if lost_peer.is_lost(last_contact=last, now=now, timeout=timeout):
        await lost_peer.fail_lost(ws, link=name, now=now, silent_for=(now - last).total_seconds())


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
        reporter: _Reporter,
        waits: backoff.Backoff,
        sleep: Sleep,
        observer: Observer | None,
    ) -> None:
        self.ws, self.config, self.keys, self.client = ws, config, keys, client
        self.stopped, self.reporter, self.waits, self.sleep = stopped, reporter, waits, sleep
        self.observer = observer
        self.state = exchange.DialerState()
        self.fingerprint = _fingerprint(config, keys)
        self.ended = asyncio.Event()

    def done(self) -> bool:
        return self.stopped.is_set() or self.ended.is_set()

    async def still_current(self) -> bool:
        try:
            current = await _current(self.ws, self.config.name)
        except (errors.SpecError, errors.KeyLoadError):
            current = None
        except errors.StoreError as exc:
            # Not a config change: the store is briefly unavailable. Back off, keep the session.
            logger.warning("SyncConfig %s: could not re-read it (will retry): %s", self.config.name, exc)
            await _wait(self.ws, self.stopped, seconds=self.waits.failed(), sleep=self.sleep)
            return True
        if current is None or _fingerprint(*current) != self.fingerprint:
            self.ended.set()
            return False
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
                outbox = await exchange.compute_outbox(self.ws, self.config)
            except errors.StoreError as exc:
                logger.warning("link %s: could not read what to send (will retry): %s", self.config.name, exc)
                await _wait(self.ws, self.stopped, seconds=self.waits.failed(), sleep=self.sleep)
                continue
            if outbox or self.state:
                result = await self.exchange(hold=0.0, send_messages=True, outbox=outbox)
                if result is None or result.progressed:
                    continue
            await _wait(self.ws, self.stopped, since=since)

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
    config and its keys (the shells pass ``peer_client.factory``; this core imports no HTTP).
    """
    started = resources.now()
    reporter = _Reporter(ws, name)
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
                await _check_lost_peer(ws, name, started, reporter)
            except errors.StoreError as exc:
                # Checked again at the next round; a lost peer stays lost until then.
                logger.warning("SyncConfig %s: lost-peer check failed (will retry): %s", name, exc)
            await _wait(ws, stopped, seconds=gc_every, sleep=sleep)

    try:
        gc_task = asyncio.ensure_future(gc_loop())
        while not stopped.is_set():
            since = ws.changes.counter
            try:
                current = await _current(ws, name)
            except (errors.SpecError, errors.KeyLoadError) as exc:
                if str(exc) != last_problem:
                    last_problem = str(exc)
                    logger.warning("SyncConfig %s: %s", name, exc)
                    reporter.failed(exc)
                    await reporter.flush(force=True)
                # Keys may be fixed by a Secret change: re-check on changes, backing off.
                await _wait(ws, stopped, since=since, seconds=waits.failed())
                continue
            except errors.StoreError as exc:
                # The API server is briefly unavailable: not a reason to end the link.
                logger.warning("SyncConfig %s: could not read it (will retry): %s", name, exc)
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
                    await reconcile_config(ws, await ws.store.get(resources.SYNC_CONFIG, name))
                except errors.WorkspaceLinkError as exc:
                    logger.warning("SyncConfig %s: could not refresh its status: %s", name, exc)
            loaded_keys = loaded
            if not config.enabled or not config.dialer:
                # A disabled link idles until its SyncConfig changes; a listener's exchanges
                # arrive through ``listener``.
                await _wait(ws, stopped, since=since)
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
