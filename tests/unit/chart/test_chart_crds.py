"""The chart ships exactly the CRDs in the top-level crds/ (the one source of truth).

`make crds` copies them; this fails when someone edits one copy and not the other.
"""

from __future__ import annotations

import pathlib

import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
TOP = REPO / "crds"
CHART_CRDS = REPO / "charts" / "workspace-link" / "crds"
EXPECTED = {"syncconfigs.yaml", "flows.yaml", "executions.yaml", "settings.yaml"}


def test_the_chart_ships_the_top_level_crds_unchanged() -> None:
    top = {p.name: p.read_bytes() for p in TOP.glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in CHART_CRDS.glob("*.yaml")}
    assert top.keys() >= EXPECTED, f"crds/ lacks {sorted(EXPECTED - top.keys())}"
    assert shipped.keys() == top.keys(), "chart crds/ and crds/ hold different files: run `make crds`"
    differ = sorted(n for n in top if top[n] != shipped[n])
    assert not differ, f"chart copies differ from crds/: {differ}; run `make crds`"


def test_the_crds_are_the_kinds_of_workspacelink_io() -> None:
    kinds = set()
    for path in CHART_CRDS.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert doc["kind"] == "CustomResourceDefinition"
                assert doc["spec"]["group"] == "workspacelink.io"
                assert doc["spec"]["scope"] == "Namespaced"
                kinds.add(doc["spec"]["names"]["kind"])
    assert kinds == {"SyncConfig", "Flow", "Execution", "Setting"}


def test_helm_installs_the_crds_with_the_chart(chart: object, helm: str) -> None:
    from typing import Any, cast

    objs = cast(Any, chart)(crds=True)
    names = {o["metadata"]["name"] for o in objs.find("CustomResourceDefinition")}
    assert names == {
        "syncconfigs.workspacelink.io",
        "flows.workspacelink.io",
        "executions.workspacelink.io",
        "settings.workspacelink.io",
    }
