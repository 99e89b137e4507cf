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


def _lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_the_demo_fans_out_engine_style_children_into_the_other_workspace_and_says_so() -> None:
    result = _run_demo()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    steps, summary = out.split("\nSummary\n", 1)

    # Every execution on both sides succeeded: the parent, its four children in A, and one
    # run in B for each of them, started for that child.
    assert "A parent  Execution fanout-demo: Succeeded (4 checks done)" in summary
    children = [line.split()[3].rstrip(":") for line in _lines(summary, "  A child ")]
    assert len(children) == 4 and all(name.startswith("fanout-demo-") for name in children), summary
    assert all(": Succeeded (check " in line for line in _lines(summary, "  A child "))
    remotes = _lines(summary, "  B remote")
    assert len(remotes) == 4 and all(": Succeeded (check " in line for line in remotes), summary
    origins = [
        line.split("/")[1].split()[0] for line in summary.splitlines() if "origin: workspace-a/" in line
    ]
    assert origins == children, summary

    # The script as B sees it is check's script, the same for all four.
    assert "The script as B sees it (spec.script of wl-" in summary
    assert "the same in all 4" in summary
    assert (
        '    |     this.save(output_value={"square": i * i, "workspace": system.get_env_name()})' in summary
    )
    # The outputs as A sees them: each child's, computed in B, and the parent's, gathered in A.
    outputs = summary.split("The outputs as A sees them:\n", 1)[1]
    for i, child in enumerate(children):
        assert f'{child}  {{"square": {i * i}, "workspace": "workspace-b"}}' in outputs, outputs
    assert '"squares": [0, 1, 4, 9]' in outputs
    assert "Flows in B: none." in summary

    # The steps were shown as they happened, in the order they happen on the wire: for each
    # child, A starts it, its start arrives in B, B runs it, its result comes back; the parent
    # ends last.
    assert steps.index("link up:") < steps.index("A: fanout-demo started child")
    for child in children:
        started = steps.index(f"A: fanout-demo started child {child}:")
        arrived_line = next(
            line for line in steps.splitlines() if f"A -> B: start of {child} arrived" in line
        )
        remote = arrived_line.split("B created Execution ")[1].split()[0]
        order = [
            started,
            steps.index(arrived_line),
            steps.index(f"B: {remote} Running"),
            steps.index(f"B: {remote} Succeeded"),
            steps.index(f"A: result back from B: {child} Succeeded"),
            steps.index("A: fanout-demo Succeeded: 4 checks done"),
        ]
        assert order == sorted(order), steps
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
