"""A bad network between A and B: drops, delays, cuts mid-request and mid-response, duplicates.
Whatever the wire does, no execution is lost, none is created twice, no script runs twice,
and the listener answers no 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_proxy import FAULTS
from fault_scenarios import run_through_proxy
from link_harness import Linked

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_faulty_network_loses_and_repeats_nothing(linked: Linked, tmp_path: Path, fault: str) -> None:
    figures = await run_through_proxy(linked, fault, executions=8, tally=tmp_path / "tally")
    assert figures.connections.get(fault, 0) > 0, f"the proxy never injected {fault}: {figures}"
    assert (figures.lost, figures.duplicated, figures.run_twice, figures.server_errors) == (0, 0, 0, 0), (
        figures
    )
