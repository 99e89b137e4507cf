"""Conditions keep their transition time unless the status flips; backoff is capped with jitter."""

from __future__ import annotations

import random

from workspace_link.core import backoff, conditions


def test_transition_time_moves_only_when_status_flips() -> None:
    first = conditions.set_condition(
        None, type_="Ready", status=True, reason="Ready", message="ok", generation=1, now="T1"
    )
    again = conditions.set_condition(
        first, type_="Ready", status=True, reason="Ready", message="still ok", generation=2, now="T2"
    )
    assert again[0]["lastTransitionTime"] == "T1" and again[0]["observedGeneration"] == 2
    flipped = conditions.set_condition(
        again, type_="Ready", status=False, reason="KeysMissing", message="no", generation=2, now="T3"
    )
    assert flipped[0]["lastTransitionTime"] == "T3" and flipped[0]["status"] == "False"
    both = conditions.set_condition(
        flipped, type_="Connected", status="Unknown", reason="Idle", message="", generation=2, now="T4"
    )
    assert [c["type"] for c in both] == ["Ready", "Connected"]
    assert not conditions.is_true(both, "Ready") and conditions.find(both, "Connected") is not None


def test_backoff_is_capped_full_jitter_and_resets() -> None:
    rng = random.Random(7)
    waits = backoff.Backoff(initial=1.0, maximum=8.0, rng=rng)
    delays = [waits.failed() for _ in range(20)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert max(delays[5:]) > 4.0  # the cap is reached, not just the first steps
    assert delays[0] <= 1.0
    waits.succeeded()
    assert waits.failures == 0 and waits.failed() <= 1.0
    assert backoff.delay(0, initial=1, maximum=8, rng=rng) == 0.0
    assert backoff.delay(10_000, initial=1, maximum=8, rng=rng) <= 8.0
