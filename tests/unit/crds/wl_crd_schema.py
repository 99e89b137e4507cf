"""Helpers shared by the CRD and CLI tests: our CRDs as JSON Schemas, and object validation.

Kubernetes validates a custom resource against its CRD's OpenAPI v3 schema; jsonschema can do
the same once the Kubernetes-only parts are translated:

- ``x-kubernetes-*`` keys are dropped (list-map semantics, preserve-unknown markers);
- ``nullable: true`` becomes a ``null`` alternative; a ``null`` elsewhere is pruned before
  validation, as the API server does;
- an object with ``properties`` and no ``additionalProperties`` refuses unknown fields, as
  ``kubectl apply`` does with its default strict field validation (the API server would
  otherwise prune them silently, which hides typos just the same).
"""

from __future__ import annotations

import pathlib
from typing import Any

import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "crds"
EXAMPLES_DIR = ROOT / "examples"
GROUP = "workspacelink.io"
VERSION = "v1alpha1"
OUR_API_VERSION = f"{GROUP}/{VERSION}"


def load_crds() -> dict[str, dict[str, Any]]:
    """kind -> CRD body, from crds/*.yaml."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                found[doc["spec"]["names"]["kind"]] = doc
    return found


def served_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
    return version["schema"]["openAPIV3Schema"]


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = to_json_schema(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [to_json_schema(branch) for branch in value]
        else:
            out[key] = value
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        node.get("type") == "object"
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


class CrdValidator:
    """Validates bodies of our kinds against the CRDs in crds/."""

    def __init__(self) -> None:
        self.crds = load_crds()
        self._validators = {
            kind: jsonschema.Draft202012Validator(to_json_schema(served_schema(crd)))
            for kind, crd in self.crds.items()
        }

    def errors(self, body: dict[str, Any]) -> list[jsonschema.ValidationError]:
        assert body.get("apiVersion") == OUR_API_VERSION, body.get("apiVersion")
        validator = self._validators[body["kind"]]
        return sorted(validator.iter_errors(prune_nulls(body)), key=lambda e: list(e.absolute_path))

    def validate(self, body: dict[str, Any]) -> None:
        problems = self.errors(body)
        assert not problems, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in problems)


def example_documents() -> list[tuple[pathlib.Path, dict[str, Any]]]:
    docs = []
    for path in sorted(EXAMPLES_DIR.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path, doc))
    return docs
