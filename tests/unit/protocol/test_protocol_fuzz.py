"""Whatever arrives, the parser answers with a model or a MessageError, never anything else."""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workspace_link.core import errors, protocol, wire

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        ["start", "status", "Controlling", "Controlled", "u-1", "sha256:" + "a" * 43, "start:u-1:1"]
    )
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)

VALID = {
    "protocol": 1,
    "sender": {
        "config": "link-to-b",
        "role": "Controlling",
        "workspace": "team-a",
        "keyId": "sha256:" + "k" * 43,
    },
    "hold": 5,
    "messages": [
        {
            "id": "start:u-2:1",
            "kind": "start",
            "payload": {
                "originUid": "u-2",
                "originName": "p",
                "script": "x = 1",
                "inputs": {"a": [1]},
                "version": 1,
            },
        },
        {"id": "cancel:u-2:2", "kind": "cancel", "payload": {"originUid": "u-2", "version": 2}},
    ],
    "acks": [{"kind": "status", "originUid": "u-9", "version": 3}],
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(VALID)[1:]
SCHEMA = json.loads(
    (importlib.resources.files("workspace_link.core") / "schemas" / "envelope.schema.json").read_text(
        encoding="utf-8"
    )
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(doc))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


def _decodes_or_refuses(raw: bytes) -> bool:
    try:
        envelope = wire.decode(raw)
    except errors.MessageError as exc:
        assert str(exc)  # a refusal always says something
        return False
    assert isinstance(envelope, protocol.Envelope)
    return True


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_message_error(raw: bytes) -> None:
    _decodes_or_refuses(raw)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_never_raises_anything_but_message_error(value: Any) -> None:
    _decodes_or_refuses(json.dumps(value).encode())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), JSON_VALUES), min_size=1, max_size=3))
def test_a_valid_body_with_fields_replaced_never_raises_anything_but_message_error(
    replacements: list[tuple[tuple[Any, ...], Any]],
) -> None:
    doc: Any = VALID
    for path, value in replacements:
        try:
            doc = _replace(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    if _decodes_or_refuses(json.dumps(doc).encode()):
        # The parser is the stricter of the two: what it accepts, the published schema accepts.
        VALIDATOR.validate(doc)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_error_bodies_never_raise_anything_but_message_error(raw: bytes) -> None:
    try:
        status, reason, message = wire.decode_error(raw)
    except errors.MessageError:
        return
    assert 400 <= status <= 599 and reason and isinstance(message, str)


def test_the_unmodified_fuzz_seed_is_valid() -> None:
    assert len(wire.decode(json.dumps(VALID).encode()).messages) == 2
