"""Helpers for the CLI tests: run the command in-process and read what it wrote."""

from __future__ import annotations

import base64
import dataclasses
import io
import pathlib
from typing import Any

import yaml

from workspace_link.cli import commands


@dataclasses.dataclass
class Run:
    """One in-process run of the CLI: its exit code and what it printed."""

    code: int
    out: str
    err: str


def run_cli(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = commands.main(list(argv), out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue())


def load_yaml(path: pathlib.Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def secret_entry(body: dict[str, Any], entry: str) -> bytes:
    return base64.b64decode(body["data"][entry])


def by_kind_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def mode(path: pathlib.Path) -> int:
    return path.stat().st_mode & 0o777


def files_under(path: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


LINK_ARGS = (
    "link",
    "--a-namespace", "workspace-a",
    "--b-namespace", "workspace-b",
    "--b-url", "https://workspace-link-sync.workspace-b.svc:8443",
)  # fmt: skip
