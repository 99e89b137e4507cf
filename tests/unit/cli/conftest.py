from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType
from typing import Any

import pytest


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
