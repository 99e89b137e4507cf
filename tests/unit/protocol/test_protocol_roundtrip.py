"""Encoded envelopes decode to the same models and satisfy the shipped JSON Schemas."""

from __future__ import annotations

import base64
import datetime
import importlib.resources
import json
from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from workspace_link.core import bounds, errors, protocol, wire

NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,30}[a-z0-9])?", fullmatch=True)
UIDS = st.uuids().map(str) | st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?", fullmatch=True)
KEY_IDS = st.binary(min_size=32, max_size=32).map(
    lambda b: "sha256:" + base64.urlsafe_b64encode(b).decode().rstrip("=")
)
VERSIONS = st.integers(min_value=1, max_value=bounds.MAX_VERSION)
TIMES = st.none() | st.datetimes(timezones=st.just(datetime.UTC)).map(lambda d: d.isoformat())
PHASES = st.sampled_from(protocol.PHASES)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)
SHORT_TEXT = st.none() | st.text(max_size=50)
REASONS = st.none() | st.text(min_size=1, max_size=30)

STARTS = st.builds(
    protocol.Start,
    origin_uid=UIDS,
    origin_name=NAMES,
    script=st.text(max_size=200),
    inputs=JSON_OBJECTS,
    version=VERSIONS,
    flow=st.none() | NAMES,
    started_by=SHORT_TEXT,
    timeout_seconds=st.none() | st.integers(min_value=1, max_value=10**6),
)
CANCELS = st.builds(protocol.Cancel, origin_uid=UIDS, version=VERSIONS)
MIRRORS = st.builds(
    protocol.Mirror,
    origin_uid=UIDS,
    origin_name=NAMES,
    version=VERSIONS,
    phase=PHASES,
    flow=st.none() | NAMES,
    script=st.none() | st.text(max_size=100),
    inputs=JSON_OBJECTS,
    reason=REASONS,
    message=SHORT_TEXT,
    outputs=JSON_OBJECTS,
    start_time=TIMES,
    end_time=TIMES,
)
STATUSES = st.builds(
    protocol.Status,
    origin_uid=UIDS,
    version=VERSIONS,
    phase=PHASES,
    remote_name=NAMES,
    reason=REASONS,
    message=SHORT_TEXT,
    outputs=JSON_OBJECTS,
    log_tail=st.lists(st.text(max_size=40), max_size=5).map(tuple),
    start_time=TIMES,
    end_time=TIMES,
)


def _acks(kinds: list[str]) -> st.SearchStrategy[tuple[protocol.Ack, ...]]:
    ack = st.builds(protocol.Ack, kind=st.sampled_from(kinds), origin_uid=UIDS, version=VERSIONS)
    return st.lists(ack, max_size=5).map(tuple)


def _envelopes(role: protocol.Role) -> st.SearchStrategy[protocol.Envelope]:
    if role == "Controlling":
        payloads = STARTS | CANCELS | MIRRORS
        acks = _acks(["status"])
    else:
        payloads = STATUSES
        acks = _acks(["start", "cancel", "mirror"])
    sender = st.builds(protocol.Sender, config=NAMES, role=st.just(role), workspace=NAMES, key_id=KEY_IDS)
    return st.builds(
        protocol.Envelope,
        sender=sender,
        messages=st.lists(payloads.map(protocol.make_message), max_size=4).map(tuple),
        acks=acks,
        hold=st.floats(min_value=0, max_value=24.5) | st.integers(min_value=0, max_value=24).map(float),
    )


ENVELOPES = _envelopes("Controlling") | _envelopes("Controlled")


def load_schema(name: str) -> dict[str, Any]:
    text = (importlib.resources.files("workspace_link.core") / "schemas" / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


ENVELOPE_VALIDATOR = jsonschema.Draft202012Validator(load_schema("envelope.schema.json"))
ERROR_VALIDATOR = jsonschema.Draft202012Validator(load_schema("error.schema.json"))


@settings(max_examples=150, deadline=None)
@given(ENVELOPES)
def test_an_encoded_envelope_decodes_to_the_same_envelope(envelope: protocol.Envelope) -> None:
    assert wire.decode(wire.encode(envelope)) == envelope


@settings(max_examples=150, deadline=None)
@given(ENVELOPES)
def test_every_encoded_envelope_satisfies_the_shipped_schema(envelope: protocol.Envelope) -> None:
    ENVELOPE_VALIDATOR.validate(json.loads(wire.encode(envelope)))


def test_the_wire_form_is_compact_camel_case_json_without_nulls() -> None:
    status = protocol.Status(
        origin_uid="u-1", version=3, phase="Succeeded", remote_name="wl-abc", log_tail=("hi",)
    )
    envelope = protocol.Envelope(
        sender=protocol.Sender(
            config="link-a", role="Controlled", workspace="team-b", key_id="sha256:" + "A" * 43
        ),
        messages=(protocol.make_message(status),),
    )
    raw = wire.encode(envelope)
    assert b" " not in raw
    assert json.loads(raw)["messages"] == [
        {
            "id": "status:u-1:3",
            "kind": "status",
            "payload": {
                "originUid": "u-1",
                "version": 3,
                "phase": "Succeeded",
                "remoteName": "wl-abc",
                "outputs": {},
                "logTail": ["hi"],
            },
        }
    ]
    assert set(json.loads(raw)) == {"protocol", "sender", "hold", "messages", "acks"}


def test_an_error_body_round_trips_and_satisfies_its_schema() -> None:
    raw = wire.encode_error(422, "unsupported-protocol", "protocol version 2 is not supported")
    ERROR_VALIDATOR.validate(json.loads(raw))
    assert json.loads(raw)["error"]["protocol"] == protocol.PROTOCOL_VERSION
    assert wire.decode_error(raw) == (422, "unsupported-protocol", "protocol version 2 is not supported")


def test_an_error_message_is_cut_to_the_text_limit() -> None:
    raw = wire.encode_error(400, "malformed", "x" * (bounds.MAX_TEXT_CHARS + 10))
    assert len(wire.decode_error(raw)[2]) == bounds.MAX_TEXT_CHARS


def test_a_malformed_error_body_is_a_message_error_naming_the_field() -> None:
    raw = json.dumps({"error": {"status": 200, "reason": "ok", "message": "", "protocol": 1}}).encode()
    try:
        wire.decode_error(raw)
    except errors.MessageError as exc:
        assert exc.field == "error.status"
    else:
        raise AssertionError("a 200 status in an error body was accepted")
