"""Protocol v1 on the wire: models to JSON bytes and untrusted bytes to models.

- ``encode(envelope) -> bytes``: compact UTF-8 JSON. It does not re-check bounds: what is
  sent comes from resources whose CRDs carry the same limits.
- ``decode(raw, *, max_bytes=bounds.MAX_BODY_BYTES) -> Envelope``: the only way untrusted bytes
  become models. Raises ``errors.MessageError`` (never anything else) naming the field;
  ``errors.UnsupportedProtocol`` (a ``MessageError``) when ``protocol`` is another version,
  for the listener's 422.
- ``encode_error(status, reason, message) -> bytes`` / ``decode_error(raw) -> (status, reason,
  message)``: the refusal body of docs/protocol.md §5.

The JSON Schemas in ``schemas/`` say the same in a machine-readable way; a test keeps them
in agreement with this parser.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from workspace_link.core import bounds, errors, protocol, resources, strict_json

_WIRE_NAMES: Final[Mapping[str, str]] = {
    "origin_uid": "originUid",
    "origin_name": "originName",
    "started_by": "startedBy",
    "timeout_seconds": "timeoutSeconds",
    "remote_name": "remoteName",
    "log_tail": "logTail",
    "start_time": "startTime",
    "end_time": "endTime",
    "key_id": "keyId",
}


def _wire(name: str) -> str:
    return _WIRE_NAMES.get(name, name)


def _payload_json(payload: protocol.Payload) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(payload):
        value = getattr(payload, f.name)
        if value is None:
            continue  # optional fields are omitted rather than sent as null
        out[_wire(f.name)] = list(value) if isinstance(value, tuple) else value
    return out


def to_json(envelope: protocol.Envelope) -> dict[str, Any]:
    """The envelope as a JSON-ready dict (camelCase), as ``encode`` writes it."""
    sender = envelope.sender
    return {
        "protocol": envelope.protocol,
        "sender": {
            "config": sender.config,
            "role": sender.role,
            "workspace": sender.workspace,
            "keyId": sender.key_id,
        },
        "hold": envelope.hold,
        "messages": [
            {"id": m.id, "kind": m.kind, "payload": _payload_json(m.payload)} for m in envelope.messages
        ],
        "acks": [{"kind": a.kind, "originUid": a.origin_uid, "version": a.version} for a in envelope.acks],
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode(envelope: protocol.Envelope) -> bytes:
    """Compact UTF-8 JSON of ``envelope`` (the request or response body)."""
    return _dumps(to_json(envelope))


def encode_error(status: int, reason: str, message: str) -> bytes:
    """The error body of a refusal (docs/protocol.md §5); ``message`` is cut to bounds.MAX_TEXT_CHARS."""
    if not 400 <= status <= 599:
        raise ValueError(f"an error body needs a 4xx/5xx status, got {status}")
    if not _ERROR_REASON.fullmatch(reason):
        raise ValueError(f"error reason must be a lower-case word, got {reason!r}")
    body = {
        "status": status,
        "reason": reason,
        "message": message[: bounds.MAX_TEXT_CHARS],
        "protocol": protocol.PROTOCOL_VERSION,
    }
    return _dumps({"error": body})


# --- decoding -------------------------------------------------------------------------------

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_UID = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_KEY_ID = re.compile(r"sha256:[A-Za-z0-9_-]{43}")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_ERROR_REASON = re.compile(r"[a-z][a-z0-9-]{0,63}")


def _name(obj: Mapping[str, Any], key: str, path: str) -> str:
    return strict_json.string(
        obj,
        key,
        path,
        max_chars=bounds.MAX_NAME_CHARS,
        pattern=_NAME,
        what="a Kubernetes name (lower-case letters, digits, '-' and '.', alphanumeric at both ends)",
    )


def _uid(obj: Mapping[str, Any], key: str, path: str) -> str:
    return strict_json.string(
        obj,
        key,
        path,
        max_chars=bounds.MAX_UID_CHARS,
        pattern=_UID,
        what="a uid (letters, digits, '-', '_' and '.', alphanumeric at both ends)",
    )


def _time(obj: Mapping[str, Any], key: str, path: str) -> str:
    return strict_json.string(
        obj, key, path, max_chars=bounds.MAX_TIME_CHARS, pattern=_TIME, what="an RFC 3339 time with a zone"
    )


def _reason(obj: Mapping[str, Any], key: str, path: str) -> str:
    return strict_json.string(obj, key, path, max_chars=bounds.MAX_REASON_CHARS, min_chars=1)


def _text(obj: Mapping[str, Any], key: str, path: str) -> str:
    return strict_json.string(obj, key, path, max_chars=bounds.MAX_TEXT_CHARS)


def _script(obj: Mapping[str, Any], key: str, path: str) -> str:
    return strict_json.string(obj, key, path, max_bytes=bounds.MAX_SCRIPT_BYTES)


def _version(obj: Mapping[str, Any], key: str, path: str) -> int:
    return strict_json.integer(obj, key, path)


def _object_or_empty(obj: Mapping[str, Any], key: str, path: str, *, max_bytes: int) -> dict[str, Any]:
    if obj.get(key) is None:
        return {}
    return strict_json.json_object(obj, key, path, max_bytes=max_bytes)


def _log_tail(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    where = strict_json.join(path, key)
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        strict_json.fail(where, f"must be an array, got {strict_json.type_name(value)}")
    if len(value) > bounds.MAX_LOG_LINES:
        strict_json.fail(where, f"more than {bounds.MAX_LOG_LINES} lines")
    return tuple(
        strict_json.string_value(line, f"{where}[{i}]", max_chars=bounds.MAX_LOG_LINE_CHARS)
        for i, line in enumerate(value)
    )


def _phase(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj[key]
    if value not in protocol.PHASES:
        strict_json.fail(strict_json.join(path, key), f"must be one of {', '.join(protocol.PHASES)}")
    return str(value)


def _start(p: Mapping[str, Any], path: str) -> protocol.Start:
    strict_json.check_keys(
        p,
        path,
        required=("originUid", "originName", "script", "inputs", "version"),
        optional=("flow", "startedBy", "timeoutSeconds"),
    )
    timeout = strict_json.optional(
        p,
        "timeoutSeconds",
        path,
        lambda o, k, w: strict_json.integer(o, k, w, maximum=bounds.MAX_TIMEOUT_SECONDS),
    )
    return protocol.Start(
        origin_uid=_uid(p, "originUid", path),
        origin_name=_name(p, "originName", path),
        script=_script(p, "script", path),
        inputs=strict_json.json_object(p, "inputs", path, max_bytes=bounds.MAX_INPUTS_BYTES),
        version=_version(p, "version", path),
        flow=strict_json.optional(p, "flow", path, _name),
        started_by=strict_json.optional(
            p, "startedBy", path, lambda o, k, w: strict_json.string(o, k, w, max_chars=bounds.MAX_NAME_CHARS)
        ),
        timeout_seconds=timeout,
    )


def _cancel(p: Mapping[str, Any], path: str) -> protocol.Cancel:
    strict_json.check_keys(p, path, required=("originUid", "version"))
    return protocol.Cancel(origin_uid=_uid(p, "originUid", path), version=_version(p, "version", path))


def _status(p: Mapping[str, Any], path: str) -> protocol.Status:
    strict_json.check_keys(
        p,
        path,
        required=("originUid", "version", "phase", "remoteName"),
        optional=("reason", "message", "outputs", "logTail", "startTime", "endTime"),
    )
    return protocol.Status(
        origin_uid=_uid(p, "originUid", path),
        version=_version(p, "version", path),
        phase=_phase(p, "phase", path),
        remote_name=_name(p, "remoteName", path),
        reason=strict_json.optional(p, "reason", path, _reason),
        message=strict_json.optional(p, "message", path, _text),
        outputs=_object_or_empty(p, "outputs", path, max_bytes=bounds.MAX_OUTPUTS_BYTES),
        log_tail=_log_tail(p, "logTail", path),
        start_time=strict_json.optional(p, "startTime", path, _time),
        end_time=strict_json.optional(p, "endTime", path, _time),
    )


def _mirror(p: Mapping[str, Any], path: str) -> protocol.Mirror:
    strict_json.check_keys(
        p,
        path,
        required=("originUid", "originName", "version", "phase"),
        optional=("flow", "script", "inputs", "reason", "message", "outputs", "startTime", "endTime"),
    )
    return protocol.Mirror(
        origin_uid=_uid(p, "originUid", path),
        origin_name=_name(p, "originName", path),
        version=_version(p, "version", path),
        phase=_phase(p, "phase", path),
        flow=strict_json.optional(p, "flow", path, _name),
        script=strict_json.optional(p, "script", path, _script),
        inputs=_object_or_empty(p, "inputs", path, max_bytes=bounds.MAX_INPUTS_BYTES),
        reason=strict_json.optional(p, "reason", path, _reason),
        message=strict_json.optional(p, "message", path, _text),
        outputs=_object_or_empty(p, "outputs", path, max_bytes=bounds.MAX_OUTPUTS_BYTES),
        start_time=strict_json.optional(p, "startTime", path, _time),
        end_time=strict_json.optional(p, "endTime", path, _time),
    )


_PAYLOAD_READERS: Final[Mapping[str, Callable[[Mapping[str, Any], str], protocol.Payload]]] = {
    "start": _start,
    "cancel": _cancel,
    "status": _status,
    "mirror": _mirror,
}


def _kind(obj: Mapping[str, Any], key: str, path: str) -> protocol.MessageKind:
    value = obj[key]
    if value not in protocol.MESSAGE_KINDS:
        shown = value[:32] if isinstance(value, str) else strict_json.type_name(value)
        strict_json.fail(
            strict_json.join(path, key),
            f"unknown message kind {shown!r}; known: {', '.join(protocol.MESSAGE_KINDS)}",
        )
    kind: protocol.MessageKind = value
    return kind


def _message(value: Any, path: str, *, sender_role: str) -> protocol.Message:
    obj = strict_json.object_at(value, path)
    strict_json.check_keys(obj, path, required=("id", "kind", "payload"))
    kind = _kind(obj, "kind", path)
    if protocol.SENT_BY[kind] != sender_role:
        strict_json.fail(
            strict_json.join(path, "kind"), f"a {sender_role} side does not send {kind} messages"
        )
    received_id = strict_json.string(obj, "id", path, max_chars=160)
    payload_path = strict_json.join(path, "payload")
    payload = _PAYLOAD_READERS[kind](strict_json.object_at(obj["payload"], payload_path), payload_path)
    expected = protocol.message_id(kind, payload.origin_uid, payload.version)
    if received_id != expected:
        strict_json.fail(
            strict_json.join(path, "id"),
            f"must be {expected!r} (<kind>:<originUid>:<version> of the payload)",
        )
    return protocol.Message(id=received_id, kind=kind, payload=payload)


def _ack(value: Any, path: str, *, sender_role: str) -> protocol.Ack:
    obj = strict_json.object_at(value, path)
    strict_json.check_keys(obj, path, required=("kind", "originUid", "version"))
    kind = _kind(obj, "kind", path)
    if protocol.SENT_BY[kind] == sender_role:
        strict_json.fail(
            strict_json.join(path, "kind"), f"a {sender_role} side does not acknowledge {kind} messages"
        )
    return protocol.Ack(
        kind=kind, origin_uid=_uid(obj, "originUid", path), version=_version(obj, "version", path)
    )


def _protocol(obj: Mapping[str, Any]) -> int:
    if "protocol" not in obj:
        strict_json.fail("protocol", "missing")
    value = obj["protocol"]
    if not isinstance(value, int) or isinstance(value, bool):
        strict_json.fail("protocol", f"must be an integer, got {strict_json.type_name(value)}")
    if value != protocol.PROTOCOL_VERSION:
        if abs(value) >= 10**12:  # keep the refusal short; nobody speaks version 10^12
            supported = protocol.PROTOCOL_VERSION
            strict_json.fail(
                "protocol", f"unknown protocol version; this workspace speaks protocol version {supported}"
            )
        raise errors.UnsupportedProtocol(received=value, supported=protocol.PROTOCOL_VERSION)
    return value


def _hold(obj: Mapping[str, Any]) -> float:
    value = obj["hold"]
    if not isinstance(value, int | float) or isinstance(value, bool):
        strict_json.fail("hold", f"must be a number, got {strict_json.type_name(value)}")
    if not 0 <= value < bounds.MAX_HOLD_SECONDS:
        strict_json.fail("hold", f"must be at least 0 and below {bounds.MAX_HOLD_SECONDS} seconds")
    return float(value)


def _sender(value: Any) -> protocol.Sender:
    obj = strict_json.object_at(value, "sender")
    strict_json.check_keys(obj, "sender", required=("config", "role", "workspace", "keyId"))
    role = obj["role"]
    if role not in resources.ROLES:
        strict_json.fail("sender.role", f"must be one of {', '.join(resources.ROLES)}")
    return protocol.Sender(
        config=_name(obj, "config", "sender"),
        role=role,
        workspace=_name(obj, "workspace", "sender"),
        key_id=strict_json.string(
            obj, "keyId", "sender", pattern=_KEY_ID, what="'sha256:' and 43 base64url characters"
        ),
    )


def decode(raw: bytes, *, max_bytes: int = bounds.MAX_BODY_BYTES) -> protocol.Envelope:
    """Parse an untrusted request or response body.

    Raises ``errors.MessageError`` naming the field for anything malformed or out of bounds,
    ``errors.UnsupportedProtocol`` for another protocol version. Nothing else escapes for
    any input bytes (a property test holds it to that).
    """
    doc = strict_json.object_at(strict_json.parse(raw, max_bytes=max_bytes), "body")
    # The version first: a body of another version may differ in every other field.
    version = _protocol(doc)
    strict_json.check_keys(doc, "", required=("sender", "hold", "messages", "acks"), optional=("protocol",))
    sender = _sender(doc["sender"])
    hold = _hold(doc)
    raw_messages = strict_json.array(doc, "messages", max_items=bounds.MAX_MESSAGES)
    raw_acks = strict_json.array(doc, "acks", max_items=bounds.MAX_ACKS)
    messages = tuple(
        _message(item, f"messages[{i}]", sender_role=sender.role) for i, item in enumerate(raw_messages)
    )
    acks = tuple(_ack(item, f"acks[{i}]", sender_role=sender.role) for i, item in enumerate(raw_acks))
    return protocol.Envelope(sender=sender, messages=messages, acks=acks, hold=hold, protocol=version)


def decode_error(raw: bytes, *, max_bytes: int = 64 * 1024) -> tuple[int, str, str]:
    """Parse an untrusted error body into ``(status, reason, message)``; MessageError otherwise."""
    doc = strict_json.object_at(strict_json.parse(raw, max_bytes=max_bytes), "body")
    strict_json.check_keys(doc, "", required=("error",))
    err = strict_json.object_at(doc["error"], "error")
    strict_json.check_keys(err, "error", required=("status", "reason", "message", "protocol"))
    status = strict_json.integer(err, "status", "error", minimum=400, maximum=599)
    reason = strict_json.string(
        err,
        "reason",
        "error",
        max_chars=bounds.MAX_ERROR_REASON_CHARS,
        pattern=_ERROR_REASON,
        what="a lower-case word",
    )
    message = strict_json.string(err, "message", "error", max_chars=bounds.MAX_TEXT_CHARS)
    strict_json.integer(err, "protocol", "error", maximum=bounds.MAX_VERSION)
    return status, reason, message
