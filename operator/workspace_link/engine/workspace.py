"""The wiring of one workspace: its store, its executor, its settings and its change signal.

The engine's functions (``executions``, ``dialer``, ``inbox``, ...) take a ``Workspace`` and never
know which mode they run in: the operator builds one around ``kubestore.KubeStore`` and
``job_executor.JobExecutor``; the embedded mode around ``memstore.MemStore`` and
``process_executor.ProcessExecutor``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from workspace_link.core import labels, protocol, resources, runner_credentials, settings
from workspace_link.engine import cache, executor
from workspace_link.engine import store as stores


class Changes:
    """A broadcast "something changed in the store" signal.

    Dialers wake on it to send at once (no polling tick), listeners end a held long-poll on
    it, and runner-API waits re-read on it. Every waiter wakes; a change that happens between
    two waits is not lost because waiters compare a counter.
    """

    def __init__(self) -> None:
        self._counter = 0
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def counter(self) -> int:
        return self._counter

    def notify(self) -> None:
        self._counter += 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def notify_first(self) -> None:
        """``notify``, then let the woken go first: a dialer signs and writes the start it
        was woken for before the caller's own work (a label PATCH, the runner API's answer).
        Two steps of the event loop: the dialer's hands the request to aiohttp, which writes
        its body from a task of its own (Python < 3.12 has no eager tasks); the second lets
        that task write."""
        self.notify()
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    async def wait(self, since: int, seconds: float) -> bool:
        """Wait until the counter moves past ``since``; False when ``seconds`` pass first."""
        if self._counter > since:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(max(seconds, 0)):
                await waiter
        except TimeoutError:
            return self._counter > since
        finally:
            self._waiters.discard(waiter)
        return True


class HeldAcks:
    """The peer's acks of live statuses (the controlled side's), by link and origin uid.

    Memory only (docs/protocol.md §4): an ack of a status whose execution has not ended saves
    nothing a restart could lose. The restarted side sends that status once more, the peer
    acks it as a duplicate (same version) and applies nothing. An ack of a final status is
    written to the execution (``origin.acknowledgedVersion``), so a restart never resends the
    statuses of every finished execution. One entry per live execution received over a link.
    """

    def __init__(self) -> None:
        self._acks: dict[str, dict[str, int]] = {}

    def of(self, link: str) -> Mapping[str, int]:
        return self._acks.get(link, {})

    def raise_to(self, link: str, uid: str, version: int) -> bool:
        """Hold ``version`` as acked; True when it is higher than what was held."""
        held = self._acks.setdefault(link, {})
        if held.get(uid, 0) >= version:
            return False
        held[uid] = version
        return True

    def forget(self, link: str, uid: str) -> None:
        held = self._acks.get(link)
        if held is not None:
            held.pop(uid, None)
            if not held:
                del self._acks[link]

    def __len__(self) -> int:
        return sum(len(held) for held in self._acks.values())


class Unlabelled:
    """Executions to send whose link label (``labels.REMOTE_LINK``) is not written yet, by name.

    The link finds what it sends by that label. An execution created without it (as
    ``kubectl`` creates one) is sent while its label is written, not after the write: the PATCH
    is off the dispatch path. Kept by ``Workspace.observe`` from the store's events, so the
    event that shows a new execution already puts it here, and a restart's listing again.
    """

    def __init__(self) -> None:
        self._links: dict[str, str] = {}

    def of(self, link: str) -> frozenset[str]:
        return frozenset(name for name, sent_over in self._links.items() if sent_over == link)

    def observe(self, type: str | None, body: resources.Body) -> None:
        name = resources.name(body)
        spec = resources.spec(body)
        link = spec.get("remoteWorkspace")
        if (
            type != "DELETED"
            and isinstance(link, str)
            and link
            and not spec.get("mirror")
            and resources.labels(body).get(labels.REMOTE_LINK) != labels.value(link)
        ):
            self._links[name] = link
        else:
            self._links.pop(name, None)


class LinkReporter(Protocol):
    """What the workspace keeps of a listener's status reporter (``link_status.Reporter``).

    A Protocol here, not the class, so this module needs no import of ``link_status`` (which
    imports this one).
    """

    #: The SyncConfig's generation the status is written for.
    generation: int | None
    #: When an exchange with the peer last succeeded (RFC 3339), not yet necessarily written.
    last_success: str | None

    def succeeded(self, *, peer: protocol.Sender, sent: int, received: int) -> None: ...

    def failed(self, error: Exception, *, peer: protocol.Sender | None = None) -> None: ...

    async def flush(self, *, force: bool = False) -> None: ...


@dataclass
class Workspace:
    namespace: str
    store: stores.Store
    executor: executor.Executor
    settings: settings.Settings = field(default_factory=settings.Settings)
    changes: Changes = field(default_factory=Changes)
    #: Moves with every SyncConfig or Secret event only: what a link's config is read from. The
    #: link loops wait on it, not on ``changes``, which every execution's event moves.
    config_changes: Changes = field(default_factory=Changes)
    #: Where key Secrets live when they sit in a separate keys namespace (None = ``store``).
    keys_store: stores.Store | None = None
    #: The listener side's status reporters by SyncConfig name (``link_status`` keeps them here so
    #: they live and die with this workspace; memory only, nothing to send is derived from them).
    listener_reporters: dict[str, LinkReporter] = field(default_factory=dict, repr=False)
    #: Held by the listener request applying messages or acks, by SyncConfig name
    #: (``exchange.handle``).
    applying: dict[str, asyncio.Lock] = field(default_factory=dict, repr=False)
    #: The peer's acks of live statuses, memory only (``HeldAcks``).
    held_acks: HeldAcks = field(default_factory=HeldAcks, repr=False)
    #: Executions sent while their link label is not written yet (``Unlabelled``).
    unlabelled: Unlabelled = field(default_factory=Unlabelled, repr=False)
    #: Digests of the runner tokens of live executions (``runner_credentials.Tokens``).
    runner_tokens: runner_credentials.Tokens = field(default_factory=runner_credentials.Tokens, repr=False)

    @property
    def secrets(self) -> stores.Store:
        return self.keys_store or self.store

    def observe(self, type: str | None, kind: str, body: resources.Body) -> None:
        """A watch event about ``body``: the store's cache (``cache.CachedStore``) takes it.

        Call it before ``changes.notify()``, so whoever wakes reads what the event said.
        """
        if isinstance(self.store, cache.CachedStore):
            self.store.observe(type, kind, body)
        if kind == resources.SYNC_CONFIG or (kind == resources.SECRET and _cacheable(kind, body)):
            # A runner Secret (one per execution) is no link's config: the operator's watch
            # leaves them out, the embedded pump delivers them.
            self.config_changes.notify()
        if kind == resources.EXECUTION:
            self.unlabelled.observe(type, body)
        if kind == resources.EXECUTION and (type == "DELETED" or resources.is_terminal(body)):
            # Its token is refused from now on (runner_api): nothing left to check it against.
            self.runner_tokens.forget(resources.name(body))
        if kind == resources.EXECUTION and type == "DELETED":
            origin = resources.origin(body)
            if origin.get("link") and origin.get("uid"):
                self.held_acks.forget(str(origin["link"]), str(origin["uid"]))

    async def view(
        self, kind: str, *, labels: Mapping[str, str] | None = None, where: cache.Where | None = None
    ) -> list[resources.Body]:
        """``store.list`` for a reader that neither changes nor keeps what it reads: no copies,
        and ``where`` kept as an index, when the store is the engine's cache
        (``cache.CachedStore.view``)."""
        if isinstance(self.store, cache.CachedStore):
            return await self.store.view(kind, labels=labels, where=where)
        found = await self.store.list(kind, labels=labels)
        return found if where is None else [body for body in found if where[1](body)]

    def caches(self, kind: str, name: str) -> bool:
        """Whether the store's cache holds (or is reading) this object: its events must come."""
        return isinstance(self.store, cache.CachedStore) and self.store.caches(kind, name)


def cached(backing: stores.Store) -> cache.CachedStore:
    """The engine's cache over ``backing``, the same in both modes: Executions, SyncConfigs and
    Flows (every one of them watched: lists too), and the Secrets the links read (the runner
    Secrets apart: the operator's Secret watch leaves them out)."""
    return cache.CachedStore(
        backing,
        kinds=frozenset({resources.EXECUTION, resources.SYNC_CONFIG, resources.FLOW, resources.SECRET}),
        listable=frozenset({resources.EXECUTION, resources.SYNC_CONFIG, resources.FLOW}),
        keep=_cacheable,
    )


def _cacheable(kind: str, body: resources.Body) -> bool:
    if kind != resources.SECRET:
        return True
    return resources.labels(body).get(labels.COMPONENT) != labels.RUNNER_TOKEN_COMPONENT
