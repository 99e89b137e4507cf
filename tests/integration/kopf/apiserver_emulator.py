"""kmock's Kubernetes emulator, taught the API server behaviour our code depends on.

kmock stores objects and streams watch events, but keeps them as plain JSON: no uids, no
``resourceVersion``, no PUT, no ``generateName``. The operator's correctness rests on exactly
those (the claim of an execution is a conditional PUT of its status), so this subclass adds
them the way the API server does them — as kmock's documentation suggests for "special"
behaviour — and nothing more:

- create fills ``uid``, ``resourceVersion``, ``generation``, ``creationTimestamp`` and a name
  from ``generateName``;
- every write bumps ``resourceVersion``; a PATCH or PUT that carries
  ``metadata.resourceVersion`` is refused with 409 Conflict when it is stale;
- PUT on ``.../status`` replaces the status (and nothing else); PUT on the object replaces it
  but keeps its status, as for a CRD with a status subresource.

- a list or watch with an equality-based ``labelSelector`` (``a=b``, ``a==b``, ``a!=b``,
  ``a``, ``!a``, comma-separated: what the operator sends) returns only the objects it selects,
  as the API server does (the operator's client filters again). A set-based selector (``in``,
  ``notin``) is answered 400, so a test that would need one fails instead of passing unfiltered.

Still missing, as in kmock: garbage collection by ownerReferences, admission and schema
validation. What a list or watch asked for is also kept in ``selectors``, so a test can check
what the API server was sent.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import secrets
import uuid
from typing import Any

import aiohttp.web
import kmock
from kmock._internal import enums, rendering

_versions = itertools.count(1000)


Selector = list[tuple[str, str, str | None]]


def parse_selector(text: str) -> Selector:
    """An equality-based label selector as (key, operator, value) terms, ANDed.

    The grammar is the API server's (k8s.io/apimachinery/pkg/labels/selector.go, ``Parse``):
    ``key=value``, ``key==value``, ``key!=value``, ``key`` (exists), ``!key`` (does not). Set-based
    terms (``key in (a,b)``, ``notin``) are refused: the operator sends none."""
    terms: Selector = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            continue
        if "(" in term or " in " in f" {term} " or " notin " in f" {term} ":
            raise ValueError(f"set-based selector term {term!r} is not emulated")
        for operator in ("!=", "==", "="):
            key, found, value = term.partition(operator)
            if found:
                terms.append((key.strip(), "!=" if operator == "!=" else "=", value.strip()))
                break
        else:
            if term.startswith("!"):
                terms.append((term[1:].strip(), "!", None))
            else:
                terms.append((term, "exists", None))
    return terms


def selects(terms: Selector, labels: dict[str, str]) -> bool:
    for key, operator, value in terms:
        have = labels.get(key)
        if operator == "=" and have != value:
            return False
        if operator == "!=" and have == value:  # a missing label is "not equal", as upstream
            return False
        if operator == "exists" and have is None:
            return False
        if operator == "!" and have is not None:
            return False
    return True


def _request_selector(request: rendering.Request) -> Selector | None:
    text = request.params.get("labelSelector")
    if not text:
        return None
    try:
        return parse_selector(str(text))
    except ValueError as exc:
        raise kmock.KubernetesError(status=400, reason="BadRequest", message=str(exc)) from None


def _labels_of(raw: Any) -> dict[str, str]:
    return dict(((raw.get("metadata") or {}) if isinstance(raw, dict) else {}).get("labels") or {})


def _name_of(raw: Any) -> tuple[str, str]:
    meta = (raw.get("metadata") or {}) if isinstance(raw, dict) else {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _conflict(name: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=409,
        reason="Conflict",
        message=(
            f'Operation cannot be fulfilled on "{name}": the object has been modified;'
            " please apply your changes to the latest version and try again"
        ),
    )


_VERBS_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def rbac_verb(method: str, *, name: str | None, params: Any) -> str:
    """The RBAC verb the API server would authorise a request under."""
    if method == "GET":
        if name is not None:
            return "get"
        return "watch" if str(params.get("watch", "")).lower() in ("true", "1") else "list"
    if method == "DELETE" and name is None:
        return "deletecollection"
    return _VERBS_BY_METHOD.get(method, method.lower())


#: What the emulator serves, as the API server with the chart's CRDs would: namespaced kinds
#: with their subresources, and the cluster-scoped ones kopf only looks up in discovery
#: (scanning is disabled, so never listed).
RESOURCES = {
    "workspacelink.io/v1alpha1/executions": ("Execution", {"status"}),
    "workspacelink.io/v1alpha1/flows": ("Flow", set()),
    "workspacelink.io/v1alpha1/syncconfigs": ("SyncConfig", {"status"}),
    "workspacelink.io/v1alpha1/settings": ("Setting", {"status"}),
    "batch/v1/jobs": ("Job", {"status"}),
    "v1/pods": ("Pod", {"status"}),
    "v1/secrets": ("Secret", set()),
    "v1/configmaps": ("ConfigMap", set()),
    "v1/events": ("Event", set()),
}
CLUSTER_RESOURCES = {
    "v1/namespaces": "Namespace",
    "apiextensions.k8s.io/v1/customresourcedefinitions": "CustomResourceDefinition",
}
_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


#: The actions ``_DirectFallbacks`` serves itself (watches, long-lived streams, stay with kmock).
_DIRECT = {
    enums.action.CREATE: "_serve_create",
    enums.action.FETCH: "_serve_fetch",
    enums.action.UPDATE: "_serve_update",
    enums.action.DELETE: "_serve_delete",
    enums.action.LIST: "_serve_list",
}


class _DirectFallbacks(kmock.RawHandler):
    """kmock's reaction matching, skipped while no test has added a reaction of its own.

    kmock answers every request by sorting all its reactions and trying each one's filters in
    turn; the emulator's own answers (``KubernetesEmulator._serve_*``, its fallbacks) come last,
    after a dozen discovery reactions. That was a quarter of the emulator's time in a burst: time
    a real API server does not spend, added to every request a benchmark counts. While the
    reactions are the built-in ones only, a request for an object or a list is answered by the
    fallback kmock would have picked, rendered as kmock renders it (``json_response``). A test that
    adds a reaction (``emulator["post", ...] << error``) gets kmock's matching back at once.
    Sits below ``KubernetesEmulator`` in the MRO, so kmock's store logic runs first, unchanged.
    """

    _builtin_reactions: int | None = None

    def keep_builtin_reactions(self) -> None:
        """Take the reactions there are now as kmock's own (call once it is set up)."""
        self._builtin_reactions = len(self._payloads)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        # Discovery (a group or version, no plural) stays with kmock's reactions.
        plural = request.resource.plural if request.resource is not None else None
        serve = _DIRECT.get(request.action) if plural else None
        if (
            serve is not None
            and len(self._payloads) == self._builtin_reactions
            and (request.name is not None or request.action in (enums.action.CREATE, enums.action.LIST))
        ):
            return aiohttp.web.json_response(await getattr(self, serve)(request))
        return await super()._handle(request)


