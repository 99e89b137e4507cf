"""What one side of a link still has to send, derived from the resources alone.

Each Execution's status records what the peer has acknowledged (``link.acknowledgedVersion``,
``origin.acknowledgedVersion``, ``mirrors[<link>]``), so the outbox is a pure function of the
current objects: a restarted operator computes the same outbox and, at worst, sends a message
again, which the peer recognises as a duplicate (same id) and acknowledges without applying.
The one thing held in memory (docs/protocol.md §4): the controlled side's acks of statuses
whose execution has not ended (``held``), which a restart would only cost one resend each.

Controlling side, per execution sent over this link (``status.link.name == link``):
``localVersion`` 1 = start, 2 = start + cancel; anything above ``acknowledgedVersion`` goes out.
A cancel whose start was never acknowledged goes out together with the start, so the peer
ends up with a cancelled execution even if only one of the two arrived before (a start arriving
after a lone cancel would otherwise run). With ``sendAllExecutions``, every local execution that
is not itself a mirror, did not arrive over a link, and is not sent over this link is mirrored
whenever its ``status.version`` is above ``mirrors[<link>]``.

Controlled side: every execution that arrived over this link (``status.origin.link == link``,
not a mirror) reports its status while ``status.version`` is above both
``origin.acknowledgedVersion`` and the ack held for its origin uid.

Oldest first (creation time, then name), bounded by a message count and an encoded size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Final

from workspace_link.core import bounds, labels, protocol, resources

#: The share of the body limit the messages may take; the rest is envelope, acks and slack.
DEFAULT_MAX_BYTES: Final = bounds.MAX_BODY_BYTES // 2


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _age_key(body: resources.Body) -> tuple[str, str]:
    return (str(body["metadata"].get("creationTimestamp") or ""), resources.name(body))


def _text(value: Any, limit: int = bounds.MAX_TEXT_CHARS) -> str | None:
    """An optional text field cut to the protocol's bound (the peer refuses longer ones)."""
    return str(value)[:limit] if value else None


def _reason(value: Any) -> str | None:
    return _text(value, bounds.MAX_REASON_CHARS)


def _log_tail(value: Any) -> tuple[str, ...]:
    lines = [str(line)[: bounds.MAX_LOG_LINE_CHARS] for line in value or ()]
    return tuple(lines[-bounds.MAX_LOG_LINES :])


def _start(body: resources.Body, flows: Mapping[str, str]) -> protocol.Start | None:
    spec = resources.spec(body)
    flow = spec.get("flow")
    script = spec.get("script")
    if script is None and isinstance(flow, str):
        script = flows.get(flow)
    if not isinstance(script, str):
        # The Flow is gone (or never existed): nothing to send. executions reports that on the
        # execution itself; the link must not invent a script.
        return None
    timeout = spec.get("timeoutSeconds")
    parent = spec.get("parent")
    return protocol.Start(
        origin_uid=resources.uid(body),
        origin_name=resources.name(body),
        script=script,
        inputs=dict(spec.get("inputs") or {}),
        version=1,
        flow=flow if isinstance(flow, str) else None,
        started_by=_text(f"execution/{parent}", bounds.MAX_NAME_CHARS)
        if isinstance(parent, str) and parent
        else None,
        timeout_seconds=timeout if isinstance(timeout, int) and not isinstance(timeout, bool) else None,
    )


def _mirror(body: resources.Body, version: int) -> protocol.Mirror:
    spec = resources.spec(body)
    status = resources.status(body)
    flow = spec.get("flow")
    script = spec.get("script")
    return protocol.Mirror(
        origin_uid=resources.uid(body),
        origin_name=resources.name(body),
        version=version,
        phase=resources.phase(body),
        flow=flow if isinstance(flow, str) else None,
        # A Flow's script stays private to its owner; only an inline one is copied.
        script=script if isinstance(script, str) else None,
        inputs=dict(spec.get("inputs") or {}),
        reason=_reason(status.get("reason")),
        message=_text(status.get("message")),
        outputs=dict(status.get("outputs") or {}),
        start_time=_text(status.get("startTime")),
        end_time=_text(status.get("endTime")),
    )


