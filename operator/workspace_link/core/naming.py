"""Stable, collision-resistant names for objects the operator creates.

A received execution is named from the link and the origin uid, so a retried start finds its
own earlier object instead of creating a second one (delivery is at-least-once,
docs/protocol.md §4). Names stay short enough that a Job's pods (``<job>-<5 chars>``) keep
under 63 characters.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re

_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


# Pure, and asked for the same names again and again (every ack and status of a link names its
# execution): a hit costs a dict lookup where a miss costs a SHA-256 and a base32.
@functools.lru_cache(maxsize=4096)
def _digest(*parts: str, length: int = 16) -> str:
    raw = hashlib.sha256("\x00".join(parts).encode()).digest()
    return base64.b32encode(raw).decode().lower().rstrip("=")[:length]


def received_execution_name(link: str, origin_uid: str) -> str:
    """Name of the Execution a controlled side creates for a start (or mirror) from ``link``."""
    return f"wl-{_digest(link, origin_uid)}"


def mirror_execution_name(link: str, origin_uid: str) -> str:
    return f"wl-m-{_digest(link, origin_uid)}"


def child_execution_name(parent_name: str, parent_uid: str, call_id: str) -> str:
    """Name of a child started by a flow; ``call_id`` makes a retried request idempotent."""
    stem = _DNS_LABEL.sub("-", parent_name.lower())[:30].strip("-") or "x"
    return f"{stem}-{_digest(parent_uid, call_id, length=8)}"


def runner_secret_name(execution_name: str) -> str:
    return f"wl-run-{_digest(execution_name, length=12)}"


def job_name(execution_name: str) -> str:
    """Job name for an execution: the execution name when it fits, a hash otherwise."""
    if len(execution_name) <= 52:
        return execution_name
    return f"wl-job-{_digest(execution_name)}"


_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def setting_object_name(name: str) -> str:
    """The Setting object holding the setting a flow calls ``name``.

    Engine flows name settings freely (``notification_emails``); a Kubernetes name is a DNS
    subdomain. A name that already is one is used as it is (so ``kubectl get setting counter``
    finds it); any other becomes a readable slug plus a digest of the exact name, so two names
    that slug alike (``a_b``, ``a-b``) never share an object.
    """
    if _SUBDOMAIN.match(name):
        return name
    slug = _DNS_LABEL.sub("-", name.lower()).strip("-")[:200].strip("-") or "setting"
    return f"{slug}-{_digest('setting', name, length=10)}"
