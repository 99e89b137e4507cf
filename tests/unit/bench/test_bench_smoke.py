"""The benchmarks still run: ``bench/run.py --smoke`` (tiny sizes) prints every row of its table.

Figures are never asserted (machines are noisy): only that each benchmark ran and reported, the
embedded ones and the operator path (`bench_operator`, both operators on the emulator).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).parents[3] / "bench" / "run.py"


def test_every_benchmark_runs_and_prints_its_row_beside_the_floor() -> None:
    result = subprocess.run(
        [sys.executable, str(RUN), "--smoke"], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "floor = one signed HTTPS round trip + one MemStore.create" in out
    embedded, _, operator = out.partition("## operator path")
    rows = [line for line in embedded.splitlines() if line.startswith("| ") and "---" not in line]
    measures = [row.split("|")[1].strip() for row in rows[1:]]
    assert measures == [
        "dispatch latency",
        "status round trip",
        "dispatch latency after 20 ended executions",
        "executions per second, one link",
        "mirror 20 past executions",
        "memory, 3 idle links",
    ]
    operator_rows = [line for line in operator.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split("|")[1].strip() for row in operator_rows[1:]] == [
        "dispatch latency, created by kubectl",
        "dispatch latency, a flow's child",
        "status round trip",
        "burst of 4, 8 creators",
        "dispatch floor: what no operator can beat here",
        "burst ceiling on these CPUs",
        "operator CPU per execution in the burst",
        "API requests per remote execution",
        "operator RSS after the burst",
        "operator RSS, 2 idle links",
    ]
    assert "ws-b POST executions" in operator  # the breakdown by verb and resource
    for row in rows[1:] + operator_rows[1:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert all(cells), row  # figure, floor and ratio are all filled in


def test_the_kill_benchmark_counts_nothing_lost_when_an_operator_is_killed_mid_burst() -> None:
    result = subprocess.run(
        [sys.executable, str(RUN.with_name("bench_kill9.py")), "--executions", "6"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Exit 0: lost, duplicated, run twice and 5xx were 0 in both rows.
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| kill -9")]
    assert [row.split("|")[1].strip() for row in rows] == ["kill -9 A mid-burst", "kill -9 B mid-burst"]
    for row in rows:
        assert row.split("|")[2:4] == [" 6 ", " 6 "], row  # sent, completed