def _status(body: resources.Body, origin_uid: str, version: int) -> protocol.Status:
    status = resources.status(body)
    return protocol.Status(
        origin_uid=origin_uid,
        version=version,
        phase=resources.phase(body),
        remote_name=resources.name(body),
        reason=_reason(status.get("reason")),
        message=_text(status.get("message")),
        outputs=dict(status.get("outputs") or {}),
        log_tail=_log_tail(status.get("logTail")),
        start_time=_text(status.get("startTime")),
        end_time=_text(status.get("endTime")),
    )


def _controlling(
    body: resources.Body, *, link: str, send_all: bool, flows: Mapping[str, str]
) -> list[protocol.Payload]:
    status = resources.status(body)
    sent = resources.link_status(body)
    if sent.get("name") == link:
        local = _int(sent.get("localVersion"))
        acked = _int(sent.get("acknowledgedVersion"))
        out: list[protocol.Payload] = []
        if local >= 1 and acked < 1:
            start = _start(body, flows)
            if start is not None:
                out.append(start)
        if local >= 2 and acked < 2:
            out.append(protocol.Cancel(origin_uid=resources.uid(body), version=2))
        return out
    if send_all and mirror_owed(body, link):
        return [_mirror(body, _int(status.get("version")))]
    return []


def _controlled(body: resources.Body, *, link: str, held: Mapping[str, int]) -> list[protocol.Payload]:
    if resources.spec(body).get("mirror"):
        return []
    status = resources.status(body)
    origin = resources.origin(body)
    if origin.get("link") != link or not origin.get("uid"):
        return []
    uid = str(origin["uid"])
    version = _int(status.get("version"))
    if version > max(_int(origin.get("acknowledgedVersion")), held.get(uid, 0)):
        return [_status(body, uid, version)]
    return []


def _size(payload: protocol.Payload) -> int:
    # The payload as the wire writes it, give or take camelCase names and the message frame.
    return bounds.json_size(asdict(payload)) + 64


def mirror_owed(body: resources.Body, link: str) -> bool:
    """True when ``body`` is one of this workspace's own executions (not sent over ``link``, not
    received, not a mirror) whose status ``link`` has not mirrored yet (``sendAllExecutions``)."""
    spec = resources.spec(body)
    if resources.link_status(body).get("name") == link or spec.get("mirror") or resources.origin(body):
        return False
    if resources.labels(body).get(labels.ORIGIN_LINK):
        return False  # arrived over a link but its status is not written yet: not ours to mirror
    return _int(resources.status(body).get("version")) > _int(resources.mirrors(body).get(link))


def settled(body: resources.Body) -> bool:
    """True when no link has anything left to send about ``body``, a mirror of it apart: it is a
    mirror itself, or it has ended and its start, its cancel and its final status were all
    acknowledged. The outbox of a link skips these (``read_outbox`` reads the executions of its
    link before every exchange, and thousands of them have ended). Mirrors are not covered:
    ``mirror_owed`` says which a ``sendAllExecutions`` link still has to mirror."""
    if resources.spec(body).get("mirror"):
        return True
    if not resources.is_terminal(body):
        return False
    sent = resources.link_status(body)
    if sent.get("name") and _int(sent.get("localVersion")) > _int(sent.get("acknowledgedVersion")):
        return False
    origin = resources.origin(body)
    version = _int(resources.status(body).get("version"))
    return not (origin.get("uid") and version > _int(origin.get("acknowledgedVersion")))


def select(
    *,
    link: str,
    role: str,
    send_all: bool,
    executions: list[resources.Body],
    flows: Mapping[str, str],
    limit: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
    held: Mapping[str, int] | None = None,
) -> list[protocol.Message]:
    """Select from ``executions`` the messages this side of ``link`` still has to send, oldest first.

    ``role`` is this side's effective role; ``flows`` maps local Flow names to their scripts
    (only the controlling side needs it); ``held``: the peer's acks of live statuses held in
    memory, by origin uid (only the controlled side has any). At most ``limit`` messages and
    about ``max_bytes`` of payload; at least one message when anything is pending, so one huge
    message still moves.
    """
    held = held or {}
    out: list[protocol.Message] = []
    used = 0
    for body in sorted(executions, key=_age_key):
        if role == resources.ROLE_CONTROLLING:
            payloads = _controlling(body, link=link, send_all=send_all, flows=flows)
        else:
            payloads = _controlled(body, link=link, held=held)
        for payload in payloads:
            size = _size(payload)
            if len(out) >= limit or (out and used + size > max_bytes):
                return out
            used += size
            out.append(protocol.make_message(payload))
    return out
