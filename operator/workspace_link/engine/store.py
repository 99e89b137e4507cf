"""The store the core is driven by: what it reads and writes, and how writes can fail.

Two implementations keep the same semantics: ``kubestore.KubeStore`` (the API server) and
``memstore.MemStore`` (the embedded mode). The core relies on exactly these promises:

- ``create`` fills ``uid``, ``resourceVersion``, ``creationTimestamp`` and ``generation`` and
  raises ``errors.AlreadyExists`` when the name is taken.
- ``replace_status`` writes the whole ``status`` and is conditional on
  ``metadata.resourceVersion`` of the body passed in: a stale body raises ``errors.Conflict``.
  This is how every racing status write is made safe (``updates``).
- ``patch`` is a JSON merge patch (RFC 7386) of metadata and spec; with ``resource_version``
  it is conditional too. A spec change bumps ``generation``.
- ``list`` filters by label equality, as a label selector would on the API server.
- a failure is an ``errors.StoreError``: ``StoreUnavailable`` is transient (retry with
  backoff), ``StoreRefused`` lasts until an admin acts (RBAC, a missing CRD, quota,
  credentials). Loops that retry both log them through a ``FailureLog``.
- ``delete`` removes the object; dependents named by ``ownerReferences`` are garbage-collected
  by the store, as the API server's GC would (eventually).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from workspace_link.core import errors, resources

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    kind: str
    body: resources.Body


class Store(Protocol):
    """One workspace's objects (one namespace)."""

    namespace: str

    async def get(self, kind: str, name: str) -> resources.Body:
        """Raises ``errors.NotFound``."""
        ...

    async def list(self, kind: str, *, labels: Mapping[str, str] | None = None) -> list[resources.Body]: ...

    async def create(self, kind: str, body: resources.Body) -> resources.Body:
        """Raises ``errors.AlreadyExists``."""
        ...

    async def patch(
        self, kind: str, name: str, patch: resources.Body, *, resource_version: str | None = None
    ) -> resources.Body:
        """Merge-patch metadata/spec. Raises ``errors.NotFound``, ``errors.Conflict``."""
        ...

    async def replace_status(self, kind: str, body: resources.Body) -> resources.Body:
        """Write ``body['status']`` conditionally on ``body.metadata.resourceVersion``."""
        ...

    async def delete(self, kind: str, name: str) -> None:
        """Raises ``errors.NotFound``."""
        ...

    async def record_event(
        self, body: resources.Body, *, type: Literal["Normal", "Warning"], reason: str, message: str
    ) -> None:
        """Post an Event about ``body``. Never raises: events are best effort."""
        ...


class WatchableStore(Store, Protocol):
    """A store that can also stream changes (the embedded mode; kopf does this for the API server)."""

    def watch(self, kinds: frozenset[str] | None = None) -> AsyncIterator[WatchEvent]:
        """Yield every change from now on (after an initial ``ADDED`` for each existing object)."""
        ...


class FailureLog:
    """How a loop that retries store operations logs their failures.

    A transient failure (``errors.StoreUnavailable``, a conflict, ...) is a warning each time:
    it fixes itself. A ``errors.StoreRefused`` (RBAC, a missing CRD or namespace, quota,
    credentials) does not: it is logged as an error telling that an admin must act, once per
    distinct message rather than at every retry.
    """

    #: Distinct refusals remembered; beyond this the memory starts afresh.
    REMEMBERED: Final = 128

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._refused: set[str] = set()

    def failed(self, what: str, error: errors.StoreError) -> None:
        """Log that ``what`` (e.g. "SyncConfig a: could not read it") failed with ``error``."""
        if not isinstance(error, errors.StoreRefused):
            self._logger.warning("%s (will retry): %s", what, error)
            return
        text = f"{type(error).__name__}: {error}"
        if text in self._refused:
            return
        if len(self._refused) >= self.REMEMBERED:
            self._refused.clear()
        self._refused.add(text)
        self._logger.error(
            "%s: the store refused it; an admin must act (RBAC, the CRDs, quota, credentials). "
            "Retrying meanwhile: %s",
            what,
            error,
        )
