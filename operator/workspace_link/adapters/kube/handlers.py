"""The kopf shell: API server events in, calls into the core out. Run by ``workspace-link operator``.

Why it exists: in the operator, kopf delivers the store events that ``memstore.watch`` delivers
in the embedded mode. Every handler here is a few lines that call the core (``lifecycle``,
``link``, ``job_executor``) with the ``workspace.Workspace`` built at startup; no decision is
taken here.

What kopf is asked to do, and why:

- Executions: one ``on.event`` handler feeds the cache (``engine.cache``), wakes
  ``ws.changes`` (dialers send at once, long-polls and runner waits end) and calls
  ``executions.reconcile`` for a live one (level-triggered and idempotent, so every event may
  call it; kopf's create/update/resume handlers would add annotation PATCHes it does not
  need; it retries a transient failure itself, kopf never retries event handlers). A
  ``DELETED`` event runs ``executions.cleanup`` (Job and runner Secret deleted at once). No
  finalizer on Executions: one that only the operator removes would hang namespace deletion
  and uninstalls, and the API server's GC removes what an interrupted cleanup leaves (both
  carry ownerReferences to the Execution).
- Jobs and runner pods (``RUNNER_SELECTOR``, which the API server applies): their changes
  become ``executions.run_ended`` through ``job_executor`` (deadline, OOM, exit code, image pull,
  unschedulable).
- SyncConfigs: ``on.resume``/``on.create``/``on.update`` call ``link_status.reconcile_config``; a
  ``daemon`` per *enabled* SyncConfig runs ``dialer.run`` (kopf stops it when the object is
  deleted, disabled, or the operator exits, and starts it again when re-enabled). An index
  maps every Secret a SyncConfig reads to it, so only those Secrets' events wake the links
  (``secret_event`` says how the Secret watch is narrowed). SyncConfig, Flow and those Secret
  events feed the cache the engine reads them from.
- Startup builds the workspace and serves the sync listener (TLS from
  ``settings.tls_cert_file``), the runner API and ``health`` on their own ports; cleanup
  stops them.

Errors at the edge (``at_the_edge``, the whole tree of ``core.errors``): transient store or peer
failures become ``kopf.TemporaryError`` (kopf retries later); malformed specs, signature
failures and the rest become ``kopf.PermanentError`` (retrying without a change cannot help).
A missing or broken key Secret, an RBAC refusal and a peer's refusal are retried slowly rather
than given up: the fix (a Secret created, a Role granted, the peer's config changed) is not
always an event this operator sees.

kopf runs namespaced (``WL_NAMESPACE``), standalone (one replica, no peering objects), with
scanning disabled: the operator's Role is namespaced and may not list CRDs or namespaces. Its
identity is given, never guessed: kopf's guess asks the passwd database for the user name,
which has no entry for an arbitrary UID (OpenShift, a ``runAsUser`` of the admin's choosing)
and the operator would die at start-up. Every handler runs inside ``logs.concerning`` its
object, so whatever the core logs meanwhile names that object.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import pathlib
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, cast

import kopf
from aiohttp import web

import workspace_link
from workspace_link.adapters import logs, metrics
from workspace_link.adapters.http import health, listener, peer_client, runner_api, serving, servingcert
from workspace_link.adapters.kube import apiserver, job_executor, kubestore
from workspace_link.core import errors, job_manifest, labels, link_config, resources, settings
from workspace_link.engine import dialer, executions, link_status, runner_secret, workspace

logger = logging.getLogger(__name__)

#: The handlers of this module; ``run_operator`` and the tests run kopf with exactly these.
registry: Final = kopf.OperatorRegistry()

_IN_CLUSTER_NAMESPACE: Final = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_MEMO_KEY: Final = "workspace_link"
_GROUP, _VERSION = labels.GROUP, labels.VERSION
#: The labels ``job_manifest`` puts on every runner Job and on its pods' template.
_RUNNER_LABELS: Final = labels.managed(**{labels.COMPONENT: job_manifest.COMPONENT_RUNNER})
#: Sent with the Secret watch: the API server leaves out the per-execution runner Secrets.
SECRETS_SELECTOR: Final = f"{labels.COMPONENT}!={runner_secret.RUNNER_TOKEN_COMPONENT}"
#: Sent with the Job and pod watches: the API server streams the runners only, not every other
#: workload of the namespace (the operator's own pod among them), for kopf to parse and drop.
RUNNER_SELECTOR: Final = ",".join(f"{key}={value}" for key, value in sorted(_RUNNER_LABELS.items()))
#: The downward API's pod name (the chart sets it); kopf's identity of this operator.
POD_NAME_ENV: Final = "POD_NAME"

#: Seconds kopf waits before retrying after a transient failure (the store or a peer), after a
#: write conflict (someone else wrote first: re-read soon), and after a key Secret problem.
TRANSIENT_DELAY: Final = 10.0
CONFLICT_DELAY: Final = 1.0
KEYS_DELAY: Final = 60.0
#: Attempts of one Execution's reconcile before it waits for the object's next change.
RECONCILE_ATTEMPTS: Final = 12


@dataclass
class Runtime:
    """What startup builds and cleanup tears down; kept in kopf's ``memo``."""

    ws: workspace.Workspace
    executor: job_executor.JobExecutor
    api: apiserver.ApiSession
    servers: list[web.AppRunner] = field(default_factory=list)
    runner_api: runner_api.Server | None = None
    health: health.Server | None = None
    #: Follows the listener's certificate files (renewed in place by cert-manager).
    certificate_task: asyncio.Task[None] | None = None
    #: A pending retry of a failed reconcile, per Execution (kopf never retries event handlers).
    retries: dict[str, asyncio.Task[None]] = field(default_factory=dict)


