"""Protocol v1: the bodies two workspaces exchange (see docs/protocol.md, the normative text).

This module is pure: typed models, their JSON encoding, and the parsing of untrusted JSON into
them. Parsing errors are ``errors.MessageError`` naming the JSON field (``messages[3].payload.script``).
Wire names are camelCase; Python names are snake_case.

Public API:

- ``encode(envelope) -> bytes``: compact UTF-8 JSON. It does not re-check bounds: what is
  sent comes from resources whose CRDs carry the same limits.
- ``decode(raw, *, max_bytes=MAX_BODY_BYTES) -> Envelope``: the only way untrusted bytes
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
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NoReturn

from workspace_link.core import errors

PROTOCOL_VERSION: Final = 1
#: The path a listener serves for one SyncConfig; the name is the *listener's* config name.
SYNC_PATH: Final = "/api/latest/sync_config/{name}/sync"
CONTENT_TYPE: Final = "application/json"

# Size bounds (bytes or counts); the CRDs use the same numbers.
MAX_BODY_BYTES: Final = 8 * 1024 * 1024
MAX_MESSAGES: Final = 500
MAX_ACKS: Final = 2000
MAX_SCRIPT_BYTES: Final = 256 * 1024
MAX_INPUTS_BYTES: Final = 256 * 1024
MAX_OUTPUTS_BYTES: Final = 256 * 1024
MAX_TEXT_CHARS: Final = 4096
MAX_LOG_LINES: Final = 100
MAX_LOG_LINE_CHARS: Final = 1000
MAX_HOLD_SECONDS: Final = 25
MAX_NAME_CHARS: Final = 253
MAX_UID_CHARS: Final = 63
MAX_REASON_CHARS: Final = 128
#: Top-level keys of inputs and of outputs, and the longest timeout: the CRDs' bounds, so a
#: body this side accepts is one the API server accepts too.
MAX_OBJECT_KEYS: Final = 256
MAX_TIMEOUT_SECONDS: Final = 2592000
MAX_TIME_CHARS: Final = 64
#: Largest integer every JSON implementation represents exactly (2^53 - 1).
MAX_VERSION: Final = 9007199254740991
MAX_ERROR_REASON_CHARS: Final = 64

MessageKind = Literal["start", "cancel", "status", "mirror"]
Role = Literal["Controlling", "Controlled"]
MESSAGE_KINDS: Final = ("start", "cancel", "status", "mirror")
ROLES: Final = ("Controlling", "Controlled")
PHASES: Final = ("Pending", "Running", "Succeeded", "Failed", "Cancelled")
#: Which role may send which message kind; acks go the other way (docs/protocol.md §3).
SENT_BY: Final[Mapping[str, str]] = {
    "start": "Controlling",
    "cancel": "Controlling",
    "mirror": "Controlling",
    "status": "Controlled",
}


@dataclass(frozen=True)
class Sender:
    config: str  # the sender's SyncConfig name
    role: Role
    workspace: str  # the sender's namespace, informational
    key_id: str  # must equal the signature's keyid


@dataclass(frozen=True)
class Start:
    """Controlling -> controlled: run this script."""

    origin_uid: str
    origin_name: str
    script: str
    inputs: dict[str, Any]
    version: int
    flow: str | None = None
    started_by: str | None = None
    timeout_seconds: int | None = None


@dataclass(frozen=True)
class Cancel:
    """Controlling -> controlled: cancel the execution started from ``origin_uid``."""

    origin_uid: str
    version: int


@dataclass(frozen=True)
class Status:
    """Controlled -> controlling: the state of the execution started from ``origin_uid``."""

    origin_uid: str
    version: int
    phase: str
    remote_name: str
    reason: str | None = None
    message: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    log_tail: tuple[str, ...] = ()
    start_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True)
class Mirror:
    """Controlling -> controlled (sendAllExecutions): a read-only copy of an execution."""

    origin_uid: str
    origin_name: str
    version: int
    phase: str
    flow: str | None = None
    script: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    message: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    start_time: str | None = None
    end_time: str | None = None


Payload = Start | Cancel | Status | Mirror


@dataclass(frozen=True)
class Message:
    id: str  # "<kind>:<originUid>:<version>": deterministic, so duplicates are recognisable
    kind: MessageKind
    payload: Payload


@dataclass(frozen=True)
class Ack:
    kind: MessageKind
    origin_uid: str
    version: int


@dataclass(frozen=True)
class Envelope:
    """One side of one exchange: a request body or a response body."""

    sender: Sender
    messages: tuple[Message, ...] = ()
    acks: tuple[Ack, ...] = ()
    #: Request only: how long (seconds) the listener may hold the answer when it has nothing
    #: to send. 0 = answer at once. Capped by MAX_HOLD_SECONDS.
    hold: float = 0.0
    protocol: int = PROTOCOL_VERSION


def message_id(kind: MessageKind, origin_uid: str, version: int) -> str:
    return f"{kind}:{origin_uid}:{version}"


def make_message(payload: Payload) -> Message:
    kind: MessageKind
    if isinstance(payload, Start):
        kind = "start"
    elif isinstance(payload, Cancel):
        kind = "cancel"
    elif isinstance(payload, Status):
        kind = "status"
    else:
        kind = "mirror"
    return Message(id=message_id(kind, payload.origin_uid, payload.version), kind=kind, payload=payload)


# --- encoding -------------------------------------------------------------------------------

_KIND_OF: Final[Mapping[type, MessageKind]] = {
    Start: "start",
    Cancel: "cancel",
    Status: "status",
    Mirror: "mirror",
}
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


def _payload_json(payload: Payload) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(payload):
        value = getattr(payload, f.name)
        if value is None:
            continue  # optional fields are omitted rather than sent as null
        out[_wire(f.name)] = list(value) if isinstance(value, tuple) else value
    return out


def to_json(envelope: Envelope) -> dict[str, Any]:
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


def encode(envelope: Envelope) -> bytes:
    """Compact UTF-8 JSON of ``envelope`` (the request or response body)."""
    return _dumps(to_json(envelope))


def encode_error(status: int, reason: str, message: str) -> bytes:
    """The error body of a refusal (docs/protocol.md §5); ``message`` is cut to MAX_TEXT_CHARS."""
    if not 400 <= status <= 599:
        raise ValueError(f"an error body needs a 4xx/5xx status, got {status}")
    if not _ERROR_REASON.fullmatch(reason):
        raise ValueError(f"error reason must be a lower-case word, got {reason!r}")
    body = {
        "status": status,
        "reason": reason,
        "message": message[:MAX_TEXT_CHARS],
        "protocol": PROTOCOL_VERSION,
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


def _fail(path: str, problem: str) -> NoReturn:
    raise errors.MessageError(problem, field=path)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # A repeated key means two parsers may read two different bodies: refuse it.
            _fail("body", f"an object repeats the key {key[:64]!r}")
        out[key] = value
    return out


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _fail("body", f"the number {text[:32]} is out of range")
    return value


def _no_constant(text: str) -> NoReturn:
    _fail("body", f"{text} is not valid JSON")


def _parse_json(raw: bytes, *, max_bytes: int) -> Any:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"decode() takes bytes, not {type(raw).__name__}")
    if len(raw) > max_bytes:
        _fail("body", f"{len(raw)} bytes is larger than the limit of {max_bytes} bytes")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.MessageError(f"not valid UTF-8 (at byte {exc.start})", field="body") from exc
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise errors.MessageError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", field="body"
        ) from exc
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise errors.MessageError(f"not valid JSON: {str(exc)[:200]}", field="body") from exc
    except RecursionError as exc:
        raise errors.MessageError("nested too deeply", field="body") from exc


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(path, f"must be an object, got {_type_name(value)}")
    return value


def _check_keys(
    obj: Mapping[str, Any], path: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    for key in required:
        if key not in obj:
            _fail(_join(path, key), "missing")
    allowed = set(required) | set(optional)
    for key in obj:
        if key not in allowed:
            _fail(_join(path, key[:64]), "unknown field")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _utf8_len(value: str, path: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        _fail(path, "contains an unpaired surrogate, not valid Unicode text")


def _string(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    max_chars: int | None = None,
    max_bytes: int | None = None,
    pattern: re.Pattern[str] | None = None,
    what: str = "",
    min_chars: int = 0,
) -> str:
    return _string_value(
        obj[key],
        _join(path, key),
        max_chars=max_chars,
        max_bytes=max_bytes,
        pattern=pattern,
        what=what,
        min_chars=min_chars,
    )


def _string_value(
    value: Any,
    where: str,
    *,
    max_chars: int | None = None,
    max_bytes: int | None = None,
    pattern: re.Pattern[str] | None = None,
    what: str = "",
    min_chars: int = 0,
) -> str:
    if not isinstance(value, str):
        _fail(where, f"must be a string, got {_type_name(value)}")
    if max_chars is not None and len(value) > max_chars:
        _fail(where, f"longer than {max_chars} characters")
    size = _utf8_len(value, where)
    if max_bytes is not None and size > max_bytes:
        _fail(where, f"longer than {max_bytes} bytes")
    if len(value) < min_chars:
        _fail(where, "must not be empty")
    if pattern is not None and not pattern.fullmatch(value):
        _fail(where, f"must be {what}")
    return value


def _optional(
    obj: Mapping[str, Any], key: str, path: str, read: Callable[[Mapping[str, Any], str, str], Any]
) -> Any:
    if obj.get(key) is None:
        return None
    return read(obj, key, path)


def _name(obj: Mapping[str, Any], key: str, path: str) -> str:
    return _string(
        obj,
        key,
        path,
        max_chars=MAX_NAME_CHARS,
        pattern=_NAME,
        what="a Kubernetes name (lower-case letters, digits, '-' and '.', alphanumeric at both ends)",
    )


def _uid(obj: Mapping[str, Any], key: str, path: str) -> str:
    return _string(
        obj,
        key,
        path,
        max_chars=MAX_UID_CHARS,
        pattern=_UID,
        what="a uid (letters, digits, '-', '_' and '.', alphanumeric at both ends)",
    )


def _time(obj: Mapping[str, Any], key: str, path: str) -> str:
    return _string(
        obj, key, path, max_chars=MAX_TIME_CHARS, pattern=_TIME, what="an RFC 3339 time with a zone"
    )


def _reason(obj: Mapping[str, Any], key: str, path: str) -> str:
    return _string(obj, key, path, max_chars=MAX_REASON_CHARS, min_chars=1)


def _text(obj: Mapping[str, Any], key: str, path: str) -> str:
    return _string(obj, key, path, max_chars=MAX_TEXT_CHARS)


def _script(obj: Mapping[str, Any], key: str, path: str) -> str:
    return _string(obj, key, path, max_bytes=MAX_SCRIPT_BYTES)


def _integer(
    obj: Mapping[str, Any], key: str, path: str, *, minimum: int = 1, maximum: int = MAX_VERSION
) -> int:
    where = _join(path, key)
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(where, f"must be an integer, got {_type_name(value)}")
    if not minimum <= value <= maximum:
        _fail(where, f"must be between {minimum} and {maximum}")
    return value


def _version(obj: Mapping[str, Any], key: str, path: str) -> int:
    return _integer(obj, key, path)


def _json_object(obj: Mapping[str, Any], key: str, path: str, *, max_bytes: int) -> dict[str, Any]:
    where = _join(path, key)
    value = _object(obj[key], where)
    if len(value) > MAX_OBJECT_KEYS:
        _fail(where, f"more than {MAX_OBJECT_KEYS} keys")
    try:
        size = len(
            json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        )
    except UnicodeEncodeError:
        _fail(where, "contains an unpaired surrogate, not valid Unicode text")
    except RecursionError:
        _fail(where, "nested too deeply")
    if size > max_bytes:
        _fail(where, f"longer than {max_bytes} bytes as JSON")
    return value


def _object_or_empty(obj: Mapping[str, Any], key: str, path: str, *, max_bytes: int) -> dict[str, Any]:
    if obj.get(key) is None:
        return {}
    return _json_object(obj, key, path, max_bytes=max_bytes)


def _log_tail(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    where = _join(path, key)
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        _fail(where, f"must be an array, got {_type_name(value)}")
    if len(value) > MAX_LOG_LINES:
        _fail(where, f"more than {MAX_LOG_LINES} lines")
    return tuple(
        _string_value(line, f"{where}[{i}]", max_chars=MAX_LOG_LINE_CHARS) for i, line in enumerate(value)
    )


def _phase(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj[key]
    if value not in PHASES:
        _fail(_join(path, key), f"must be one of {', '.join(PHASES)}")
    return str(value)


def _start(p: Mapping[str, Any], path: str) -> Start:
    _check_keys(
        p,
        path,
        required=("originUid", "originName", "script", "inputs", "version"),
        optional=("flow", "startedBy", "timeoutSeconds"),
    )
    timeout = _optional(
        p, "timeoutSeconds", path, lambda o, k, w: _integer(o, k, w, maximum=MAX_TIMEOUT_SECONDS)
    )
    return Start(
        origin_uid=_uid(p, "originUid", path),
        origin_name=_name(p, "originName", path),
        script=_script(p, "script", path),
        inputs=_json_object(p, "inputs", path, max_bytes=MAX_INPUTS_BYTES),
        version=_version(p, "version", path),
        flow=_optional(p, "flow", path, _name),
        started_by=_optional(
            p, "startedBy", path, lambda o, k, w: _string(o, k, w, max_chars=MAX_NAME_CHARS)
        ),
        timeout_seconds=timeout,
    )


def _cancel(p: Mapping[str, Any], path: str) -> Cancel:
    _check_keys(p, path, required=("originUid", "version"))
    return Cancel(origin_uid=_uid(p, "originUid", path), version=_version(p, "version", path))


def _status(p: Mapping[str, Any], path: str) -> Status:
    _check_keys(
        p,
        path,
        required=("originUid", "version", "phase", "remoteName"),
        optional=("reason", "message", "outputs", "logTail", "startTime", "endTime"),
    )
    return Status(
        origin_uid=_uid(p, "originUid", path),
        version=_version(p, "version", path),
        phase=_phase(p, "phase", path),
        remote_name=_name(p, "remoteName", path),
        reason=_optional(p, "reason", path, _reason),
        message=_optional(p, "message", path, _text),
        outputs=_object_or_empty(p, "outputs", path, max_bytes=MAX_OUTPUTS_BYTES),
        log_tail=_log_tail(p, "logTail", path),
        start_time=_optional(p, "startTime", path, _time),
        end_time=_optional(p, "endTime", path, _time),
    )


def _mirror(p: Mapping[str, Any], path: str) -> Mirror:
    _check_keys(
        p,
        path,
        required=("originUid", "originName", "version", "phase"),
        optional=("flow", "script", "inputs", "reason", "message", "outputs", "startTime", "endTime"),
    )
    return Mirror(
        origin_uid=_uid(p, "originUid", path),
        origin_name=_name(p, "originName", path),
        version=_version(p, "version", path),
        phase=_phase(p, "phase", path),
        flow=_optional(p, "flow", path, _name),
        script=_optional(p, "script", path, _script),
        inputs=_object_or_empty(p, "inputs", path, max_bytes=MAX_INPUTS_BYTES),
        reason=_optional(p, "reason", path, _reason),
        message=_optional(p, "message", path, _text),
        outputs=_object_or_empty(p, "outputs", path, max_bytes=MAX_OUTPUTS_BYTES),
        start_time=_optional(p, "startTime", path, _time),
        end_time=_optional(p, "endTime", path, _time),
    )


_PAYLOAD_READERS: Final[Mapping[str, Callable[[Mapping[str, Any], str], Payload]]] = {
    "start": _start,
    "cancel": _cancel,
    "status": _status,
    "mirror": _mirror,
}


def _kind(obj: Mapping[str, Any], key: str, path: str) -> MessageKind:
    value = obj[key]
    if value not in MESSAGE_KINDS:
        shown = value[:32] if isinstance(value, str) else _type_name(value)
        _fail(_join(path, key), f"unknown message kind {shown!r}; known: {', '.join(MESSAGE_KINDS)}")
    kind: MessageKind = value
    return kind


def _message(value: Any, path: str, *, sender_role: str) -> Message:
    obj = _object(value, path)
    _check_keys(obj, path, required=("id", "kind", "payload"))
    kind = _kind(obj, "kind", path)
    if SENT_BY[kind] != sender_role:
        _fail(_join(path, "kind"), f"a {sender_role} side does not send {kind} messages")
    received_id = _string(obj, "id", path, max_chars=160)
    payload_path = _join(path, "payload")
    payload = _PAYLOAD_READERS[kind](_object(obj["payload"], payload_path), payload_path)
    expected = message_id(kind, payload.origin_uid, payload.version)
    if received_id != expected:
        _fail(_join(path, "id"), f"must be {expected!r} (<kind>:<originUid>:<version> of the payload)")
    return Message(id=received_id, kind=kind, payload=payload)


def _ack(value: Any, path: str, *, sender_role: str) -> Ack:
    obj = _object(value, path)
    _check_keys(obj, path, required=("kind", "originUid", "version"))
    kind = _kind(obj, "kind", path)
    if SENT_BY[kind] == sender_role:
        _fail(_join(path, "kind"), f"a {sender_role} side does not acknowledge {kind} messages")
    return Ack(kind=kind, origin_uid=_uid(obj, "originUid", path), version=_version(obj, "version", path))


def _array(obj: Mapping[str, Any], key: str, *, max_items: int) -> list[Any]:
    value = obj[key]
    if not isinstance(value, list):
        _fail(key, f"must be an array, got {_type_name(value)}")
    if len(value) > max_items:
        _fail(key, f"more than {max_items} items ({len(value)})")
    return value


def _protocol(obj: Mapping[str, Any]) -> int:
    if "protocol" not in obj:
        _fail("protocol", "missing")
    value = obj["protocol"]
    if not isinstance(value, int) or isinstance(value, bool):
        _fail("protocol", f"must be an integer, got {_type_name(value)}")
    if value != PROTOCOL_VERSION:
        if abs(value) >= 10**12:  # keep the refusal short; nobody speaks version 10^12
            _fail(
                "protocol",
                f"unknown protocol version; this workspace speaks protocol version {PROTOCOL_VERSION}",
            )
        raise errors.UnsupportedProtocol(received=value, supported=PROTOCOL_VERSION)
    return value


def _hold(obj: Mapping[str, Any]) -> float:
    value = obj["hold"]
    if not isinstance(value, int | float) or isinstance(value, bool):
        _fail("hold", f"must be a number, got {_type_name(value)}")
    if not 0 <= value < MAX_HOLD_SECONDS:
        _fail("hold", f"must be at least 0 and below {MAX_HOLD_SECONDS} seconds")
    return float(value)


def _sender(value: Any) -> Sender:
    obj = _object(value, "sender")
    _check_keys(obj, "sender", required=("config", "role", "workspace", "keyId"))
    role = obj["role"]
    if role not in ROLES:
        _fail("sender.role", f"must be one of {', '.join(ROLES)}")
    return Sender(
        config=_name(obj, "config", "sender"),
        role=role,
        workspace=_name(obj, "workspace", "sender"),
        key_id=_string(obj, "keyId", "sender", pattern=_KEY_ID, what="'sha256:' and 43 base64url characters"),
    )


def decode(raw: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> Envelope:
    """Parse an untrusted request or response body.

    Raises ``errors.MessageError`` naming the field for anything malformed or out of bounds,
    ``errors.UnsupportedProtocol`` for another protocol version. Nothing else escapes for
    any input bytes (a property test holds it to that).
    """
    doc = _object(_parse_json(raw, max_bytes=max_bytes), "body")
    # The version first: a body of another version may differ in every other field.
    protocol = _protocol(doc)
    _check_keys(doc, "", required=("sender", "hold", "messages", "acks"), optional=("protocol",))
    sender = _sender(doc["sender"])
    hold = _hold(doc)
    raw_messages = _array(doc, "messages", max_items=MAX_MESSAGES)
    raw_acks = _array(doc, "acks", max_items=MAX_ACKS)
    messages = tuple(
        _message(item, f"messages[{i}]", sender_role=sender.role) for i, item in enumerate(raw_messages)
    )
    acks = tuple(_ack(item, f"acks[{i}]", sender_role=sender.role) for i, item in enumerate(raw_acks))
    return Envelope(sender=sender, messages=messages, acks=acks, hold=hold, protocol=protocol)


def decode_error(raw: bytes, *, max_bytes: int = 64 * 1024) -> tuple[int, str, str]:
    """Parse an untrusted error body into ``(status, reason, message)``; MessageError otherwise."""
    doc = _object(_parse_json(raw, max_bytes=max_bytes), "body")
    _check_keys(doc, "", required=("error",))
    err = _object(doc["error"], "error")
    _check_keys(err, "error", required=("status", "reason", "message", "protocol"))
    status = _integer(err, "status", "error", minimum=400, maximum=599)
    reason = _string(
        err,
        "reason",
        "error",
        max_chars=MAX_ERROR_REASON_CHARS,
        pattern=_ERROR_REASON,
        what="a lower-case word",
    )
    message = _string(err, "message", "error", max_chars=MAX_TEXT_CHARS)
    _integer(err, "protocol", "error", maximum=MAX_VERSION)
    return status, reason, message
