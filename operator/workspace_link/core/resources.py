"""Kinds, their plurals, and small accessors for raw resource bodies.

Bodies are plain Kubernetes-shaped dicts (``apiVersion``, ``kind``, ``metadata``, ``spec``,
``status``) in both modes, so the core never cares whether a store is the API server or memory.
"""

from __future__ import annotations

import datetime
from typing import Any, Final, Literal

Body = dict[str, Any]

SYNC_CONFIG: Final = "SyncConfig"
FLOW: Final = "Flow"
EXECUTION: Final = "Execution"
SECRET: Final = "Secret"  # noqa: S105 (a kind, not a password)
CONFIG_MAP: Final = "ConfigMap"
SETTING: Final = "Setting"

Kind = Literal["SyncConfig", "Flow", "Execution", "Secret", "ConfigMap", "Setting"]

#: kind -> (apiVersion, plural)
API: Final[dict[str, tuple[str, str]]] = {
    SYNC_CONFIG: ("workspacelink.io/v1alpha1", "syncconfigs"),
    FLOW: ("workspacelink.io/v1alpha1", "flows"),
    EXECUTION: ("workspacelink.io/v1alpha1", "executions"),
    SECRET: ("v1", "secrets"),
    CONFIG_MAP: ("v1", "configmaps"),
    SETTING: ("workspacelink.io/v1alpha1", "settings"),
}

# Execution phases (DESIGN §1 maps them to the Engine's statuses).
PENDING: Final = "Pending"
RUNNING: Final = "Running"
SUCCEEDED: Final = "Succeeded"
FAILED: Final = "Failed"
CANCELLED: Final = "Cancelled"
PHASES: Final = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, CANCELLED})

ROLE_CONTROLLING: Final = "Controlling"
ROLE_CONTROLLED: Final = "Controlled"


def name(body: Body) -> str:
    return str(body["metadata"]["name"])


def uid(body: Body) -> str:
    return str(body["metadata"].get("uid", ""))


def labels(body: Body) -> dict[str, str]:
    return dict(body["metadata"].get("labels") or {})


def spec(body: Body) -> dict[str, Any]:
    return dict(body.get("spec") or {})


def status(body: Body) -> dict[str, Any]:
    return dict(body.get("status") or {})


def phase(body: Body) -> str:
    return str(status(body).get("phase") or PENDING)


def is_terminal(body: Body) -> bool:
    return phase(body) in TERMINAL


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def timestamp(when: datetime.datetime | None = None) -> str:
    """RFC 3339 in UTC with a ``Z``, as the API server writes them."""
    return (when or now()).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
