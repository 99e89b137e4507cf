"""The Kubernetes API server as a ``store.Store``: the operator's adapter, and its RBAC needs.

Why it exists: the core is written against ``store.Store``; this module gives it the API server
with the same promises ``memstore.MemStore`` keeps (see ``store``), and translates every
API server error into ``errors`` at this one boundary.

Constraints it keeps:

- Requests go through ``apiserver.ApiSession`` (aiohttp, kopf's credentials; no thread, no
  generated models), raw JSON in and out. They are the requests the official clients send:
  ``replace_status`` is a PUT of ``.../status``, a patch is a JSON merge patch
  (``application/merge-patch+json``), a list pages with ``limit`` and ``continue``.
- Conditional writes are enforced by the server: ``replace_status`` sends the body's
  ``metadata.resourceVersion``; ``patch(resource_version=...)`` puts it into the patch body,
  which the API server treats as a precondition (409 Conflict when stale).
- ``list`` sends a real label selector and filters the answer again by the same labels, so it
  stays correct on emulators that ignore selectors.
- ``REQUIRED_PERMISSIONS`` lists every verb this adapter, ``job_executor`` and the kopf
  handlers use; the chart's Role is tested against it.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final, Literal

import aiohttp

from workspace_link.adapters.kube import apiserver
from workspace_link.core import errors, labels, resources

logger = logging.getLogger(__name__)

JOB: Final = "Job"
POD: Final = "Pod"
EVENT: Final = "Event"

#: kind -> (apiVersion, plural) for everything this adapter talks to: the project's kinds
#: (``resources.API``) plus what the Job executor and event posting need.
API: Final[dict[str, tuple[str, str]]] = {
    **resources.API,
    JOB: ("batch/v1", "jobs"),
    POD: ("v1", "pods"),
    EVENT: ("v1", "events"),
}

#: Kinds without a status subresource that we write (``replace_status`` refuses them).
_NO_STATUS: Final = frozenset({resources.SECRET, resources.CONFIG_MAP, POD, EVENT})

#: Page size of list requests: bounded memory per response on big namespaces.
LIST_PAGE: Final = 500

#: (apiGroup, resource, verbs) the operator needs in its namespace. Who uses what:
#: - syncconfigs: kopf watches them (list, watch), patches its annotations and the daemon's
#:   finalizer (patch); the link reads them (get).
#: - syncconfigs/status, executions/status: ``replace_status`` (update); kopf may patch its own
#:   progress out of status (patch); get for completeness of a status client.
#: - flows: read by the core (get, list), watched for nothing but cheap to allow (watch).
#: - executions: the core creates children and received executions, patches spec.cancel and
#:   metadata, deletes mirrors; kopf watches, patches annotations and its finalizer.
#: - executions/finalizers (update): a Job's ownerReference sets ``blockOwnerDeletion`` (a
#:   runner Secret's and a child's do not), which the OwnerReferencesPermissionEnforcement admission plugin
#:   allows only to who may update the owner's finalizers.
#: - jobs: the Job executor creates, reads (ownership check on AlreadyExists) and deletes; kopf
#:   lists and watches them for outcomes.
#: - pods: kopf lists and watches runner pods (image pull, scheduling); read for Job outcomes.
#: - secrets: runner Secrets are created, read (runner API token check) and deleted; key
#:   Secrets are read (get, list).
#: - configmaps: a CA certificate may sit in a ConfigMap (get).
#: - events: ``record_event`` and kopf post core v1 Events. kopf 1.45 posts core v1 only; the
#:   events.k8s.io rule is kept as agreed with the chart and costs nothing.
REQUIRED_PERMISSIONS: Final[tuple[tuple[str, str, frozenset[str]], ...]] = (
    (labels.GROUP, "syncconfigs", frozenset({"get", "list", "watch", "patch"})),
    (labels.GROUP, "syncconfigs/status", frozenset({"get", "update", "patch"})),
    (labels.GROUP, "flows", frozenset({"get", "list", "watch"})),
    (labels.GROUP, "executions", frozenset({"get", "list", "watch", "create", "patch", "delete"})),
    (labels.GROUP, "executions/status", frozenset({"get", "update", "patch"})),
    (labels.GROUP, "executions/finalizers", frozenset({"update"})),
    (labels.GROUP, "settings", frozenset({"get", "create", "patch"})),
    ("batch", "jobs", frozenset({"get", "list", "watch", "create", "delete"})),
    ("", "pods", frozenset({"get", "list", "watch"})),
    ("", "secrets", frozenset({"get", "list", "watch", "create", "patch", "delete"})),
    ("", "configmaps", frozenset({"get"})),
    ("", "events", frozenset({"create"})),
    ("events.k8s.io", "events", frozenset({"create"})),
)

_MERGE_PATCH: Final = "application/merge-patch+json"
_JSON: Final = apiserver.JSON
#: Keys a ``patch`` may touch, as in ``memstore``: status goes through ``replace_status`` only.
_PATCHABLE: Final = ("metadata", "spec", "data", "stringData")
#: Longest Event message we post (the API server refuses very long ones; kopf cuts at 1024).
_EVENT_MESSAGE_MAX: Final = 1024


def label_selector(wanted: Mapping[str, str]) -> str:
    """``{"a": "b", "c": "d"}`` -> ``"a=b,c=d"``: equality-based, as the API server parses it."""
    return ",".join(f"{key}={value}" for key, value in sorted(wanted.items()))


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _path(kind: str, namespace: str, name: str | None = None, *, subresource: str | None = None) -> str:
    try:
        api_version, plural = API[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; known: {sorted(API)}") from None
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{root}/namespaces/{urllib.parse.quote(namespace, safe='')}/{plural}"
    if name is not None:
        path += f"/{urllib.parse.quote(name, safe='')}"
    if subresource is not None:
        path += f"/{subresource}"
    return path


def _status_body(body_text: str | None) -> dict[str, Any]:
    """The API server's ``Status`` object from an error response (empty when it is not JSON)."""
    try:
        parsed = json.loads(body_text or "")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def translate_api_error(
    status: int,
    body_text: str | None,
    *,
    verb: str,
    kind: str,
    namespace: str,
    name: str | None = None,
    subresource: str | None = None,
) -> errors.WorkspaceLinkError:
    """Map an API server error response to the project's error tree (the one boundary)."""
    server = _status_body(body_text)
    message = str(server.get("message") or body_text or "no message").strip()
    reason = str(server.get("reason") or "")
    api_version, plural = API.get(kind, ("v1", kind.lower()))
    resource = plural + (f"/{subresource}" if subresource else "")
    what = f"{kind} {name!r}" if name else f"{kind} objects"
    if status == 404:
        if name is None or verb == "create":
            # Not a missing object: a missing resource type (CRDs not installed) or namespace.
            return errors.StoreRefused(
                f"cannot {verb} {what}: the API server has no {resource} ({api_version})"
                f" in namespace {namespace}: {message}"
            )
        return errors.NotFound(f"{what} not found in namespace {namespace}")
    if status == 409:
        if reason == "AlreadyExists" or verb == "create":
            return errors.AlreadyExists(f"{what} already exists in namespace {namespace}")
        return errors.Conflict(f"{what} was modified meanwhile (stale resourceVersion): {message}")
    if status == 403:
        group = _group_of(api_version)
        if "cannot " in message:  # RBAC's wording: 'User "x" cannot create resource "jobs" ...'
            return errors.StoreRefused(
                f"forbidden: the operator may not {verb} {resource}"
                f" (apiGroup {group!r}) in namespace {namespace}; grant it in the operator's Role."
                f" The API server said: {message}"
            )
        # Quota, a terminating namespace, an admission webhook: the server's words say which.
        return errors.StoreRefused(f"the API server refused to {verb} {what}: {message}")
    if status in (400, 422):
        causes = (server.get("details") or {}).get("causes") or []
        fields = [str(c.get("field")) for c in causes if isinstance(c, dict) and c.get("field")]
        detail = "; ".join(
            f"{c.get('field') or '(object)'}: {c.get('message') or c.get('reason')}"
            for c in causes
            if isinstance(c, dict)
        )
        return errors.SpecError(
            f"the API server refused to {verb} {what}: {detail or message}",
            field=fields[0] if len(fields) == 1 else None,
        )
    if status == 401:
        return errors.StoreRefused(f"the API server refused the operator's credentials: {message}")
    # 429, 5xx, 0 (TLS) and anything else: transient as far as we can tell; retry with backoff.
    return errors.StoreUnavailable(f"the API server failed to {verb} {what} (HTTP {status}): {message}")


