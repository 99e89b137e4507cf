"""Capped exponential backoff with full jitter, for retrying a failed exchange.

After the n-th consecutive failure the link waits a uniformly random time in
``[0, min(maximum, initial * 2**(n-1))]`` ("full jitter"): peers that failed together (a
listener restart) do not come back in lockstep, and the cap keeps a long outage from growing
the wait beyond ``settings.backoff_max``. A success resets the count. The random source is
injected so tests can pin it. See ``settings.Settings`` for the defaults and why.

``Backoff`` serves a loop that runs until stopped (the link); ``retry_delays`` a bounded
number of retries (a Job's outcome report, an embedded reconcile).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field


def delay(failures: int, *, initial: float, maximum: float, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` consecutive failures (0 failures: no wait)."""
    if failures <= 0:
        return 0.0
    # The exponent is bounded so a very long outage cannot overflow the float.
    cap = min(maximum, initial * (2.0 ** min(failures - 1, 62)))
    return rng.uniform(0.0, cap)


@dataclass
class Backoff:
    """Counts consecutive failures and says how long to wait before the next attempt."""

    initial: float
    maximum: float
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def failed(self) -> float:
        """Record a failure; return the seconds to wait before retrying."""
        self.failures += 1
        return delay(self.failures, initial=self.initial, maximum=self.maximum, rng=self.rng)

    def succeeded(self) -> None:
        self.failures = 0


def retry_delays(
    attempts: int, *, initial: float, maximum: float, rng: random.Random | None = None
) -> Iterator[float]:
    """The seconds to wait before each of ``attempts`` retries: ``delay`` after 1, 2, ... failures."""
    waits = Backoff(initial, maximum, rng or random.Random())
    for _ in range(attempts):
        yield waits.failed()