def operator_settings() -> kopf.OperatorSettings:
    """kopf's settings for this operator (see the module doc for why each)."""
    config = kopf.OperatorSettings()
    config.scanning.disabled = True
    config.watching.label_selectors["", "v1", "secrets"] = SECRETS_SELECTOR
    config.watching.label_selectors["batch", "v1", "jobs"] = RUNNER_SELECTOR
    config.watching.label_selectors["", "v1", "pods"] = RUNNER_SELECTOR
    # Our own events say what happened; kopf's per-handler "succeeded" events would drown them.
    config.posting.level = logging.WARNING
    # A watch that the API server or a proxy silently drops must not stall the operator.
    config.watching.server_timeout = 300
    config.watching.client_timeout = 330
    # kopf keeps its bookkeeping in annotations only: the CRDs' structural schemas prune an
    # undeclared status.kopf, and our status writes replace the whole status conditionally.
    config.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=labels.GROUP)
    config.persistence.diffbase_storage = ChangeHandledKindsDiffBase(
        prefix=labels.GROUP,
        key="last-handled-configuration",
        # A script and inputs may be 256 KiB each: copied into an annotation they would break
        # the API server's 256 KiB limit on annotations. No handler reacts to their changes.
        ignored_fields=["spec.script", "spec.inputs"],
    )
    return config


#: The kinds that only ``on.event`` handlers watch: kopf diffs nothing for them.
WATCHED_ONLY: Final = frozenset({resources.EXECUTION, resources.FLOW, resources.SECRET, kubestore.JOB, "Pod"})


class ChangeHandledKindsDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's diff base, for the kinds a change handler or daemon watches (SyncConfigs) only.

    kopf builds a diff base for every event of every kind, deep-copying the whole body
    (an Execution's script and inputs too) to compare it with the last handled one, whether
    or not any handler of that kind reads the diff: a tenth of the operator's CPU in a burst
    (bench/results.md). The kinds in ``WATCHED_ONLY`` have ``on.event`` handlers alone, which
    see no diff: for them this gives kopf an empty essence and no stored one, so it diffs
    nothing. A body without a known ``kind`` is diffed as before.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        if body.get("kind") in WATCHED_ONLY:
            return cast(kopf.BodyEssence, {})
        return super().build(body=body, extra_fields=extra_fields)

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        if body.get("kind") in WATCHED_ONLY:
            return None
        return super().fetch(body=body)


def operator_identity() -> str:
    """Who this operator is to kopf: the pod's name, else the host's (a pod's hostname is its
    name too). Never the user name: see the module doc."""
    return os.environ.get(POD_NAME_ENV, "").strip() or socket.gethostname()


def namespace_from_env() -> str:
    """The namespace this operator's workspace is: ``WL_NAMESPACE``, else the pod's own."""
    value = os.environ.get("WL_NAMESPACE", "").strip()
    if not value and _IN_CLUSTER_NAMESPACE.is_file():
        value = _IN_CLUSTER_NAMESPACE.read_text().strip()
    if not value:
        raise errors.SpecError("is not set and no in-cluster namespace was found", field="WL_NAMESPACE")
    return value


def build_workspace(
    namespace: str, api: apiserver.ApiSession, *, wl_settings: settings.Settings
) -> tuple[workspace.Workspace, job_executor.JobExecutor]:
    """The operator's workspace: the API server as store, Jobs as executor."""
    store = kubestore.KubeStore(namespace, api, normal_events=wl_settings.normal_events)
    keys_store = None
    if wl_settings.keys_namespace and wl_settings.keys_namespace != namespace:
        keys_store = kubestore.KubeStore(wl_settings.keys_namespace, api)
    executor = job_executor.JobExecutor(store, settings=wl_settings)
    ws = workspace.Workspace(
        namespace=namespace,
        # Read through the cache the handlers below feed from kopf's watches (``observe``).
        store=workspace.cached(store),
        executor=executor,
        settings=wl_settings,
        keys_store=keys_store,
    )
    return ws, executor


def _runtime(memo: Any) -> Runtime:
    return cast(Runtime, memo[_MEMO_KEY])


def _plain(body: Any) -> resources.Body:
    """A deep, plain-dict copy of kopf's body view: the core may keep or change it. Every event
    pays it: ``copy_body`` (JSON-shaped values only) takes half of ``copy.deepcopy``'s time."""
    return resources.copy_body(dict(body))


_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])


def _logged(handler: _Handler) -> _Handler:
    """Run a kopf handler inside ``logs.concerning`` its object. kopf identifies a wrapped
    handler by the wrapped function, so progress annotations written before stay valid."""

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("body") or {}
        with logs.concerning(
            namespace=kwargs.get("namespace"), kind=body.get("kind"), name=kwargs.get("name")
        ):
            return await handler(*args, **kwargs)

    return cast(_Handler, wrapper)


@contextlib.contextmanager
def at_the_edge() -> Iterator[None]:
    """Translate the project's errors into kopf's retry decisions (see the module doc)."""
    try:
        yield
    except errors.Conflict as exc:
        raise kopf.TemporaryError(str(exc), delay=CONFLICT_DELAY) from exc
    except errors.KeyLoadError as exc:
        raise kopf.TemporaryError(str(exc), delay=KEYS_DELAY) from exc
    except (errors.StoreRefused, errors.PeerRefused) as exc:
        # An admin must act (RBAC, a missing CRD, the peer's config); the change they make
        # is not always an event of ours, so retry slowly rather than give up.
        raise kopf.TemporaryError(str(exc), delay=KEYS_DELAY) from exc
    except (errors.StoreError, errors.PeerUnreachable) as exc:
        raise kopf.TemporaryError(str(exc), delay=TRANSIENT_DELAY) from exc
    except (errors.SpecError, errors.SignatureError, errors.InvalidTransition, errors.MessageRefused) as exc:
        raise kopf.PermanentError(str(exc)) from exc
    except errors.WorkspaceLinkError as exc:
        # RunLost and any later member of the tree: the core has already recorded it; a
        # retry without a change cannot help.
        raise kopf.PermanentError(str(exc)) from exc


def _serving_certificate(wl_settings: settings.Settings) -> servingcert.ServingCertificate | None:
    if not wl_settings.tls_cert_file:
        return None
    if not wl_settings.tls_key_file:
        raise errors.SpecError("must be set together with WL_TLS_CERT_FILE", field="WL_TLS_KEY_FILE")
    return servingcert.ServingCertificate(wl_settings.tls_cert_file, wl_settings.tls_key_file)


# -- lifecycle of the operator ------------------------------------------------------------------
@kopf.on.login(registry=registry)
async def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf connects as the operator's ``KubeStore`` does: ``apiserver.login`` for both."""
    try:
        return await apiserver.login()
    except errors.SpecError as exc:
        raise kopf.LoginError(str(exc)) from exc


