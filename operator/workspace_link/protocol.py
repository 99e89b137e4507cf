"""Protocol v1: the bodies two workspaces exchange (see docs/protocol.md, the normative text).

This module is pure: typed models, their JSON encoding, and the parsing of untrusted JSON into
them. Parsing errors are ``errors.MessageError`` naming the JSON field (``messages[3].payload.script``).
Wire names are camelCase; Python names are snake_case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

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

MessageKind = Literal["start", "cancel", "status", "mirror"]
Role = Literal["Controlling", "Controlled"]
MESSAGE_KINDS: Final = ("start", "cancel", "status", "mirror")


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
