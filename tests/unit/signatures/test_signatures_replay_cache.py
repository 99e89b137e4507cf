"""The replay cache remembers a nonce exactly while its signature could be accepted, in bounded memory."""

from __future__ import annotations

from workspace_link.core import replay


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_nonce_is_refused_while_remembered_and_accepted_after() -> None:
    clock = FakeClock()
    cache = replay.ReplayCache(clock=clock)
    assert cache.check_and_remember("n1", until=1100.0)
    assert not cache.check_and_remember("n1", until=1100.0)
    clock.now = 1100.0
    assert cache.check_and_remember("n1", until=1200.0)


def test_expired_nonces_are_forgotten() -> None:
    clock = FakeClock()
    cache = replay.ReplayCache(clock=clock)
    for i in range(50):
        cache.check_and_remember(f"n{i}", until=1000.0 + 1 + i)
    assert len(cache) == 50
    clock.now = 1025.5
    assert len(cache) == 25


def test_a_full_cache_drops_the_nonce_expiring_first_and_counts_it() -> None:
    clock = FakeClock()
    cache = replay.ReplayCache(max_entries=2, clock=clock)
    cache.check_and_remember("late", until=1300.0)
    cache.check_and_remember("early", until=1100.0)
    cache.check_and_remember("new", until=1200.0)
    assert len(cache) == 2
    assert cache.evicted == 1
    assert not cache.check_and_remember("late", until=1300.0)
    assert cache.check_and_remember("early", until=1100.0)  # forgotten early: the price of the bound


def test_a_nonce_already_past_its_window_is_not_stored() -> None:
    clock = FakeClock()
    cache = replay.ReplayCache(clock=clock)
    assert cache.check_and_remember("old", until=999.0)
    assert len(cache) == 0


def test_the_watermark_is_the_creation_time_and_an_eviction_raises_it() -> None:
    now = [1000.0]
    cache = replay.ReplayCache(max_entries=2, clock=lambda: now[0])
    assert cache.since == 1000.0
    assert cache.check_and_remember("a", until=1300, created=1001)
    assert cache.check_and_remember("b", until=1400, created=1002)
    assert cache.check_and_remember("c", until=1500, created=1003)  # evicts "a"
    # "a" is forgotten: nothing created as early as it may be accepted any more.
    assert cache.since == 1002
