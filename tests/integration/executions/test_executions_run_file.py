"""``workspace-link run FLOW.py``: the flow author's loop, on the same runner and core."""

import json
import shutil
from pathlib import Path

import pytest

from workspace_link.cli import run_file

FLOWS = Path(__file__).parent / "flows"


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "broken.py"
    flow.write_text("def handler(system, this):\n    this.log('ok')\n    return (\n")
    assert run_file.run_file(flow, {}) == 2
    err = capsys.readouterr().err
    assert f"{flow}:3: syntax error" in err


def test_a_flow_file_runs_with_its_siblings_as_local_flows(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for name in ("parent_child.py", "two_args.py"):
        shutil.copy(FLOWS / name, tmp_path / name)
    assert run_file.run_file(tmp_path / "parent_child.py", {}) == 0
    out = capfd.readouterr().out
    assert "phase: Succeeded (Completed)" in out
    outputs = json.loads(out.split("outputs: ", 1)[1].split("\nmessage:", 1)[0])
    assert outputs == {"child_result": 42, "child_status": "ENDED_SUCCESS"}


def test_a_failing_flow_file_returns_non_zero_with_the_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(FLOWS / "flow_error.py", tmp_path / "flow_error.py")
    assert run_file.run_file(tmp_path / "flow_error.py", {}) == 1
    out = capfd.readouterr().out
    assert "phase: Failed (FlowError)" in out
    assert "message: the input was rejected" in out
