"""Every example a newcomer applies works on the cluster (kopf's tests/e2e/test_examples.py,
done for manifests instead of operator scripts).

Each folder of examples/ holding manifests is one test: the API server accepts every object
(a server-side dry run, so the CRDs' validation and Pod Security admission both judge them),
the objects are applied in dependency order, and every Execution among them ends Succeeded.
Folders without manifests (examples/flows holds the scripts the manifests embed) are covered
by the manifests that carry them.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.kind

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
#: Apply order: what others refer to goes first; Executions last, as they start work.
ORDER = {
    "Namespace": 0,
    "Secret": 1,
    "ConfigMap": 1,
    "SyncConfig": 2,
    "Flow": 3,
    "Setting": 3,
    "Execution": 4,
}


def example_dirs() -> list[pathlib.Path]:
    return sorted(d for d in EXAMPLES.iterdir() if d.is_dir() and any(d.glob("*.yaml")))


def manifests(exampledir: pathlib.Path) -> list[dict[str, Any]]:
    docs = [d for f in sorted(exampledir.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    return sorted(docs, key=lambda d: ORDER.get(d["kind"], 2))


@pytest.fixture(params=example_dirs(), ids=lambda d: d.name)
def exampledir(request: pytest.FixtureRequest) -> pathlib.Path:
    path: pathlib.Path = request.param
    return path


def test_all_examples_apply_and_their_executions_succeed(cluster: Any, exampledir: pathlib.Path) -> None:
    docs = manifests(exampledir)
    assert docs, f"{exampledir} has no manifests"
    stream = yaml.safe_dump_all(docs)
    # Namespaces must exist before a dry run of the namespaced objects can be judged.
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    if namespaces:
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(namespaces))
    cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=stream)
    cluster.kubectl("apply", "-f", "-", input=stream)

    for execution in (d for d in docs if d["kind"] == "Execution"):
        name = execution["metadata"]["name"]
        namespace = execution["metadata"].get("namespace", cluster.ns_a)

        def phase(name: str = name, namespace: str = namespace) -> str | None:
            out = cluster.kubectl(
                "get", "execution", name, "-n", namespace, "-o", "jsonpath={.status.phase}", check=False
            ).stdout
            return out if out in {"Succeeded", "Failed", "Cancelled"} else None

        ended = cluster.wait_until(f"{exampledir.name}: execution {namespace}/{name} to end", phase)
        assert ended == "Succeeded", cluster.get("execution", name, "-n", namespace).get("status")
