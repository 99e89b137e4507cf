"""Replay protection: the nonces of accepted signatures, remembered while they could be reused.

RFC 9421 leaves replay detection to the application. A signed request stays acceptable until
it is older than the maximum age (plus clock skew); during that window a copy of it must be
refused, so every accepted nonce is remembered exactly that long and then forgotten — after
that the signature is refused as expired anyway.

Memory is bounded (``max_entries``): only signatures that already verified are remembered, so
only a peer holding an accepted private key can fill the cache. When it is full the entry that
would expire first is dropped and counted in ``evicted``; size the cache for the peak exchange
rate times the maximum age (the default allows ~330 exchanges per second at 300 s).

A restart empties the cache, so the cache also keeps a **watermark** (``since``): the time it
was created. A verifier refuses a request whose signature was ``created`` before it
(``signed-before-start``): whatever was accepted before the cache existed is older than the
watermark. An eviction raises the watermark past the evicted signature's ``created``, so a
full cache refuses (and the dialer re-signs) rather than forgetting. Together: a signature is
accepted at most once by the process holding the cache, across restarts, with no write
anywhere. Several processes serving one listener would each accept it once: the chart runs
exactly one replica (docs/protocol.md §6.1).

Pure and in-process: time is injected (``clock``, wall-clock seconds like ``time.time``).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

DEFAULT_MAX_ENTRIES = 100_000


class ReplayCache:
    """Nonces seen, each remembered until a given time. Thread-safe."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
        since: float | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        self._until: dict[str, float] = {}
        self._created: dict[str, float] = {}
        #: Signatures created before this time may have been accepted by a process (or cache)
        #: that came before: refuse them. ``since`` given: a caller that knows better (a test).
        self.since = clock() if since is None else since
        self._expiry: list[tuple[float, str]] = []  # heap of (until, nonce), stale items skipped
        self._lock = threading.Lock()
        #: How many nonces were forgotten early because the cache was full.
        self.evicted = 0

    def __len__(self) -> int:
        with self._lock:
            self._forget_expired(self._clock())
            return len(self._until)

    def check_and_remember(self, nonce: str, *, until: float, created: float | None = None) -> bool:
        """True the first time ``nonce`` is seen (it is then remembered until ``until``);
        False if it was seen before and not yet forgotten: a replay. ``created`` (the
        signature's) raises the watermark should this entry ever be evicted."""
        with self._lock:
            now = self._clock()
            self._forget_expired(now)
            if nonce in self._until:
                return False
            if until <= now:
                return True  # already past its window: the signature check refuses it anyway
            while len(self._until) >= self._max_entries:
                dropped = self._drop_first()
                if dropped is not None:
                    # Forgotten early: no signature as old as it may be accepted from now on.
                    self.since = max(self.since, dropped + 1)
                self.evicted += 1
            self._until[nonce] = until
            self._created[nonce] = self.since if created is None else created
            heapq.heappush(self._expiry, (until, nonce))
            return True

    def _forget_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            self._drop_first()

    def _drop_first(self) -> float | None:
        """Forget the entry that expires first; return its ``created`` (None if stale)."""
        until, nonce = heapq.heappop(self._expiry)
        if self._until.get(nonce) == until:
            del self._until[nonce]
            return self._created.pop(nonce, None)
        return None
