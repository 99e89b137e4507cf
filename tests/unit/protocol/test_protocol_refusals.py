"""Malformed, oversized and foreign bodies are refused with the field named; the schema agrees."""

from __future__ import annotations

import copy
import importlib.resources
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from workspace_link.core import bounds, errors, protocol, wire

KEY_ID = "sha256:" + "k" * 43


def controlling_body() -> dict[str, Any]:
    return {
        "protocol": 1,
        "sender": {"config": "link-to-b", "role": "Controlling", "workspace": "team-a", "keyId": KEY_ID},
        "hold": 20,
        "messages": [
            {"id": "cancel:u-0:2", "kind": "cancel", "payload": {"originUid": "u-0", "version": 2}},
            {
                "id": "mirror:u-1:4",
                "kind": "mirror",
                "payload": {"originUid": "u-1", "originName": "old-run", "version": 4, "phase": "Succeeded"},
            },
            {
                "id": "start:u-2:1",
                "kind": "start",
                "payload": {
                    "originUid": "u-2",
                    "originName": "parent-x2k9d",
                    "script": "def handler(system, this, inputs):\n    return this.success('ok')\n",
                    "inputs": {"name": "x"},
                    "version": 1,
                    "flow": "hello",
                },
            },
        ],
        "acks": [{"kind": "status", "originUid": "u-9", "version": 3}],
    }


def controlled_body() -> dict[str, Any]:
    return {
        "protocol": 1,
        "sender": {"config": "link-from-a", "role": "Controlled", "workspace": "team-b", "keyId": KEY_ID},
        "hold": 0,
        "messages": [
            {
                "id": "status:u-2:5",
                "kind": "status",
                "payload": {
                    "originUid": "u-2",
                    "version": 5,
                    "phase": "Running",
                    "remoteName": "wl-abcdef",
                    "logTail": ["started"],
                    "startTime": "2024-05-01T12:00:00Z",
                },
            }
        ],
        "acks": [{"kind": "start", "originUid": "u-2", "version": 1}],
    }