class KubeStore:
    """One namespace of the API server. Kinds: ``resources.API`` plus Job, Pod (read/create/delete)."""

    def __init__(self, namespace: str, api: apiserver.ApiSession, *, normal_events: bool = True) -> None:
        self.namespace = namespace
        self._api = api
        #: False: ``record_event`` posts Warnings only (``settings.Settings.normal_events``).
        self.normal_events = normal_events

    # -- reads ---------------------------------------------------------------------------
    async def get(self, kind: str, name: str) -> resources.Body:
        return await self._call("GET", kind, name, verb="get")

    async def list(self, kind: str, *, labels: Mapping[str, str] | None = None) -> list[resources.Body]:
        wanted = dict(labels or {})
        query: dict[str, str] = {"limit": str(LIST_PAGE)}
        if wanted:
            query["labelSelector"] = label_selector(wanted)
        api_version, _ = API.get(kind, ("v1", ""))
        found: list[resources.Body] = []
        while True:
            page = await self._call("GET", kind, None, verb="list", query=query)
            for item in page.get("items") or []:
                # A list's items carry neither apiVersion nor kind; the core expects both.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                have = (item.get("metadata") or {}).get("labels") or {}
                if all(have.get(key) == value for key, value in wanted.items()):
                    found.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return found
            query = {**query, "continue": str(token)}

    # -- writes --------------------------------------------------------------------------
    async def create(self, kind: str, body: resources.Body) -> resources.Body:
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise errors.SpecError("is required", field="metadata.name")
        api_version, _ = API.get(kind, ("v1", ""))
        full = {**body, "apiVersion": body.get("apiVersion") or api_version, "kind": kind}
        full["metadata"] = {**body["metadata"], "namespace": self.namespace}
        return await self._call("POST", kind, None, verb="create", body=full, display_name=str(name))

    async def patch(
        self, kind: str, name: str, patch: resources.Body, *, resource_version: str | None = None
    ) -> resources.Body:
        body = {key: value for key, value in patch.items() if key in _PATCHABLE}
        if resource_version is not None:
            # In a merge patch, metadata.resourceVersion is a precondition the server checks.
            body["metadata"] = {**(body.get("metadata") or {}), "resourceVersion": resource_version}
        return await self._call("PATCH", kind, name, verb="patch", body=body, content_type=_MERGE_PATCH)

    async def replace_status(self, kind: str, body: resources.Body) -> resources.Body:
        if kind in _NO_STATUS:
            raise TypeError(f"{kind} has no status subresource")
        name = resources.name(body)
        api_version, _ = API[kind]
        full = {**body, "apiVersion": body.get("apiVersion") or api_version, "kind": kind}
        return await self._call("PUT", kind, name, verb="update", body=full, subresource="status")

    async def delete(self, kind: str, name: str, *, propagation_policy: str | None = None) -> None:
        """Delete; ``propagation_policy`` ("Foreground"/"Background") says how dependents go."""
        options: dict[str, Any] | None = None
        if propagation_policy is not None:
            options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation_policy}
        await self._call("DELETE", kind, name, verb="delete", body=options)

    async def record_event(
        self, body: resources.Body, *, type: Literal["Normal", "Warning"], reason: str, message: str
    ) -> None:
        if type == "Normal" and not self.normal_events:
            return
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or self.namespace)
        if len(message) > _EVENT_MESSAGE_MAX:
            message = message[: _EVENT_MESSAGE_MAX - 3] + "..."
        now = resources.timestamp()
        kind = str(body.get("kind") or "")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            # generateName: the server picks a unique name, so repeated events never collide.
            "metadata": {"generateName": f"{meta.get('name', 'object')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": str(body.get("apiVersion") or API.get(kind, ("v1", ""))[0]),
                "kind": kind,
                "name": str(meta.get("name", "")),
                "namespace": namespace,
                "uid": str(meta.get("uid", "")),
            },
            "type": type,
            "reason": reason,
            "message": message,
            "source": {"component": labels.MANAGED_BY_VALUE},
            "reportingComponent": labels.MANAGED_BY_VALUE,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._call("POST", EVENT, None, verb="create", body=event, namespace=namespace)
        except errors.StoreError as exc:  # events are best effort: a failed one must not fail the caller
            logger.warning("could not post event %s on %s %s: %s", reason, kind, meta.get("name"), exc)

    # -- internals -----------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        kind: str,
        name: str | None,
        *,
        verb: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = _JSON,
        subresource: str | None = None,
        namespace: str | None = None,
        display_name: str | None = None,
    ) -> resources.Body:
        namespace = namespace or self.namespace
        path = _path(kind, namespace, name, subresource=subresource)
        try:
            status, text = await self._api.request(
                method, path, query=query, body=body, content_type=content_type
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise errors.StoreUnavailable(f"the API server is unreachable ({verb} {kind}): {exc}") from exc
        if not 200 <= status <= 299:
            raise translate_api_error(
                status,
                text,
                verb=verb,
                kind=kind,
                namespace=namespace,
                name=name or display_name,
                subresource=subresource,
            )
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise errors.StoreUnavailable(
                f"the API server answered {method} {path} with something not a JSON object"
            )
        return parsed
