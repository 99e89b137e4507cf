"""What a SyncConfig's status says about its link: the checks of ``reconcile_config`` and the
contact records of the ``Reporter``.

``reconcile_config`` (kopf's create/update/resume handler, or the embedded supervisor) checks
the spec and the keys and writes the conditions an admin reads first (``KeysLoaded``,
``Ready``) plus the path the peer must use.

A ``Reporter`` keeps what the status should say about the exchanges (``Connected``, the last
error, the peer, counters and times) for the dialer loops (``dialer``) and, through
``record_listener_exchange``/``record_listener_failure``, for the listener. Status is written
sparingly: at once when something an admin would see changes (connected or not, the error,
the peer), otherwise at most every ``STATUS_EVERY`` seconds for counters and times — never once
per exchange.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Final

from workspace_link.core import conditions, errors, link_config, protocol, resources
from workspace_link.engine import link_keys, store, updates, workspace

logger = logging.getLogger(__name__)

#: Seconds between status writes that would only move counters and times.
STATUS_EVERY: Final = 5.0


async def _update_status(ws: workspace.Workspace, name: str, change: updates.Change) -> resources.Body | None:
    """Change the SyncConfig's status (see ``updates.update_status``); None when it is gone.

    Nothing waits on a SyncConfig's status, so ``ws.changes`` is not notified.
    """
    try:
        return await updates.update_status(ws, resources.SYNC_CONFIG, name, change, notify=False)
    except errors.NotFound:
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
class Reporter:
    """Keeps what the status should say, and writes it when it matters (see the module doc).

    Satisfies ``workspace.LinkReporter``, the part of it the workspace keeps and others read.
    """

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
    _store_failures: store.FailureLog = dataclasses.field(
        default_factory=lambda: store.FailureLog(logger), repr=False
    )

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
            # Keep the counts and write them next time.
            self._store_failures.failed(f"SyncConfig {self.name}: could not write its status", exc)
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


def _listener_reporter(ws: workspace.Workspace, name: str) -> workspace.LinkReporter:
    """The listener has no loop of its own: its reporter lives on the workspace."""
    reporter = ws.listener_reporters.get(name)
    if reporter is None:
        reporter = ws.listener_reporters[name] = Reporter(ws, name)
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