class ApiServerEmulator(kmock.KubernetesEmulator, _DirectFallbacks):
    #: (apiGroup, resource[/subresource], verb) of every namespaced resource request, in order:
    #: what the operator's Role must grant.
    seen: list[tuple[str, str, str]]
    #: (apiGroup, resource, verb, labelSelector or None) of every list and watch, in order.
    selectors: list[tuple[str, str, str, str | None]]

    def register_resources(self) -> None:
        self.keep_builtin_reactions()
        for name, (kind, subresources) in RESOURCES.items():
            self.resources[name] = kmock.ResourceInfo(
                kind=kind, namespaced=True, verbs=_VERBS, subresources=subresources
            )
        for name, kind in CLUSTER_RESOURCES.items():
            self.resources[name] = kmock.ResourceInfo(kind=kind, namespaced=False, verbs={"get", "list"})

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and request.resource.plural and request.headers.get("Authorization"):
            # Only the operator authenticates (kubeconfig token); the tests' own client does not.
            # Discovery (no plural) is open to every authenticated user, so not recorded.
            if not hasattr(self, "seen"):
                self.seen = []
            plural = str(request.resource.plural or "")
            if request.subresource:
                plural = f"{plural}/{request.subresource}"
            verb = rbac_verb(str(request.method.value).upper(), name=request.name, params=request.params)
            self.seen.append((str(request.resource.group or ""), plural, verb))
            if verb in ("list", "watch"):
                if not hasattr(self, "selectors"):
                    self.selectors = []
                selector = request.params.get("labelSelector")
                self.selectors.append((str(request.resource.group or ""), plural, verb, selector))
        if request.resource is not None:
            if request.method == enums.method.PUT and request.name is not None:
                return await self._put(request)
            if request.action == enums.action.CREATE and isinstance(request.data, dict):
                self._fill_new(request)
            elif request.action == enums.action.UPDATE and isinstance(request.data, dict):
                await self._precondition(request)
                request.data.setdefault("metadata", {})["resourceVersion"] = str(next(_versions))
        return await super()._handle(request)

    async def _serve_list(self, request: rendering.Request) -> Any:
        selector = _request_selector(request)
        listed = await super()._serve_list(request)
        if selector is not None:
            listed["items"] = [item for item in listed["items"] if selects(selector, _labels_of(item))]
        return listed

    async def _serve_watch(self, request: rendering.Request) -> Any:
        """kmock's watch, narrowed by the request's ``labelSelector`` as the API server's watch
        cache narrows it (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go,
        ``convertToWatchEvent``): an object that starts to match arrives as ADDED, one that
        stops matching as DELETED, and the others not at all."""
        selector = _request_selector(request)
        selected: set[tuple[str, str]] = set()
        async for event in super()._serve_watch(request):
            # The first item is kmock's empty chunk that starts the stream; events are dicts.
            if selector is None or not isinstance(event, dict):
                yield event
                continue
            raw = event.get("object")
            key = _name_of(raw)
            if event.get("type") == "DELETED" or not selects(selector, _labels_of(raw)):
                if key in selected:
                    selected.discard(key)
                    yield {"type": "DELETED", "object": raw}
                continue
            if key not in selected:
                selected.add(key)
                yield {"type": "ADDED", "object": raw}
                continue
            yield event

    def _fill_new(self, request: rendering.Request) -> None:
        meta = request.data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        meta.setdefault("namespace", request.namespace)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("generation", 1)
        meta.setdefault(
            "creationTimestamp", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        meta["resourceVersion"] = str(next(_versions))

    def _KubernetesEmulator__get_objs(self, request: rendering.Request, strict: bool) -> list[Any]:
        """kmock's lookup of the objects a request addresses (a private method, overridden by its
        mangled name). kmock compares every stored object with the request, in Python: linear
        in the store's size, most of the emulator's time once a burst has left thousands of
        objects. A request that names its object in a namespace is a dict lookup here, as a
        key is on the API server; anything else, or a miss, is matched as kmock matches it."""
        if strict and request.name is not None and request.resource is not None:
            key = (request.resource, request.namespace, request.name)
            if key in self._objects:
                return [self._objects[key]]
        found: list[Any] = super()._KubernetesEmulator__get_objs(request, strict)  # type: ignore[misc]
        return found

    def _stored(self, request: rendering.Request) -> Any:
        key = (request.resource, request.namespace, request.name)
        if key not in self._objects or self._objects[key].deleted:
            raise kmock.KubernetesObjectNotFoundError()
        return self._objects[key]

    async def _precondition(self, request: rendering.Request) -> None:
        wanted = (request.data.get("metadata") or {}).get("resourceVersion")
        if wanted is None:
            return
        async with self._lock:
            current = self._stored(request).raw.get("metadata", {}).get("resourceVersion")
        if current != wanted:
            raise _conflict(str(request.name))

    async def _put(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        sent = request.data if isinstance(request.data, dict) else {}
        async with self._lock:
            obj = self._stored(request)
            current = copy.deepcopy(obj.raw)
            wanted = (sent.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current.get("metadata", {}).get("resourceVersion"):
                raise _conflict(str(request.name))
            if request.subresource == "status":
                new = {**current, "status": copy.deepcopy(sent.get("status"))}
            else:
                new = {**copy.deepcopy(sent), "status": current.get("status")}
                new["metadata"] = {**current["metadata"], **new.get("metadata", {})}
            new["metadata"]["resourceVersion"] = str(next(_versions))
            obj.history.append(new)
            raw = obj.raw
            await self._buses[request.resource].put({"type": "MODIFIED", "object": raw})
        return aiohttp.web.json_response(raw)