@kopf.on.startup(registry=registry)
async def startup(memo: kopf.Memo, **_: Any) -> None:
    """Build the workspace and open the three ports. Any failure here is configuration (bad
    settings, TLS files, a port in use): the operator exits rather than retry it forever."""
    try:
        wl_settings = settings.Settings.from_env()
        namespace = namespace_from_env()
        api = apiserver.ApiSession(await apiserver.login(), relogin=apiserver.login)
    except (ValueError, OSError, errors.SpecError) as exc:
        raise kopf.PermanentError(f"cannot start: {exc}") from exc
    ws, executor = build_workspace(namespace, api, wl_settings=wl_settings)
    runtime = Runtime(ws=ws, executor=executor, api=api)
    memo[_MEMO_KEY] = runtime
    try:
        certificate = _serving_certificate(wl_settings)
        sync_runner, _sync_port = await serving.serve(
            listener.create_app(ws),
            # Every interface: peers, runner pods and the kubelet reach the pod's IP.
            host="0.0.0.0",  # noqa: S104
            port=wl_settings.sync_port,
            ssl_context=certificate.context if certificate else None,
            limits=listener.limits(wl_settings),
        )
        runtime.servers.append(sync_runner)
        if certificate is not None:
            runtime.certificate_task = asyncio.create_task(certificate.follow())
        runtime.runner_api = runner_api.Server(ws, host="0.0.0.0", port=wl_settings.runner_port)  # noqa: S104
        await runtime.runner_api.start()
        runtime.health = health.Server(port=wl_settings.health_port)
        await runtime.health.start()
    except (OSError, ssl.SSLError, errors.SpecError) as exc:
        await _stop(runtime)
        raise kopf.PermanentError(f"cannot serve: {exc}") from exc
    logger.info(
        "workspace %s: sync port %d (%s), runner API port %d, health port %d",
        namespace,
        wl_settings.sync_port,
        "TLS" if wl_settings.tls_cert_file else "plain HTTP behind an Ingress",
        wl_settings.runner_port,
        wl_settings.health_port,
    )
    # What is alive once started (modules, kopf, the workspace: some 50,000 objects) lives as
    # long as the process. Frozen, it is left out of every full collection, each of which
    # walked it again: 30 ms on 2 CPUs, a stall of everything the operator does.
    gc.collect()
    gc.freeze()


@kopf.on.cleanup(registry=registry)
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.pop(_MEMO_KEY, None)
    if runtime is not None:
        await _stop(runtime)


async def _stop(runtime: Runtime) -> None:
    for task in runtime.retries.values():
        task.cancel()
    runtime.retries.clear()
    if runtime.certificate_task is not None:
        runtime.certificate_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runtime.certificate_task
    for app_runner in runtime.servers:
        await app_runner.cleanup()
    runtime.servers.clear()
    if runtime.runner_api is not None:
        await runtime.runner_api.stop()
    if runtime.health is not None:
        await runtime.health.stop()
    await runtime.executor.close()
    await runtime.api.close()


