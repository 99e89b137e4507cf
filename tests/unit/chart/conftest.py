"""Render the Helm chart with the real `helm` binary and hand the tests plain objects.

helm comes from `.ci/tools.sh` (unpacked from a PyPI package into .tools/bin) or from PATH;
without it these tests skip with that reason. Renders are cached: the same values give the
same manifests, and helm takes a noticeable fraction of a second per call.
"""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "workspace-link"
ALL_ON = pathlib.Path(__file__).with_name("values-all-on.yaml")
NAMESPACE = "workspace-a"
RELEASE = "workspace-link"

Obj = dict[str, Any]


def _find_helm() -> str | None:
    local = REPO / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("helm")


HELM = _find_helm()


class RenderError(Exception):
    """helm refused to render (a `fail` in the chart, or the values schema)."""


@functools.lru_cache(maxsize=64)
def _render(
    release: str, namespace: str, values_files: tuple[str, ...], set_values: tuple[str, ...]
) -> tuple[Obj, ...]:
    assert HELM is not None
    cmd = [HELM, "template", release, str(CHART), "--namespace", namespace, "--include-crds"]
    for f in values_files:
        cmd += ["--values", f]
    for s in set_values:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


class Rendered(list[Obj]):
    """The rendered objects, with lookups by kind and name."""

    def find(self, kind: str, name: str | None = None) -> list[Obj]:
        return [o for o in self if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]

    def one(self, kind: str, name: str | None = None) -> Obj:
        found = self.find(kind, name)
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]


def render(
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    values_files: Iterable[pathlib.Path | str] = (),
    set_values: Iterable[str] = (),
    crds: bool = False,
) -> Rendered:
    """The chart's objects for these values; CRDs only when asked (tests look at the rest)."""
    objs = _render(release, namespace, tuple(str(f) for f in values_files), tuple(set_values))
    return Rendered(o for o in objs if crds or o["kind"] != "CustomResourceDefinition")


@pytest.fixture(scope="session")
def helm() -> str:
    if HELM is None:
        pytest.skip("helm not found in .tools/bin or PATH: run .ci/tools.sh (CI always does)")
    return HELM


@pytest.fixture
def chart(helm: str) -> Callable[..., Rendered]:
    """`chart(values_files=..., set_values=...)` renders; raises RenderError when helm refuses."""
    return render


@pytest.fixture
def default_objects(helm: str) -> Rendered:
    return render()


@pytest.fixture
def all_on_objects(helm: str) -> Rendered:
    return render(values_files=[ALL_ON])


@pytest.fixture(params=["defaults", "all-on"])
def any_objects(request: pytest.FixtureRequest, helm: str) -> Rendered:
    """Each test using this runs once with default values and once with every option on."""
    return render(values_files=[ALL_ON] if request.param == "all-on" else [])


@pytest.fixture
def refusal(helm: str) -> Callable[..., str]:
    """`refusal(set_values=[...])` renders expecting helm to refuse; returns helm's message."""

    def refuse(**kwargs: Any) -> str:
        try:
            render(**kwargs)
        except RenderError as e:
            return str(e)
        raise AssertionError(f"helm rendered values it should refuse: {kwargs}")

    return refuse
