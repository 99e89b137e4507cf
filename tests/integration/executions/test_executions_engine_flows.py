"""Engine-style flows (examples/flows) run unchanged through ``workspace-link run FLOW.py``:
what the author reads is the phase, the outputs and the message it prints."""

import json
import shutil
from pathlib import Path

import pytest

from workspace_link.cli import run_file

EXAMPLES = Path(__file__).parents[3] / "examples" / "flows"


def run(tmp_path: Path, capfd: pytest.CaptureFixture[str], flow: str) -> tuple[int, str, dict, str]:
    for file in EXAMPLES.glob("*.py"):
        shutil.copy(file, tmp_path / file.name)
    code = run_file.run_file(tmp_path / f"{flow}.py", {})
    out = capfd.readouterr().out
    phase = out.split("phase: ", 1)[1].splitlines()[0]
    outputs = json.loads(out.split("outputs: ", 1)[1].split("\nmessage:", 1)[0])
    message = out.split("message: ", 1)[1].strip() if "\nmessage: " in out else ""
    return code, phase, outputs, message


def test_fan_out_with_run_false_run_async_and_wait_for(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, phase, outputs, message = run(tmp_path, capfd, "fanout")
    assert (code, phase, message) == (0, "Succeeded (Completed)", "4 checks done")
    assert outputs == {"squares": [0, 1, 4, 9], "statuses": ["ENDED_SUCCESS"] * 4}


def test_all_ended_does_not_raise_and_the_parent_ends_with_the_childs_status(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, phase, outputs, message = run(tmp_path, capfd, "probe")
    assert (code, phase, message) == (1, "Failed (FlowError)", "check 3 failed")
    # save(output_value=...) writes the outputs themselves, not an output named output_value.
    assert outputs == {
        "report": {"square": 25, "workspace": "local"},
        "probe": {"name": "probe-3", "status": "ENDED_ERROR"},
    }


def test_a_setting_as_a_lock_counts_every_child_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, phase, outputs, message = run(tmp_path, capfd, "tallies")
    assert (code, phase, message) == (0, "Succeeded (Completed)", "counted 4 in here")
    assert outputs == {"counts": [1, 2, 3, 4]}


def test_max_runtime_minutes_is_the_childs_deadline(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, phase, outputs, _ = run(tmp_path, capfd, "deadline")
    assert (code, phase) == (0, "Succeeded (Completed)")
    assert outputs["status"] == "ENDED_ERROR"
    assert "deadline of 2 s" in outputs["message"]
