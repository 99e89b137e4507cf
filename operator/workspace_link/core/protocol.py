"""Protocol v1: the messages two workspaces exchange (docs/protocol.md is the normative text).

Typed, frozen models of an exchange's body: the envelope (protocol version, sender, hold,
messages, acks), the four message kinds and the ack. Their JSON form and the parsing of
untrusted bodies into them are ``wire``; the size bounds are ``bounds``. Wire names are
camelCase; Python names are snake_case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

PROTOCOL_VERSION: Final = 1
#: The path a listener serves for one SyncConfig; the name is the *listener's* config name.
SYNC_PATH: Final = "/api/latest/sync_config/{name}/sync"
CONTENT_TYPE: Final = "application/json"

MessageKind = Literal["start", "cancel", "status", "mirror"]
Role = Literal["Controlling", "Controlled"]
MESSAGE_KINDS: Final = ("start", "cancel", "status", "mirror")
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
    #: to send. 0 = answer at once. Capped by ``bounds.MAX_HOLD_SECONDS``.
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
