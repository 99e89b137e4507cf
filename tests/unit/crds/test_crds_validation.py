"""What `kubectl apply` accepts and refuses: the examples pass, malformed objects are refused for
the reason a user would be told."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import wl_crd_schema
import yaml

EXAMPLES = wl_crd_schema.example_documents()
OURS = [(p, d) for p, d in EXAMPLES if d["apiVersion"] == wl_crd_schema.OUR_API_VERSION]
BUILTIN = [(p, d) for p, d in EXAMPLES if d["apiVersion"] != wl_crd_schema.OUR_API_VERSION]


def _id(item: tuple[pathlib.Path, dict[str, Any]]) -> str:
    path, doc = item
    return f"{path.relative_to(wl_crd_schema.EXAMPLES_DIR)}:{doc['kind']}/{doc['metadata']['name']}"


def test_the_examples_cover_every_kind_of_ours() -> None:
    assert {d["kind"] for _, d in OURS} == {"SyncConfig", "Flow", "Execution", "Setting"}


@pytest.mark.parametrize("item", OURS, ids=[_id(i) for i in OURS])
def test_example_objects_validate_against_their_crd(crd_validator: Any, item: Any) -> None:
    crd_validator.validate(item[1])


@pytest.mark.parametrize("item", BUILTIN, ids=[_id(i) for i in BUILTIN])
def test_example_builtin_objects_validate_against_kubernetes(item: Any) -> None:
    kubernetes_validate.validate(item[1], "1.30", strict=True)


def test_example_scripts_are_the_flow_files() -> None:
    flows = {d["metadata"]["name"]: d for _, d in OURS if d["kind"] == "Flow"}
    files = sorted((wl_crd_schema.EXAMPLES_DIR / "flows").glob("*.py"))
    assert {f.stem for f in files} == set(flows)
    for file in files:
        text = file.read_text()
        assert flows[file.stem]["spec"]["script"] == text, f"{file.name} and flows.yaml differ"
        compile(text, str(file), "exec")


def test_main_calls_hello_over_the_link() -> None:
    by_name = {(d["kind"], d["metadata"]["name"]): d for _, d in OURS}
    main = by_name["Flow", "main"]["spec"]["script"]
    link = by_name["SyncConfig", "link-to-b"]
    assert 'this.flow("hello", remote_workspace_name="link-to-b"' in main
    assert link["metadata"]["namespace"] == by_name["Flow", "main"]["metadata"]["namespace"] == "workspace-a"
    assert by_name["Execution", "main-example"]["spec"]["flow"] == "main"
    # A dials B at the path of B's config name.
    assert link["spec"]["remoteUrl"].endswith("/api/latest/sync_config/link-to-a/sync")
    assert by_name["SyncConfig", "link-to-a"]["metadata"]["namespace"] == "workspace-b"


def test_the_engine_style_examples_send_their_children_over_the_link() -> None:
    by_name = {(d["kind"], d["metadata"]["name"]): d for _, d in OURS}
    for execution, flow in (("fanout-example", "fanout"), ("tallies-example", "tallies")):
        spec = by_name["Execution", execution]["spec"]
        assert (spec["flow"], spec["inputs"]) == (flow, {"remote": "link-to-b"})
        assert "remote_workspace_name=remote" in by_name["Flow", flow]["spec"]["script"]
    # The tally children run in workspace-b, so the Setting they count in is workspace-b's.
    tally = by_name["Setting", "tally"]
    assert (tally["metadata"]["namespace"], tally["spec"]["value"]) == ("workspace-b", 0)
    assert 'system.setting("tally")' in by_name["Flow", "tally"]["spec"]["script"]


def test_make_wait_waits_for_every_example_execution() -> None:
    makefile = (wl_crd_schema.ROOT / "Makefile").read_text()
    (line,) = [line for line in makefile.splitlines() if line.startswith("EXAMPLE_EXECUTIONS :=")]
    executions = {d["metadata"]["name"] for _, d in OURS if d["kind"] == "Execution"}
    assert set(line.split(":=", 1)[1].split()) == executions
    example = makefile.split("\nexample:\n", 1)[1].split("\n\n", 1)[0]
    applied = {f"{name}.yaml" for name in ("flows", "settings", "execution")}
    assert all(f"$(EXAMPLE)/{name}" in example for name in applied), example


# --- objects the API server must refuse -------------------------------------------------------


def _example(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for _, d in OURS if d["kind"] == kind and d["metadata"]["name"] == name]
    return copy.deepcopy(doc)


def sync_config() -> dict[str, Any]:
    return _example("SyncConfig", "link-to-b")


def execution() -> dict[str, Any]:
    return _example("Execution", "main-example")


def flow() -> dict[str, Any]:
    return _example("Flow", "hello")


def _condition(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": "True",
        "reason": "Exchanged",
        "message": "",
        "lastTransitionTime": "2024-05-01T10:00:00Z",
        **overrides,
    }


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def _both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        for m in mutations:
            m(body)

    return mutate


# (what is wrong, base object, mutation, the JSON Schema keyword refusing it, where)
SC, EX, FL = sync_config, execution, flow
URL = "workspace-link-sync.workspace-b.svc:8443/api/latest/sync_config/link-to-a/sync"
REFUSED = [
    ("key reference without secretName", SC, _set("spec.ownPrivateKey", {"key": "private.pem"}),
     "required", "spec.ownPrivateKey"),
    ("public key reference without secretName", SC, _set("spec.remotePublicKey", {}),
     "required", "spec.remotePublicKey"),
    ("no private key reference at all", SC, _drop("spec.ownPrivateKey"), "required", "spec"),
    ("syncInterval zero", SC, _set("spec.syncInterval", 0), "minimum", "spec.syncInterval"),
    ("syncInterval negative", SC, _set("spec.syncInterval", -5), "minimum", "spec.syncInterval"),
    ("remoteUrl over http", SC, _set("spec.remoteUrl", f"http://{URL}"), "pattern", "spec.remoteUrl"),
    ("remoteUrl without the sync path", SC, _set("spec.remoteUrl", "https://peer.example:8443"),
     "pattern", "spec.remoteUrl"),
    ("unknown role", SC, _set("spec.role", "Boss"), "enum", "spec.role"),
    ("caCertificate of a Pod", SC, _set("spec.caCertificate.kind", "Pod"),
     "enum", "spec.caCertificate.kind"),
    ("caCertificate without a name", SC, _drop("spec.caCertificate.name"),
     "required", "spec.caCertificate"),
    ("verifySsl as a word", SC, _set("spec.verifySsl", "yes"), "type", "spec.verifySsl"),
    ("a misspelt field", SC, _set("spec.remoteURL", "https://x"), "additionalProperties", "spec"),
    ("an unknown condition status", SC, _set("status.conditions", [_condition(status="Maybe")]),
     "enum", "status.conditions.0.status"),
    ("too many conditions", SC, _set("status.conditions", [_condition(type=f"C{i}") for i in range(9)]),
     "maxItems", "status.conditions"),
    ("an overlong lastError", SC, _set("status.lastError", "x" * 4097), "maxLength", "status.lastError"),
    ("execution with neither flow, script nor mirror", EX, _drop("spec.flow"), "oneOf", "spec"),
    ("execution with flow and script", EX, _set("spec.script", "print(1)"), "oneOf", "spec"),
    ("execution with flow and mirror", EX, _set("spec.mirror", {"link": "l", "originUid": "u"}),
     "oneOf", "spec"),
    ("mirror without the origin uid", EX, _both(_drop("spec.flow"), _set("spec.mirror", {"link": "l"})),
     "required", "spec.mirror"),
    ("an overlong script", EX, _both(_drop("spec.flow"), _set("spec.script", "#" * 262145)),
     "maxLength", "spec.script"),
    ("timeoutSeconds zero", EX, _set("spec.timeoutSeconds", 0), "minimum", "spec.timeoutSeconds"),
    ("too many inputs", EX, _set("spec.inputs", {f"k{i}": i for i in range(257)}),
     "maxProperties", "spec.inputs"),
    ("an unknown phase", EX, _set("status.phase", "Done"), "enum", "status.phase"),
    ("a log tail over 100 lines", EX, _set("status.logTail", ["line"] * 101), "maxItems", "status.logTail"),
    ("an overlong message", EX, _set("status.message", "m" * 4097), "maxLength", "status.message"),
    ("a flow without a script", FL, _drop("spec.script"), "required", "spec"),
    ("an empty script", FL, _set("spec.script", ""), "minLength", "spec.script"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("base", "mutate", "keyword", "where"),
    [r[1:] for r in REFUSED],
    ids=[r[0] for r in REFUSED],
)
def test_malformed_objects_are_refused_for_their_reason(
    crd_validator: Any,
    base: Callable[[], dict[str, Any]],
    mutate: Callable[[dict[str, Any]], None],
    keyword: str,
    where: str,
) -> None:
    body = base()
    crd_validator.validate(body)  # the base is fine: the mutation alone is refused
    mutate(body)
    found = [(e.validator, ".".join(str(p) for p in e.absolute_path)) for e in crd_validator.errors(body)]
    assert (keyword, where) in found, found


def test_a_listener_without_remote_url_is_accepted(crd_validator: Any) -> None:
    body = _example("SyncConfig", "link-to-a")
    assert "remoteUrl" not in body["spec"]
    crd_validator.validate(body)


def test_minimal_objects_are_accepted(crd_validator: Any) -> None:
    crd_validator.validate(
        yaml.safe_load(
            """
            apiVersion: workspacelink.io/v1alpha1
            kind: SyncConfig
            metadata: {name: minimal}
            spec:
              ownPrivateKey: {secretName: keys}
              remotePublicKey: {secretName: peer-keys}
            """
        )
    )
    crd_validator.validate(
        {"apiVersion": "workspacelink.io/v1alpha1", "kind": "Execution", "metadata": {"name": "x"},
         "spec": {"script": "print(1)"}}
    )  # fmt: skip


def test_full_statuses_as_the_operator_writes_them_are_accepted(crd_validator: Any) -> None:
    """Every status field of docs/architecture.md, set: none is pruned or refused."""
    sc = sync_config()
    sc["status"] = {
        "observedGeneration": 3,
        "conditions": [
            _condition(observedGeneration=3),
            _condition(type="KeysLoaded", reason="Loaded", message="2 public keys"),
            _condition(type="Connected", status="False", reason="PeerUnreachable", message="timeout"),
        ],
        "role": "Controlling",
        "mode": "Dialer",
        "path": "/api/latest/sync_config/link-to-b/sync",
        "keyId": "sha256:" + "A" * 43,
        "peer": {"config": "link-to-a", "role": "Controlled", "workspace": "workspace-b"},
        "lastAttemptTime": "2024-05-01T10:00:00Z",
        "lastSuccessTime": "2024-05-01T10:00:00Z",
        "lastError": "",
        "counters": {"exchanges": 10, "failures": 1, "messagesSent": 4, "messagesReceived": 4},
    }
    crd_validator.validate(sc)
    ex = execution()
    ex["status"] = {
        "phase": "Succeeded",
        "reason": "Completed",
        "message": "all done",
        "outputs": {"greeting": "hello, x", "nested": {"list": [1, 2]}},
        "logTail": ["remote said {'greeting': 'hello, x'}"],
        "startTime": "2024-05-01T10:00:00Z",
        "endTime": "2024-05-01T10:00:05Z",
        "jobName": "main-example",
        "observedGeneration": 1,
        "version": 7,
        "origin": {"link": "link-to-a", "uid": "0f0e", "name": "main-example", "workspace": "workspace-a",
                   "startedBy": "alice", "acknowledgedVersion": 6},
        "link": {"name": "link-to-b", "remoteName": "wl-abc", "localVersion": 2, "acknowledgedVersion": 2,
                 "remoteVersion": 5, "lastSync": "2024-05-01T10:00:05Z"},
        "mirrors": {"link-to-b": 7},
    }  # fmt: skip
    crd_validator.validate(ex)
