"""The command as a user runs it: help, version, the subcommands other modules provide, and a
real process (the console script's code path, not just `main()`)."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import subprocess
import sys
import types
from typing import Any

import pytest
import wl_cli_helpers as h

import workspace_link
from workspace_link.core import keys


def test_help_lists_every_subcommand() -> None:
    run = h.run_cli("--help")
    assert run.code == 0
    for command in ("keygen", "link", "demo", "run", "operator", "version"):
        assert command in run.out


def test_version() -> None:
    run = h.run_cli("version")
    assert (run.code, run.out) == (0, f"workspace-link {workspace_link.__version__}\n")


def test_version_option_prints_the_installed_distributions_version() -> None:
    run = h.run_cli("--version")
    assert (run.code, run.out, run.err) == (
        0,
        f"workspace-link {importlib.metadata.version('workspace-link')}\n",
        "",
    )


def test_version_option_without_an_installed_distribution_is_the_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    monkeypatch.setattr(workspace_link, "__version__", "9.9.9+source")
    assert h.run_cli("--version").out == "workspace-link 9.9.9+source\n"
    assert h.run_cli("version").out == "workspace-link 9.9.9+source\n"


def test_version_option_as_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workspace_link.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"workspace-link {importlib.metadata.version('workspace-link')}\n",
        "",
    )


def test_no_subcommand_is_a_usage_error() -> None:
    run = h.run_cli()
    assert run.code == 2
    assert "required: COMMAND" in run.err


def _fake(monkeypatch: pytest.MonkeyPatch, name: str, **functions: Any) -> None:
    module = types.ModuleType(f"workspace_link.{name}")
    for attr, function in functions.items():
        setattr(module, attr, function)
    monkeypatch.setitem(sys.modules, f"workspace_link.{name}", module)


def test_demo_is_handed_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    _fake(monkeypatch, "cli.demo", main=lambda args: seen.append(args) or 0)
    assert h.run_cli("demo", "--keep-running", "--verbose").code == 0
    assert (seen[0].keep_running, seen[0].verbose) == (True, True)


def test_run_hands_the_file_and_parsed_inputs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text("def handler(system, this):\n    return this.success('ok')\n")
    seen: list[Any] = []
    _fake(monkeypatch, "cli.run_file", run_file=lambda path, inputs: seen.append((path, inputs)) or 3)
    assert h.run_cli("run", str(flow), "--inputs", '{"name": "x"}').code == 3
    assert seen == [(flow, {"name": "x"})]


def test_operator_starts_the_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[bool] = []
    _fake(monkeypatch, "adapters.kube.handlers", run_operator=lambda: started.append(True))
    assert h.run_cli("operator").code == 0
    assert started == [True]


def test_a_missing_module_fails_only_its_subcommand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "workspace_link.cli.demo", None)  # import fails with ModuleNotFoundError
    run = h.run_cli("demo")
    assert run.code == 1
    assert "demo: not available in this installation" in run.err
    assert h.run_cli("version").code == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no-such-flow.py"], "FLOW.py: no-such-flow.py is not a file"),
        (["run", "{flow}", "--inputs", "{bad"], "--inputs: not valid JSON"),
        (["run", "{flow}", "--inputs", "[1, 2]"], "--inputs: must be a JSON object"),
    ],
)
def test_run_refuses_bad_input_before_running(
    tmp_path: pathlib.Path, argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text("def handler(system, this):\n    pass\n")
    ran: list[Any] = []
    _fake(monkeypatch, "cli.run_file", run_file=lambda *a: ran.append(a))
    monkeypatch.chdir(tmp_path.parent)
    run = h.run_cli(*[str(flow) if a == "{flow}" else a for a in argv])
    assert run.code == 2
    assert message in run.err
    assert ran == []


def test_link_as_a_real_process(tmp_path: pathlib.Path, crd_validator: Any) -> None:
    out_dir = tmp_path / "out"
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-m", "workspace_link.cli", *h.LINK_ARGS, "--issue-ca", "--out-dir", str(out_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "generating 3072-bit key for workspace-a ... done" in done.stderr
    assert "next:" in done.stdout
    assert "BEGIN" not in done.stdout + done.stderr
    for name in ("workspace-a.yaml", "workspace-b.yaml"):
        assert h.mode(out_dir / name) == 0o600
        for body in h.load_yaml(out_dir / name):
            if body["kind"] == "SyncConfig":
                crd_validator.validate(body)
            elif "private.pem" in body["data"]:
                key = keys.load_private_key(h.secret_entry(body, "private.pem"), source=name)
                assert key.key_size == keys.DEFAULT_BITS
                assert body["data"]["private.pem"][20:80] not in done.stdout + done.stderr


def test_bad_url_as_a_real_process(tmp_path: pathlib.Path) -> None:
    script = pathlib.Path(sys.executable).parent / "workspace-link"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "workspace_link.cli"]
    done = subprocess.run(
        [
            *argv,
            "link",
            "--a-namespace",
            "a",
            "--b-namespace",
            "b",
            "--b-url",
            "http://b",
            "--out-dir",
            "out",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "workspace-link link: error: --b-url: must start with https://\n"
    assert list(tmp_path.iterdir()) == []
