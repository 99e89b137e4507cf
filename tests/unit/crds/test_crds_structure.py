"""The CRDs are what `kubectl explain`, `kubectl get` and the API server's validation show a user.

These tests hold them to the rules Kubernetes enforces on structural schemas (a CRD breaking
them is refused at install) and to ours: every field described, every size bounded, the
fields exactly those docs/architecture.md lists.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import wl_crd_schema

KINDS = ("SyncConfig", "Flow", "Execution", "Setting")
# Logic junctors in a structural schema may only constrain: these keys are refused inside them.
FORBIDDEN_IN_JUNCTORS = {"type", "description", "default", "additionalProperties", "nullable"}
# The root metadata is the API server's own: it refuses a CRD constraining more than name and
# generateName there, a description included.
ROOT_METADATA = ".metadata"
# Short names and resource names of built-in kinds (kubectl api-resources) and of widely
# installed CRDs (Kueue's `wl` for workloads): a short name of ours must not shadow any.
TAKEN_SHORT_NAMES = {
    "cs", "cm", "ep", "ev", "limits", "ns", "no", "pvc", "pv", "po", "rc", "quota", "sa", "svc",
    "crd", "crds", "ds", "deploy", "rs", "sts", "hpa", "cj", "csr", "ing", "netpol", "pdb", "pc",
    "sc", "psp", "wl", "cq", "lq", "ex", "fl", "exec", "flow", "flows", "job", "jobs", "secret",
}  # fmt: skip


@pytest.fixture(scope="module")
def crds() -> dict[str, dict[str, Any]]:
    return wl_crd_schema.load_crds()


def walk(node: dict[str, Any], path: str = "") -> Any:
    """Every schema node that describes a value (not the logic junctors), with its path."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def test_one_crd_per_kind_in_its_own_file(crds: dict[str, dict[str, Any]]) -> None:
    assert set(crds) == set(KINDS)
    for kind, crd in crds.items():
        names = crd["spec"]["names"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == f"{names['plural']}.{wl_crd_schema.GROUP}"
        assert (wl_crd_schema.CRD_DIR / f"{names['plural']}.yaml").is_file()
        assert crd["spec"]["scope"] == "Namespaced"
        assert names["singular"] == kind.lower()
        assert names["categories"] == ["workspacelink"]
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
        assert version["subresources"] == {"status": {}}


def test_crds_are_valid_apiextensions_objects(crds: dict[str, dict[str, Any]]) -> None:
    for crd in crds.values():
        kubernetes_validate.validate(crd, "1.30", strict=True)


def test_short_names_shadow_no_builtin(crds: dict[str, dict[str, Any]]) -> None:
    short = {kind: crd["spec"]["names"]["shortNames"] for kind, crd in crds.items()}
    assert short == {
        "SyncConfig": ["wlsync"],
        "Flow": ["wlflow"],
        "Execution": ["wlexec"],
        "Setting": ["wlsetting"],
    }
    assert not {n for names in short.values() for n in names} & TAKEN_SHORT_NAMES


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_is_described_typed_and_bounded(crds: dict[str, dict[str, Any]], kind: str) -> None:
    problems = []
    for path, node in walk(wl_crd_schema.served_schema(crds[kind])):
        where = path or "<root>"
        if not node.get("description") and path != ROOT_METADATA:
            problems.append(f"{where}: no description")
        # Only a node preserving unknown fields may be untyped (a Setting's any-JSON value).
        if "type" not in node and not (kind == "Setting" and path == ".spec.value"):
            problems.append(f"{where}: no type (structural schemas need one)")
        kind_ = node.get("type")
        if kind_ == "string" and "maxLength" not in node and "enum" not in node:
            problems.append(f"{where}: string without maxLength or enum")
        if kind_ == "array" and "maxItems" not in node:
            problems.append(f"{where}: array without maxItems")
        open_map = isinstance(node.get("additionalProperties"), dict) or node.get(
            "x-kubernetes-preserve-unknown-fields"
        )
        if kind_ == "object" and open_map and "maxProperties" not in node:
            problems.append(f"{where}: open object without maxProperties")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_root_metadata_constrains_nothing_but_name_and_generate_name(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    """At the root, metadata may be type: object with properties naming only name/generateName."""
    metadata = wl_crd_schema.served_schema(crds[kind])["properties"]["metadata"]
    assert metadata["type"] == "object"
    assert set(metadata) <= {"type", "properties"}, sorted(metadata)
    assert set(metadata.get("properties", {})) <= {"name", "generateName"}
    assert metadata == {"type": "object"}  # ours constrains neither


@pytest.mark.parametrize("kind", KINDS)
def test_logic_junctors_follow_structural_rules(crds: dict[str, dict[str, Any]], kind: str) -> None:
    for path, node in walk(wl_crd_schema.served_schema(crds[kind])):
        for junctor in ("oneOf", "anyOf", "allOf"):
            for branch in node.get(junctor, []):
                assert not FORBIDDEN_IN_JUNCTORS & set(branch), (path, branch)
                assert not [k for k in branch if k.startswith("x-kubernetes-")], (path, branch)
                named = set(branch.get("required", [])) | set(branch.get("properties", {}))
                assert named <= set(node["properties"]), f"{path}: {junctor} names undeclared fields"


@pytest.mark.parametrize("kind", KINDS)
def test_defaults_are_valid_values_of_their_field(crds: dict[str, dict[str, Any]], kind: str) -> None:
    for path, node in walk(wl_crd_schema.served_schema(crds[kind])):
        if "default" in node:
            errors = list(
                jsonschema.Draft202012Validator(wl_crd_schema.to_json_schema(node)).iter_errors(
                    node["default"]
                )
            )
            assert not errors, f"{path}: default {node['default']!r} is not a valid value"


def test_sync_config_defaults(crds: dict[str, dict[str, Any]]) -> None:
    spec = wl_crd_schema.served_schema(crds["SyncConfig"])["properties"]["spec"]["properties"]
    assert spec["enabled"]["default"] is True
    assert spec["verifySsl"]["default"] is True
    assert spec["sendAllExecutions"]["default"] is False
    assert spec["ownPrivateKey"]["properties"]["key"]["default"] == "private.pem"
    # No default: an omitted key means "every entry of the Secret" (key rotation).
    assert "default" not in spec["remotePublicKey"]["properties"]["key"]
    assert spec["caCertificate"]["properties"]["kind"]["default"] == "Secret"


# The fields docs/architecture.md "The objects" lists, exactly.
FIELDS = {
    ("SyncConfig", "spec"): {
        "enabled", "remoteUrl", "caCertificate", "verifySsl", "ownPrivateKey", "remotePublicKey",
        "sendAllExecutions", "syncInterval", "role",
    },
    ("SyncConfig", "status"): {
        "conditions", "observedGeneration", "role", "mode", "path", "keyId", "peer",
        "lastAttemptTime", "lastSuccessTime", "lastError", "counters",
    },
    ("Execution", "spec"): {
        "flow", "script", "mirror", "inputs", "remoteWorkspace", "parent", "timeoutSeconds", "cancel",
    },
    ("Execution", "status"): {
        "phase", "reason", "message", "outputs", "logTail", "startTime", "endTime", "jobName",
        "observedGeneration", "version", "origin", "link", "mirrors",
    },
    ("Flow", "spec"): {"script", "description"},
    ("Setting", "spec"): {"name", "value", "lock"},
}  # fmt: skip


@pytest.mark.parametrize(("kind", "part"), sorted(FIELDS))
def test_fields_are_those_of_the_architecture(crds: dict[str, dict[str, Any]], kind: str, part: str) -> None:
    schema = wl_crd_schema.served_schema(crds[kind])
    assert set(schema["properties"][part]["properties"]) == FIELDS[kind, part]


def test_nested_fields_are_those_of_the_architecture(crds: dict[str, dict[str, Any]]) -> None:
    sc = wl_crd_schema.served_schema(crds["SyncConfig"])["properties"]
    ex = wl_crd_schema.served_schema(crds["Execution"])["properties"]
    assert set(sc["spec"]["properties"]["caCertificate"]["properties"]) == {"kind", "name", "key"}
    assert set(sc["status"]["properties"]["peer"]["properties"]) == {"config", "role", "workspace"}
    assert set(sc["status"]["properties"]["counters"]["properties"]) == {
        "exchanges", "failures", "messagesSent", "messagesReceived",
    }  # fmt: skip
    assert set(ex["spec"]["properties"]["mirror"]["properties"]) == {"link", "originUid", "originName"}
    assert set(ex["status"]["properties"]["origin"]["properties"]) == {
        "link", "uid", "name", "workspace", "startedBy", "acknowledgedVersion",
    }  # fmt: skip
    assert set(ex["status"]["properties"]["link"]["properties"]) == {
        "name", "remoteName", "localVersion", "acknowledgedVersion", "remoteVersion", "lastSync",
    }  # fmt: skip


def test_conditions_have_the_standard_shape(crds: dict[str, dict[str, Any]]) -> None:
    conditions = wl_crd_schema.served_schema(crds["SyncConfig"])["properties"]["status"]["properties"][
        "conditions"
    ]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["maxItems"] == 8
    item = conditions["items"]
    assert set(item["properties"]) == {
        "type", "status", "reason", "message", "lastTransitionTime", "observedGeneration",
    }  # fmt: skip
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert "type" in item["required"]


def _resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    """The schema node a printer column's JSONPath reads, or None when it names nothing."""
    node = schema
    for step in re.sub(r"\[\?\(.*?\)\]", "[]", json_path).strip(".").split("."):
        name, _, rest = step.partition("[]")
        if node.get("type") == "object" and name == "creationTimestamp" and "properties" not in node:
            return {"type": "string", "format": "date-time"}  # metadata: the API server's own
        if name not in node.get("properties", {}):
            return None
        node = node["properties"][name]
        if rest == "" and step.endswith("[]"):
            node = node["items"]
    return node


COLUMNS = {
    "SyncConfig": ["Enabled", "Role", "Remote", "Last Sync", "Ready", "Age"],
    "Execution": ["Phase", "Flow", "Remote", "Origin", "Started", "Age"],
    "Flow": ["Description", "Age"],
    "Setting": ["Locked By", "Age"],
}


@pytest.mark.parametrize("kind", KINDS)
def test_printer_columns_read_declared_fields(crds: dict[str, dict[str, Any]], kind: str) -> None:
    (version,) = crds[kind]["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    columns = version["additionalPrinterColumns"]
    first = [c["name"] for c in columns if not c.get("priority")]
    assert first == COLUMNS[kind]
    for column in columns:
        node = _resolve(schema, column["jsonPath"])
        assert node is not None, f"{kind} column {column['name']}: {column['jsonPath']} names no field"
        expected = {"boolean": "boolean", "integer": "integer", "string": "string"}.get(node["type"])
        if column["type"] == "date":
            assert node.get("format") == "date-time", column
        else:
            assert column["type"] == expected, column


def test_ready_column_reads_the_ready_condition(crds: dict[str, dict[str, Any]]) -> None:
    (version,) = crds["SyncConfig"]["spec"]["versions"]
    ready = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}["Ready"]
    assert ready == '.status.conditions[?(@.type=="Ready")].status'
