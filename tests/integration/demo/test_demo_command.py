"""``workspace-link demo`` as a newcomer runs it: a real process, two linked workspaces, exit 0."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workspace_link.cli import demo

REPO = Path(__file__).parents[3]
EXAMPLE_FLOWS = REPO / "examples" / "flows"


def _run_demo(*extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "workspace_link.cli", "demo", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )


def test_the_demo_runs_the_example_child_in_the_other_workspace_and_says_so() -> None:
    result = _run_demo()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    summary = out.split("\nSummary\n", 1)[1]

    # Both executions (and A's record of the child) succeeded.
    assert "A parent  Execution main-demo: Succeeded (all done)" in summary
    assert "A child   Execution main-demo-" in summary
    b_line = next(line for line in summary.splitlines() if line.startswith("  B remote"))
    assert ": Succeeded" in b_line
    # The script as B sees it is hello's script, shown line by line.
    assert "The script as B sees it" in summary
    assert '    |     this.save(output_value={"greeting": greeting})' in summary
    assert 'The child\'s outputs as A sees them: {"greeting": "hello, x"}' in summary
    assert "Flows in B: none." in summary

    # The steps were shown as they happened, in the order they happen on the wire.
    steps = [
        "link up:",
        "A -> B: start of main-demo-",
        "B: Execution wl-",
        "A: result back from B: main-demo-",
        "A: main-demo Succeeded: all done",
    ]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions), out
    assert "Traceback" not in result.stderr


def test_the_demo_s_built_in_flows_are_the_examples() -> None:
    # An install without examples/ runs the built-in copy: it must be the very same flows.
    for flow in demo.BUILTIN_FLOWS:
        assert flow.script == (EXAMPLE_FLOWS / f"{flow.name}.py").read_text(), flow.name
    flows, source = demo.example_flows(REPO / "no-such-folder")
    assert flows == demo.BUILTIN_FLOWS and "built into" in source


def test_a_demo_that_runs_out_of_time_exits_non_zero_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = demo.main(argparse.Namespace(keep_running=False, verbose=False, timeout=0.001))
    captured = capsys.readouterr()
    assert code == 1
    assert "FAILED: timed out after" in captured.err
    assert "Traceback" not in captured.err