# -- executions ---------------------------------------------------------------------------------
def _live(spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    # Mirrors never run and a terminal phase is final: at startup kopf resumes every
    # execution, and thousands of finished ones need no reconcile (not even a read).
    return not spec.get("mirror") and status.get("phase") not in resources.TERMINAL


@kopf.on.event(_GROUP, _VERSION, "executions", registry=registry)
@_logged
async def execution_event(
    type: str | None, event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> None:
    """Every Execution event: the cache learns it, waiters wake, and a live one is reconciled.

    An event handler, not kopf's create/update/resume handlers: those keep their progress and
    diff base in annotations, two or three PATCHes per execution, and ``reconcile`` needs
    neither (it is level-triggered and decides from the stored object). kopf delivers the
    objects listed at start with ``type`` None: they are reconciled as resumed (a Running one's
    run is checked). kopf never retries an event handler, so ``_reconcile`` retries itself.
    """
    runtime = _runtime(memo)
    # kopf's own dict, read here and never kept or changed: the cache keeps a copy, and
    # ``reconcile`` reads the name only (it decides from a fresh read). No ``_plain`` copy on
    # the hot path: every Execution event paid it, a second copy of the whole body.
    raw = cast(resources.Body, event["object"])
    # Any change to any execution may be something a dialer must send or a waiter must see;
    # the cache learns it first, so whoever wakes reads what the event said.
    runtime.ws.observe(type, resources.EXECUTION, raw)
    # A dialer woken by it signs and sends before this handler's own writes go out: a start
    # leaves ahead of its label PATCH, not behind the work of building it.
    await runtime.ws.changes.notify_first()
    if type == "DELETED":
        _cancel_retry(runtime, body.metadata.name)
        if body.spec.get("mirror"):
            return
        plain = _plain(body)
        # Delete the Job and the runner Secret at once. No finalizer: a finalizer only the
        # operator can remove would hang namespace deletion and uninstalls; the API server's
        # garbage collector (ownerReferences) removes them anyway if this attempt fails.
        try:
            await executions.cleanup(runtime.ws, plain)
        except errors.WorkspaceLinkError as exc:
            logger.warning("Execution %s: cleanup left to garbage collection: %s", body.metadata.name, exc)
        return
    if _live(body.spec, body.status):
        # Only the listing at start is a resume: a Running execution found then may have lost
        # its Job while no operator watched. A new object has no run to lose, and a late retry
        # of its first reconcile must not mistake a Job deleted since (JobDeleted) for one.
        await _reconcile(runtime, raw, resumed=type is None)


def _cancel_retry(runtime: Runtime, name: str) -> None:
    task = runtime.retries.pop(name, None)
    if task is not None and task is not asyncio.current_task():
        task.cancel()


async def _reconcile(runtime: Runtime, body: resources.Body, *, resumed: bool, attempt: int = 0) -> None:
    """``executions.reconcile``, retried after the delay ``at_the_edge`` gives a transient failure."""
    name = resources.name(body)
    _cancel_retry(runtime, name)  # this attempt does what a pending retry would
    try:
        with at_the_edge():
            await executions.reconcile(runtime.ws, body, resumed=resumed)
        return
    except kopf.PermanentError as exc:
        logger.error("Execution %s: %s", name, exc)
        return
    except kopf.TemporaryError as exc:
        if attempt + 1 >= RECONCILE_ATTEMPTS:
            logger.error(
                "Execution %s: gave up after %d attempts; its next change retries: %s", name, attempt + 1, exc
            )
            return
        delay = exc.delay if exc.delay is not None else TRANSIENT_DELAY
        logger.warning("Execution %s: will retry in %.0f s: %s", name, delay, exc)

    async def retry() -> None:
        await asyncio.sleep(delay)
        runtime.retries.pop(name, None)
        with logs.concerning(namespace=runtime.ws.namespace, kind=resources.EXECUTION, name=name):
            await _reconcile(runtime, body, resumed=resumed, attempt=attempt + 1)

    runtime.retries[name] = asyncio.create_task(retry())


# -- runner Jobs and pods -----------------------------------------------------------------------
@kopf.on.event("batch", "v1", "jobs", labels=_RUNNER_LABELS, registry=registry)
@_logged
async def job_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime = _runtime(memo)
    # kopf never retries an event handler: the executor retries a failed report itself.
    await runtime.executor.report_job(runtime.ws, _plain(body), deleted=type == "DELETED")


@kopf.on.event("", "v1", "pods", labels=_RUNNER_LABELS, registry=registry)
@_logged
async def pod_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime = _runtime(memo)
    if type == "DELETED":
        runtime.executor.pod_gone(_plain(body))
        return
    await runtime.executor.report_pod(runtime.ws, _plain(body))


# -- links ----------------------------------------------------------------------------------------
@kopf.index(_GROUP, _VERSION, "syncconfigs", registry=registry)
async def syncconfig_secrets(body: kopf.Body, **_: Any) -> dict[str, str]:
    """Secret name -> SyncConfig, for every Secret a SyncConfig reads (its keys, a CA Secret)."""
    try:
        config = link_config.parse(_plain(body))
    except errors.SpecError:
        # Its reconcile reports the spec; a link that cannot run has no keys to refresh.
        return {}
    return dict.fromkeys(config.secret_names, config.name)


def _read_by_a_syncconfig(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> bool:
    # The index comes as a keyword named after it; kopf's filter protocol cannot list it.
    index: kopf.Index[str, str] = kwargs["syncconfig_secrets"]
    name = body.metadata.name
    if name in index:
        return True
    # A Secret the cache holds (or is reading) must not go stale there, named or not.
    runtime: Runtime | None = memo.get(_MEMO_KEY)
    return runtime is not None and runtime.ws.caches(resources.SECRET, str(name))


@kopf.on.event("", "v1", "secrets", when=_read_by_a_syncconfig, registry=registry)
@_logged
async def secret_event(type: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A Secret a SyncConfig reads changed, maybe rotated: the links re-read their keys (cached
    by resourceVersion) and their status follows at once instead of at the next idle re-check.

    Which Secret events get here, and where the others are dropped (kopf's ``labels=`` and
    ``when=`` filter in the operator, after the API server has streamed the event; only
    ``settings.watching.label_selectors`` reaches the API server):

    - the API server leaves out the runner Secrets (``SECRETS_SELECTOR``: not labelled
      ``app.kubernetes.io/component=runner-token``), one per execution and the bulk of a busy
      workspace's Secrets. The namespace's other Secrets are still streamed: key Secrets carry
      no label of ours to select on (an admin makes them by hand, with cert-manager or with
      ``workspace-link link``), and requiring one would break existing links;
    - kopf drops, before any handler runs, every Secret that no SyncConfig names in
      ``ownPrivateKey.secretName``, ``remotePublicKey.secretName`` or ``caCertificate`` (kind
      Secret): the ``syncconfig_secrets`` index. A Secret that a SyncConfig starts to name later
      needs no event here: the SyncConfig's own change re-reads its keys.

    Key Secrets in a separate ``keysNamespace`` are not watched at all (the Role there grants
    only ``get``): a rotation there is seen at the link's next idle re-check.
    """
    logger.debug("Secret %s changed: links re-read their keys", name)
    ws = _runtime(memo).ws
    ws.observe(type, resources.SECRET, _plain(body))
    ws.changes.notify()


@kopf.on.event(_GROUP, _VERSION, "syncconfigs", registry=registry)
async def syncconfig_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every SyncConfig event feeds the cache the links and the listener read their config from,
    and wakes them: a changed spec is used at the next exchange."""
    ws = _runtime(memo).ws
    ws.observe(type, resources.SYNC_CONFIG, _plain(body))
    ws.changes.notify()


@kopf.on.event(_GROUP, _VERSION, "flows", registry=registry)
async def flow_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Flows feed the cache a start's script is read from (nothing else to do about them)."""
    _runtime(memo).ws.observe(type, resources.FLOW, _plain(body))


def _enabled(spec: kopf.Spec, **_: Any) -> bool:
    return spec.get("enabled", True) is not False


@kopf.on.resume(_GROUP, _VERSION, "syncconfigs", registry=registry)
@kopf.on.create(_GROUP, _VERSION, "syncconfigs", registry=registry)
@kopf.on.update(_GROUP, _VERSION, "syncconfigs", registry=registry)
@_logged
async def syncconfig_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    with at_the_edge():
        await link_status.reconcile_config(_runtime(memo).ws, _plain(body))


@kopf.daemon(_GROUP, _VERSION, "syncconfigs", when=_enabled, cancellation_timeout=30.0, registry=registry)
@_logged
async def syncconfig_link(name: str, stopped: kopf.DaemonStopped, memo: kopf.Memo, **_: Any) -> None:
    flag = asyncio.Event()

    async def relay() -> None:
        await stopped.wait()
        flag.set()

    # link.run waits on an asyncio.Event-like flag; kopf's stopper is only awaitable via wait().
    relay_task = asyncio.create_task(relay())
    try:
        ws = _runtime(memo).ws
        await dialer.run(
            ws,
            name,
            stopped=flag,
            client_factory=peer_client.factory(ws.settings),
            observer=metrics.observe_exchange,
        )
    finally:
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task


def run_operator() -> int:
    """``workspace-link operator``: run kopf on this module's handlers until a signal stops it."""
    try:
        wl_settings = settings.Settings.from_env()
    except ValueError as exc:
        raise errors.SpecError(str(exc)) from None
    logs.configure(wl_settings.log_level, wl_settings.log_format)
    namespace = namespace_from_env()
    identity = operator_identity()
    with logs.concerning(namespace=namespace):
        logger.info("workspace-link %s: operator %s starting", workspace_link.__version__, identity)
        kopf.run(
            registry=registry,
            settings=operator_settings(),
            namespaces=[namespace],
            standalone=True,
            clusterwide=False,
            # kopf types it as a NewType of str that it does not export.
            identity=cast(Any, identity),
        )
    return 0
