from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType
from typing import Any

import pytest
import wl_cli_helpers


def _crd_schema_helpers() -> ModuleType:
    # The helpers live with the CRD tests; tests here share them without a package.
    name = "wl_crd_schema"
    if name in sys.modules:
        return sys.modules[name]
    path = pathlib.Path(__file__).resolve().parents[1] / "crds" / "wl_crd_schema.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def crd_validator() -> Any:
    return _crd_schema_helpers().CrdValidator()


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> tuple[wl_cli_helpers.Run, pathlib.Path]:
    """`link --issue-ca` run once per module (key generation is the slow part)."""
    out_dir = tmp_path_factory.mktemp("link") / "out"
    run = wl_cli_helpers.run_cli(
        *wl_cli_helpers.LINK_ARGS, "--issue-ca", "--bits", "2048", "--out-dir", str(out_dir)
    )
    return run, out_dir
