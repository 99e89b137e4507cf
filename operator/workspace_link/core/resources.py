"""Kinds, their plurals, and small accessors for raw resource bodies.

Bodies are plain Kubernetes-shaped dicts (``apiVersion``, ``kind``, ``metadata``, ``spec``,
``status``) in both modes, so the core never cares whether a store is the API server or memory.
The parts of an Execution's status that a link reads and writes (``link``, ``origin``,
``mirrors``; docs/architecture.md, "Execution") have typed shapes and one accessor each.
"""

from __future__ import annotations

import datetime
from typing import Any, Final, Literal, TypedDict, cast

from workspace_link.core import labels as label_keys

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

# Execution phases (``execution_state.ENGINE_STATUS`` maps them to the Engine's statuses).
PENDING: Final = "Pending"
RUNNING: Final = "Running"
SUCCEEDED: Final = "Succeeded"
FAILED: Final = "Failed"
CANCELLED: Final = "Cancelled"
PHASES: Final = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, CANCELLED})

#: A side's role on a link (docs/protocol.md §1): the one home of these names.
ROLE_CONTROLLING: Final = "Controlling"
ROLE_CONTROLLED: Final = "Controlled"
ROLES: Final = (ROLE_CONTROLLING, ROLE_CONTROLLED)


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
    """The phase of an Execution body (Pending until its status says otherwise)."""
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


# -- the status parts a link keeps on an Execution ------------------------------------------


class LinkStatus(TypedDict, total=False):
    """``status.link`` of an execution sent over a link (docs/architecture.md, "Execution")."""

    name: str  # the SyncConfig it is sent over
    remoteName: str  # its name on the peer
    localVersion: int  # 1 = start, 2 = start + cancel
    acknowledgedVersion: int  # the highest localVersion the peer acknowledged
    remoteVersion: int  # the highest peer status version applied here
    lastSync: str


class Origin(TypedDict, total=False):
    """``status.origin`` of an execution that arrived over a link (or a mirror)."""

    link: str
    uid: str  # the peer's
    name: str  # the peer's
    workspace: str
    startedBy: str
    acknowledgedVersion: int  # the highest status.version the peer acknowledged


def link_status(body: Body) -> LinkStatus:
    """A copy of ``status.link``; {} when the execution is not sent over a link.

    An execution to send (``spec.remoteWorkspace``) that has none yet is in the state before its
    start was sent: nothing is written before the start goes out, so dispatch waits for no
    write, and the first acknowledgement writes the whole of it.
    """
    held = status(body).get("link")
    if held:
        return cast(LinkStatus, dict(held))
    wanted = spec(body)
    link = wanted.get("remoteWorkspace")
    if isinstance(link, str) and link and not wanted.get("mirror"):
        return LinkStatus(name=link, localVersion=1, acknowledgedVersion=0, remoteVersion=0)
    return LinkStatus()


def origin(body: Body) -> Origin:
    """A copy of ``status.origin`` ({} when the execution did not arrive over a link)."""
    return cast(Origin, dict(status(body).get("origin") or {}))


def mirrors(body: Body) -> dict[str, int]:
    """A copy of ``status.mirrors``: link name -> the status.version the peer acknowledged."""
    return dict(status(body).get("mirrors") or {})


def owner_reference(owner: Body, *, controller: bool, block_owner_deletion: bool) -> dict[str, Any]:
    """The ``ownerReferences`` entry that makes the Execution ``owner`` own another object.

    Deleting the owner then deletes the dependent (the API server's garbage collector; the
    memstore does the same). ``block_owner_deletion`` makes a foreground deletion of the owner
    wait for the dependent; the OwnerReferencesPermissionEnforcement admission plugin allows
    setting it only to who may update the owner's finalizers, which the operator's Role grants
    (executions/finalizers update). Raises ``ValueError`` without a ``metadata.uid``.
    """
    owner_uid = uid(owner)
    if not owner_uid:
        raise ValueError("an Execution without metadata.uid cannot own anything")
    return {
        "apiVersion": label_keys.API_VERSION,
        "kind": EXECUTION,
        "name": name(owner),
        "uid": owner_uid,
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (what bodies are), several times faster than
    ``copy.deepcopy``: every store read returns one, as the API server returns a fresh object."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def copy_body(body: Body) -> Body:
    """``copy_json`` of a whole body."""
    return {key: copy_json(item) for key, item in body.items()}