SCHEMA = json.loads(
    (importlib.resources.files("workspace_link.core") / "schemas" / "envelope.schema.json").read_text(
        encoding="utf-8"
    )
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def refusal(raw: bytes, **kwargs: Any) -> errors.MessageError:
    with pytest.raises(errors.MessageError) as info:
        wire.decode(raw, **kwargs)
    return info.value


def test_the_examples_are_accepted_by_parser_and_schema() -> None:
    for doc in (controlling_body(), controlled_body()):
        VALIDATOR.validate(doc)
        envelope = wire.decode(encode(doc))
        assert envelope.sender.key_id == KEY_ID


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


START = "messages/2/payload"

# (mutation, the field the error must name, whether the JSON Schema can see the problem too)
CASES: list[tuple[str, Mutation, str, bool]] = [
    ("missing sender", _delete("sender"), "sender", True),
    ("missing key id", _delete("sender/keyId"), "sender.keyId", True),
    ("bad key id", _set("sender/keyId", "md5:abc"), "sender.keyId", True),
    ("unknown role", _set("sender/role", "Boss"), "sender.role", True),
    ("config not a name", _set("sender/config", "Link_To_B"), "sender.config", True),
    ("hold too long", _set("hold", 25), "hold", True),
    ("hold negative", _set("hold", -1), "hold", True),
    ("hold a string", _set("hold", "20"), "hold", True),
    ("messages not an array", _set("messages", {}), "messages", True),
    ("unknown kind", _set("messages/0/kind", "explode"), "messages[0].kind", True),
    ("unknown top-level field", _set("extra", 1), "extra", True),
    ("unknown payload field", _set(f"{START}/originUID", "x"), "messages[2].payload.originUID", True),
    ("missing script", _delete(f"{START}/script"), "messages[2].payload.script", True),
    ("script not a string", _set(f"{START}/script", 42), "messages[2].payload.script", True),
    (
        "script over the byte limit in multi-byte characters",
        _set(f"{START}/script", "é" * (bounds.MAX_SCRIPT_BYTES // 2 + 1)),
        "messages[2].payload.script",
        False,  # fewer characters than the limit: only the parser counts bytes
    ),
    (
        "inputs over the byte limit",
        _set(f"{START}/inputs", {"big": "x" * bounds.MAX_INPUTS_BYTES}),
        "messages[2].payload.inputs",
        False,
    ),
    ("inputs not an object", _set(f"{START}/inputs", [1, 2]), "messages[2].payload.inputs", True),
    (
        "inputs with more keys than the CRD allows",
        _set(f"{START}/inputs", {f"k{i}": i for i in range(bounds.MAX_OBJECT_KEYS + 1)}),
        "messages[2].payload.inputs",
        True,
    ),
    (
        "timeout longer than the CRD allows",
        _set(f"{START}/timeoutSeconds", bounds.MAX_TIMEOUT_SECONDS + 1),
        "messages[2].payload.timeoutSeconds",
        True,
    ),
    ("version a boolean", _set(f"{START}/version", True), "messages[2].payload.version", True),
    ("version zero", _set(f"{START}/version", 0), "messages[2].payload.version", True),
    ("version a float", _set(f"{START}/version", 1.5), "messages[2].payload.version", True),
    ("uid with a colon", _set(f"{START}/originUid", "a:b"), "messages[2].payload.originUid", True),
    ("id does not match the payload", _set("messages/2/id", "start:u-2:7"), "messages[2].id", False),
    ("mirror phase unknown", _set("messages/1/payload/phase", "Done"), "messages[1].payload.phase", True),
    ("ack of a kind this role sends", _set("acks/0/kind", "start"), "acks[0].kind", False),
    ("ack without version", _delete("acks/0/version"), "acks[0].version", True),
    ("protocol a string", _set("protocol", "1"), "protocol", True),
    ("protocol missing", _delete("protocol"), "protocol", True),
]


@pytest.mark.parametrize(
    ("mutation", "field", "schema_sees_it"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_malformed_controlling_body_is_refused_naming_the_field(
    mutation: Mutation, field: str, schema_sees_it: bool
) -> None:
    doc = controlling_body()
    mutation(doc)
    error = refusal(encode(doc))
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert VALIDATOR.is_valid(doc) is not schema_sees_it


STATUS = "messages/0/payload"
CONTROLLED_CASES: list[tuple[str, Mutation, str, bool]] = [
    # The schema refuses it too, though only because a status payload is not a start payload.
    ("a controlled side sending a start", _set("messages/0/kind", "start"), "messages[0].kind", True),
    (
        "too many log lines",
        _set(f"{STATUS}/logTail", ["x"] * (bounds.MAX_LOG_LINES + 1)),
        "messages[0].payload.logTail",
        True,
    ),
    (
        "a log line too long",
        _set(f"{STATUS}/logTail", ["ok", "x" * (bounds.MAX_LOG_LINE_CHARS + 1)]),
        "messages[0].payload.logTail[1]",
        True,
    ),
    (
        "a time without zone",
        _set(f"{STATUS}/startTime", "2024-05-01 12:00"),
        "messages[0].payload.startTime",
        True,
    ),
    (
        "a message too long",
        _set(f"{STATUS}/message", "m" * (bounds.MAX_TEXT_CHARS + 1)),
        "messages[0].payload.message",
        True,
    ),
    (
        "outputs over the byte limit",
        _set(f"{STATUS}/outputs", {"o": "x" * bounds.MAX_OUTPUTS_BYTES}),
        "messages[0].payload.outputs",
        False,
    ),
    ("remote name missing", _delete(f"{STATUS}/remoteName"), "messages[0].payload.remoteName", True),
]


@pytest.mark.parametrize(
    ("mutation", "field", "schema_sees_it"),
    [c[1:] for c in CONTROLLED_CASES],
    ids=[c[0] for c in CONTROLLED_CASES],
)
def test_a_malformed_controlled_body_is_refused_naming_the_field(
    mutation: Mutation, field: str, schema_sees_it: bool
) -> None:
    doc = controlled_body()
    mutation(doc)
    error = refusal(encode(doc))
    assert error.field == field
    assert VALIDATOR.is_valid(doc) is not schema_sees_it


def test_an_oversized_body_is_refused_before_parsing() -> None:
    error = refusal(b"x" * 101, max_bytes=100)
    assert error.field == "body"
    assert "101 bytes" in str(error) and "100 bytes" in str(error)


def test_the_default_body_limit_is_the_protocol_constant() -> None:
    doc = controlling_body()
    doc["messages"][2]["payload"]["inputs"] = {"pad": "x" * bounds.MAX_BODY_BYTES}
    assert "larger than the limit" in str(refusal(encode(doc)))


def test_too_many_messages_are_refused() -> None:
    doc = controlling_body()
    doc["messages"] = [copy.deepcopy(doc["messages"][0]) for _ in range(bounds.MAX_MESSAGES + 1)]
    error = refusal(encode(doc))
    assert error.field == "messages"
    assert not VALIDATOR.is_valid(doc)


def test_too_many_acks_are_refused() -> None:
    doc = controlling_body()
    doc["acks"] = doc["acks"] * (bounds.MAX_ACKS + 1)
    assert refusal(encode(doc)).field == "acks"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b'{"protocol": 1,', "not valid JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"protocol": NaN}', "not valid JSON"),
        (b'{"protocol": 1e999}', "out of range"),
        (b'{"protocol": 1, "protocol": 1}', "repeats the key"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"protocol": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ],
    ids=["utf-8", "truncated", "array", "nan", "huge float", "duplicate key", "deep", "huge int"],
)
def test_bytes_that_are_not_a_json_object_are_refused(raw: bytes, words: str) -> None:
    assert words in str(refusal(raw))


def test_an_unpaired_surrogate_in_a_string_is_refused() -> None:
    raw = (
        encode(controlling_body())
        .replace(b'"name":"x"', b'"name":"\\ud800"')
        .replace(b'"name": "x"', b'"name": "\\ud800"')
    )
    assert "surrogate" in str(refusal(raw))


def test_another_protocol_version_is_refused_naming_both_versions() -> None:
    doc = controlling_body()
    doc["protocol"] = 2
    doc["sender"] = "whatever a version 2 sender looks like"
    with pytest.raises(errors.UnsupportedProtocol) as info:
        wire.decode(encode(doc))
    assert info.value.received == 2
    assert info.value.supported == protocol.PROTOCOL_VERSION == 1
    assert "protocol version 2" in str(info.value) and "protocol version 1" in str(info.value)


def test_optional_fields_may_be_null() -> None:
    doc = controlling_body()
    doc["messages"][2]["payload"].update(flow=None, startedBy=None, timeoutSeconds=None)
    start = wire.decode(encode(doc)).messages[2].payload
    assert isinstance(start, protocol.Start)
    assert start.flow is None and start.timeout_seconds is None
    VALIDATOR.validate(doc)
