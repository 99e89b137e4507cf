"""Both operators of one link on the API server emulator: the operator path, counted and slowed.

What the operator-path benchmark (``bench/bench_operator.py``) and the request budget test
(``test_kopf_request_budget.py``) run. Nothing here is a stand-in for the product except the
API server and the runner:

- ``CountingEmulator``: ``ApiServerEmulator`` (kmock plus uids, resourceVersions, PUT) that
  waits ``latency`` seconds before answering every request (a real API server with etcd costs
  a few milliseconds per request) and records every request the operators make (they
  authenticate; the harness's own client does not) by namespace, verb and resource. It also
  tells the harness the moment a write is applied (``writes``), so figures are taken where the
  API server sees them, without polling. Each record keeps the status it was answered with. A
  test may ``hold`` one request of an operator's (``Hold``), before or after it is applied, to
  kill an operator at that step of an exchange.
- ``OperatorProcess``: ``handlers.registry`` on kopf in a process of its own, as in production
  (its own GIL, its own RSS), logged in through a kubeconfig that points at the emulator.
  ``kill`` is ``kill -9``; ``start`` again brings it back on the same ports and settings.
- ``LinkedOperators``: workspace A (``ws-a``, dials and controls) and B (``ws-b``, listens over
  TLS on 127.0.0.1, served by its handlers' startup), linked by the SyncConfigs and Secrets
  ``workspace-link link`` writes (``manifests.link_manifests``), real RSA keys and a throwaway
  CA. There is no Job controller: B's runner Jobs are created and never run. ``end_in_b``
  plays the runner's one call that matters, ``POST /v1/end`` on B's runner API with the token
  from the runner Secret (a real runner also reads ``GET /v1/execution`` first).

The operator process itself is ``operator_pair_child.py`` (it imports only kopf and the operator,
so its RSS is the operator's).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import contextvars
import dataclasses
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp.web
import kmock
import kopf
from apiserver_emulator import ApiServerEmulator, rbac_verb
from kmock._internal import rendering
from operator_process import free_port

from workspace_link.adapters.kube import apiserver, kubestore
from workspace_link.cli import manifests
from workspace_link.core import certs, errors, keys, labels, naming, resources

A_NAMESPACE: Final = "ws-a"
B_NAMESPACE: Final = "ws-b"
#: Requests of the floor (one create at the injected latency) go here, apart from the link.
FLOOR_NAMESPACE: Final = "floor"
A_CONFIG: Final = manifests.DEFAULT_NAME_A
B_CONFIG: Final = manifests.DEFAULT_NAME_B
NOOP_FLOW: Final = "noop"
NOOP_SCRIPT: Final = (
    "import flow_api\n\n\ndef handler(system, this, inputs):\n    return this.success('ok')\n"
)
#: Seconds of the default latency of one API request (a small real cluster: 3-4 ms).
DEFAULT_LATENCY: Final = 0.003
OPERATOR_DIR: Final = Path(__file__).resolve().parents[3] / "operator"


# -- the emulator, slowed and counted ---------------------------------------------------------
@dataclasses.dataclass
class ApiRequest:
    """One request an operator made: ``resource`` is ``plural[/subresource]``.

    ``status``: what the emulator answered (None while in flight), whether or not the sender
    was still there to read it; ``dropped``: a ``Hold`` threw it away unapplied."""

    at: float
    namespace: str
    method: str
    verb: str
    resource: str
    name: str = ""
    status: int | None = None
    dropped: bool = False

    @property
    def key(self) -> str:
        """``"PUT executions/status"``, ``"GET executions (list)"``: how the breakdown names it."""
        return f"{self.method} {self.resource}" + (" (list)" if self.verb == "list" else "")


@dataclasses.dataclass(frozen=True)
class Write:
    """A write the emulator applied: when, where, and the body it was sent."""

    at: float
    namespace: str
    method: str
    resource: str
    body: dict[str, Any]


#: The request whose task is running (``CountingEmulator._handle``), for kmock's matching.
_MATCHING: contextvars.ContextVar[rendering.Request | None] = contextvars.ContextVar("matching", default=None)


@dataclasses.dataclass
class Hold:
    """One operator request to stop at: the first that matches once the hold is armed.

    ``where="before"``: stopped before it is applied; ``release(drop=True)`` then throws it
    away unapplied (its sender was killed meanwhile) with a 503, else it goes on as sent.
    ``where="after"``: applied, its answer held until ``release``. ``name``: the object's (the
    URL's, or a create's body's); ``body``: a test on what was sent. ``reached`` is set when
    the request is held. The test server cancels a handler whose client hangs up, so a held
    request of a killed sender may end before ``release``: unapplied (dropped) if held before.
    """

    namespace: str
    method: str
    resource: str
    where: Literal["before", "after"] = "before"
    name: str | None = None
    body: Callable[[dict[str, Any]], bool] | None = None
    reached: asyncio.Event = dataclasses.field(default_factory=asyncio.Event, init=False)
    held: ApiRequest | None = dataclasses.field(default=None, init=False)
    _released: asyncio.Event = dataclasses.field(default_factory=asyncio.Event, init=False)
    _drop: bool = dataclasses.field(default=False, init=False)

    def describe(self) -> str:
        return f"{self.namespace} {self.method} {self.resource} {self.name or ''} ({self.where} applied)"

    def matches(self, record: ApiRequest, data: Any) -> bool:
        return (
            (record.namespace, record.method, record.resource) == (self.namespace, self.method, self.resource)
            and (self.name is None or record.name == self.name)
            and (self.body is None or (isinstance(data, dict) and self.body(data)))
        )

    def release(self, *, drop: bool = False) -> None:
        self._drop = drop
        self._released.set()

    async def _wait(self, record: ApiRequest) -> bool:
        """Hold ``record`` until released; True when it is to be dropped."""
        self.held = record
        self.reached.set()
        await self._released.wait()
        return self._drop


class CountingEmulator(ApiServerEmulator):
    """``ApiServerEmulator`` that waits ``latency`` s per request and records the operators' ones."""

    def __init__(self, *, latency: float = DEFAULT_LATENCY) -> None:
        super().__init__()
        self.latency = latency
        self.requests: list[ApiRequest] = []
        self.write_listeners: list[Callable[[Write], None]] = []
        #: Armed holds (``hold``); each is taken by the first request it matches.
        self.holds: list[Hold] = []

    def hold(self, hold: Hold) -> Hold:
        self.holds.append(hold)
        return hold

    def _take_hold(self, record: ApiRequest | None, data: Any, where: str) -> Hold | None:
        if record is None:
            return None
        for hold in self.holds:
            if hold.where == where and hold.matches(record, data):
                self.holds.remove(hold)
                return hold
        return None

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        method = str(request.method.value).upper()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        resource = request.resource
        record: ApiRequest | None = None
        if resource is not None and resource.plural and request.headers.get("Authorization"):
            plural = str(resource.plural)
            if request.subresource:
                plural = f"{plural}/{request.subresource}"
            verb = rbac_verb(method, name=request.name, params=request.params)
            name = request.name
            if name is None and isinstance(request.data, dict):
                name = (request.data.get("metadata") or {}).get("name")
            record = ApiRequest(
                time.perf_counter(), str(request.namespace or ""), method, verb, plural, str(name or "")
            )
            self.requests.append(record)
        hold = self._take_hold(record, request.data, "before")
        if hold is not None and record is not None:
            drop = True  # unless released to go on: cancelled while held, it is never applied
            try:
                drop = await hold._wait(record)
            finally:
                if drop:
                    record.dropped = True
                    with contextlib.suppress(ValueError):
                        self._requests.remove(request)
            if drop:
                record.status = 503
                return aiohttp.web.json_response({"kind": "Status", "code": 503}, status=503)
        # kmock matches a request to its reactions by filtering every request in flight (watches
        # stay in flight for minutes) and looking for this one among them: about half of the
        # emulator's time in a burst. Inside this request's task, the emulator is this request.
        matching = _MATCHING.set(request)
        try:
            response = await super()._handle(request)
        except kmock.KubernetesError as exc:
            if record is not None:
                record.status = exc.status
            raise
        except Exception:
            if record is not None:
                record.status = 500
            raise
        finally:
            _MATCHING.reset(matching)
            # kmock keeps every request served and matches each new one by scanning them all
            # (quadratic: 100+ ms per request after a few thousand). Keep only those in flight.
            with contextlib.suppress(ValueError):
                self._requests.remove(request)
        if record is not None:
            record.status = response.status
        if (
            resource is not None
            and method in ("POST", "PUT", "PATCH")
            and response.status < 300
            and isinstance(request.data, dict)
        ):
            sub = f"/{request.subresource}" if request.subresource else ""
            write = Write(
                time.perf_counter(),
                str(request.namespace or ""),
                method,
                f"{resource.plural}{sub}",
                request.data,
            )
            for listener in list(self.write_listeners):
                listener(write)
        if response.status < 300:
            hold = self._take_hold(record, request.data, "after")
            if hold is not None and record is not None:
                await hold._wait(record)
        return response

    def __iter__(self) -> Iterator[rendering.Request]:
        current = _MATCHING.get()
        if current is not None:
            yield current
            return
        yield from super().__iter__()


def breakdown(requests: Iterable[ApiRequest], *, watches: bool = False) -> collections.Counter[str]:
    """``{"ws-a PUT executions/status": 2, ...}``; watch requests (long-lived streams) left out."""
    return collections.Counter(f"{r.namespace} {r.key}" for r in requests if watches or r.verb != "watch")


def by_request(requests: Iterable[ApiRequest]) -> collections.Counter[str]:
    """The same, both namespaces together: ``{"PUT executions/status": 4, ...}``."""
    return collections.Counter(r.key for r in requests if r.verb != "watch")


def format_breakdown(counts: collections.Counter[str], *, per: float = 1.0) -> str:
    return "\n".join(
        f"  {value / per:7.2f}  {key}"
        for key, value in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


# -- one operator in its own process ----------------------------------------------------------
class OperatorProcess:
    """``handlers.registry`` on kopf, watching one namespace, in a child process."""

    def __init__(self, namespace: str, *, server: str, folder: Path, env: dict[str, str]) -> None:
        self.namespace = namespace
        self.folder = folder
        self.runner_port = free_port()
        self.log = folder / f"operator-{namespace}.log"
        kubeconfig = folder / f"kubeconfig-{namespace}"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: emu, cluster: {{server: '{server}'}}}}]\n"
            "users: [{name: op, user: {token: not-a-secret}}]\n"
            f"contexts: [{{name: emu, context: {{cluster: emu, user: op, namespace: {namespace}}}}}]\n"
            "current-context: emu\n"
        )
        self.env = {key: value for key, value in os.environ.items() if key != "KUBERNETES_SERVICE_HOST"}
        self.env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(OPERATOR_DIR), *sys.path[1:]]),
                "KUBECONFIG": str(kubeconfig),
                "WL_NAMESPACE": namespace,
                "WL_SYNC_PORT": "0",
                "WL_HEALTH_PORT": "0",
                "WL_RUNNER_PORT": str(self.runner_port),
                "WL_RUNNER_API_URL": f"http://127.0.0.1:{self.runner_port}",
                "WL_RUNNER_IMAGE": "registry.example/workspace-link:bench",
                **env,
            }
        )
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self, *, timeout: float = 60.0) -> None:
        """Start it (again, after ``kill``: the same settings and ports); returns once kopf is ready."""
        with self.log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(Path(__file__).resolve().with_name("operator_pair_child.py")),
                self.namespace,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=self.env,
            )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), timeout)
        except TimeoutError:
            line = b""
        if line.strip() != b"READY":
            await self.stop()
            raise RuntimeError(f"operator {self.namespace} did not start:\n{self.log.read_text()[-4000:]}")

    def rss(self) -> int:
        """Resident set size of the operator process, in bytes (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time the operator process has used (``/proc/<pid>/stat``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def kill(self) -> None:
        """``kill -9``: no cleanup, no goodbye; what it had written stays in the store."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.kill()
        await process.wait()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


# -- both workspaces of one link --------------------------------------------------------------
def _key_material(bits: int) -> tuple[Any, Any, certs.IssuedCertificate]:
    return (
        keys.generate_private_key(bits),
        keys.generate_private_key(bits),
        certs.issue_serving_certificate(["127.0.0.1"], days=1),
    )


class LinkedOperators:
    """The emulator, operator B (listener) and operator A (dialer), linked; see the module doc."""

    def __init__(
        self,
        *,
        latency: float = DEFAULT_LATENCY,
        key_bits: int = keys.MIN_BITS,
        env: dict[str, str] | None = None,
    ) -> None:
        self.latency = latency
        self.key_bits = key_bits
        #: Settings (``WL_*``) of both operators, over the defaults.
        self.env = dict(env or {})
        self.emulator = CountingEmulator(latency=latency)
        self.folder = Path(tempfile.mkdtemp(prefix="wl-operator-pair-"))
        self.a: OperatorProcess | None = None
        self.b: OperatorProcess | None = None
        self._stack = contextlib.AsyncExitStack()
        self._api: apiserver.ApiSession | None = None
        self.kube: dict[str, kubestore.KubeStore] = {}
        #: B's executions by their origin uid (label), and when each first appeared in B.
        self.created_in_b: dict[str, tuple[float, str]] = {}
        #: (namespace, execution name, phase) -> when that phase was first written.
        self.phases: dict[tuple[str, str, str], float] = {}
        #: B's executions in the order they were first written Running.
        self.running_in_b: list[str] = []
        self.changed = asyncio.Event()
        self._floor_count = 0
        #: A's running parent execution whose runner starts children (``start_child_in_a``):
        #: its name, its runner token, and how many children it has started.
        self._parent: tuple[str, str] | None = None
        self._parent_children = 0
        #: Runner tokens by (namespace, Secret name), from the runner Secrets the operators
        #: wrote: what a runner reads from its mounted Secret, with no request of the harness's.
        self.runner_tokens: dict[tuple[str, str], str] = {}
        #: A's executions as their creates were applied (the emulator's uid filled in).
        self.created_in_a: dict[str, dict[str, Any]] = {}
        #: The harness's client of the runner APIs: one pool, not a connection per call.
        self._http: aiohttp.ClientSession | None = None

    # -- set-up and tear-down
    async def __aenter__(self) -> LinkedOperators:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        await self._stack.enter_async_context(self.emulator)
        server = await self._stack.enter_async_context(kmock.Server(self.emulator))
        del server
        self.emulator.register_resources()
        self.emulator.write_listeners.append(self._on_write)
        url = str(self.emulator.url).rstrip("/")
        # The harness's own client: no token, so neither counted nor taken for an operator's.
        self._api = apiserver.ApiSession(kopf.ConnectionInfo(server=url))
        self._stack.push_async_callback(self._api.close)
        self._http = aiohttp.ClientSession()
        self._stack.push_async_callback(self._http.close)
        for namespace in (A_NAMESPACE, B_NAMESPACE, FLOOR_NAMESPACE):
            self.kube[namespace] = kubestore.KubeStore(namespace, self._api)

        a_key, b_key, serving = await asyncio.to_thread(_key_material, self.key_bits)
        cert, key = self.folder / "tls.crt", self.folder / "tls.key"
        cert.write_bytes(serving.cert_pem)
        key.write_bytes(serving.key_pem)
        key.chmod(0o600)
        sync_port = free_port()
        self.b = OperatorProcess(
            B_NAMESPACE,
            server=url,
            folder=self.folder,
            env={
                **self.env,
                "WL_SYNC_PORT": str(sync_port),
                "WL_TLS_CERT_FILE": str(cert),
                "WL_TLS_KEY_FILE": str(key),
            },
        )
        self.a = OperatorProcess(A_NAMESPACE, server=url, folder=self.folder, env=self.env)
        self._stack.push_async_callback(self.b.stop)
        self._stack.push_async_callback(self.a.stop)
        await asyncio.gather(self.b.start(), self.a.start())

        await self.kube[A_NAMESPACE].create(
            resources.FLOW, {"metadata": {"name": NOOP_FLOW}, "spec": {"script": NOOP_SCRIPT}}
        )
        self._serving, self._sync_port = serving, sync_port
        await self._link(A_CONFIG, B_CONFIG, a_key, b_key)

    async def _link(self, name_a: str, name_b: str, a_key: Any, b_key: Any) -> None:
        request = manifests.LinkRequest(
            a_namespace=A_NAMESPACE,
            b_namespace=B_NAMESPACE,
            b_url=f"https://127.0.0.1:{self._sync_port}",
            name_a=name_a,
            name_b=name_b,
            tls_secret_name=f"{name_b}-tls",
        ).validated()
        built = manifests.link_manifests(request, a_key=a_key, b_key=b_key, serving=self._serving)
        for body in built.b:
            await self.kube[B_NAMESPACE].create(str(body["kind"]), body)
        for body in built.a:
            await self.kube[A_NAMESPACE].create(str(body["kind"]), body)

    async def add_links(self, count: int) -> list[str]:
        """``count`` more links between the same two operators, each with its own SyncConfigs
        and keys, as ``workspace-link link`` writes them; A's config names."""
        names: list[str] = []
        for index in range(count):
            a_key, b_key = await asyncio.to_thread(
                lambda: (keys.generate_private_key(self.key_bits), keys.generate_private_key(self.key_bits))
            )
            names.append(f"{A_CONFIG}-{index + 2}")
            await self._link(names[-1], f"{B_CONFIG}-{index + 2}", a_key, b_key)
        return names

    async def connected(self, name: str) -> bool:
        """Whether A's SyncConfig ``name`` reports its link Connected."""
        body = await self.kube[A_NAMESPACE].get(resources.SYNC_CONFIG, name)
        return any(
            c.get("type") == "Connected" and c.get("status") == "True"
            for c in resources.status(body).get("conditions") or []
        )

    def _on_write(self, write: Write) -> None:
        if write.resource == "secrets" and write.method == "POST":
            token = (write.body.get("data") or {}).get("token")
            name = str((write.body.get("metadata") or {}).get("name") or "")
            if isinstance(token, str) and name:
                self.runner_tokens[write.namespace, name] = base64.b64decode(token).decode()
            return
        if not write.resource.startswith("executions"):
            return
        meta = write.body.get("metadata") or {}
        name = str(meta.get("name") or "")
        if write.method == "POST" and write.namespace == A_NAMESPACE and name:
            self.created_in_a[name] = write.body
        if write.method == "POST" and write.namespace == B_NAMESPACE:
            origin = (meta.get("labels") or {}).get(labels.ORIGIN_UID)
            if origin and origin not in self.created_in_b:
                self.created_in_b[str(origin)] = (write.at, name)
        phase = (write.body.get("status") or {}).get("phase")
        if name and isinstance(phase, str) and (write.namespace, name, phase) not in self.phases:
            self.phases[write.namespace, name, phase] = write.at
            if write.namespace == B_NAMESPACE and phase == resources.RUNNING:
                self.running_in_b.append(name)
        self.changed.set()

    # -- what the harness does and waits for
    async def wait_for(self, check: Callable[[], Any], *, what: str, timeout: float = 60.0) -> Any:
        """Until ``check()`` is truthy, re-checked on every execution write the emulator applies."""
        deadline = time.monotonic() + timeout
        while True:
            self.changed.clear()
            value = check()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))

    async def quiet(self, seconds: float = 0.5, *, timeout: float = 60.0) -> None:
        """Until the operators have made no request (watches apart) for ``seconds``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = max(
                (r.at for r in self.emulator.requests if r.verb != "watch"),
                default=time.perf_counter() - seconds,
            )
            idle = time.perf_counter() - last
            if idle >= seconds:
                return
            await asyncio.sleep(seconds - idle)
        raise TimeoutError("the operators never went quiet")

    async def create_remote(self, name: str, *, as_child: bool = False) -> tuple[float, resources.Body]:
        """Create in A an execution of the no-op flow to run in B; (when it was sent, its body).

        As ``kubectl`` creates it, or ``as_child``: labelled for its link at creation, as
        ``this.flow(..., remote_workspace_name=...)`` creates a flow's child (``runner_calls``).
        """
        meta: dict[str, Any] = {"name": name}
        if as_child:
            meta["labels"] = labels.managed(**{labels.REMOTE_LINK: labels.value(A_CONFIG)})
        started = time.perf_counter()
        body = await self.kube[A_NAMESPACE].create(
            resources.EXECUTION,
            {
                "apiVersion": "workspacelink.io/v1alpha1",
                "metadata": meta,
                "spec": {"flow": NOOP_FLOW, "inputs": {}, "remoteWorkspace": A_CONFIG},
            },
        )
        return started, body

    async def parent_in_a(self) -> tuple[str, str]:
        """A local execution running in A, whose runner starts the children of
        ``start_child_in_a``: (its name, its runner token). Its Job never runs (no Job
        controller), so it stays Running; a new one is made before the children limit."""
        limit = 90  # below settings.max_children_per_execution (100)
        if self._parent is None or self._parent_children >= limit:
            name = f"parent-{len(self.running_in_b)}-{self._parent_children}-{time.monotonic_ns()}"
            await self.kube[A_NAMESPACE].create(
                resources.EXECUTION,
                {
                    "apiVersion": "workspacelink.io/v1alpha1",
                    "metadata": {"name": name},
                    "spec": {"flow": NOOP_FLOW, "inputs": {}},
                },
            )
            await self.wait_for(
                lambda: self.phase_at(A_NAMESPACE, name, resources.RUNNING), what=f"{name} Running in A"
            )
            self._parent = (name, await self._runner_token(A_NAMESPACE, name))
            self._parent_children = 0
        return self._parent

    async def start_child_in_a(self, call_id: str) -> tuple[float, resources.Body]:
        """What ``this.flow('noop', remote_workspace_name=...)`` does in a flow running in A:
        ``POST /v1/children`` on A's runner API with the parent's runner token, which creates
        the child (A's own request) and wakes A's dialer. (When it was sent, the child's body.)
        ``parent_in_a`` first, so that making the parent falls outside what is timed."""
        assert self.a is not None
        _parent, token = await self.parent_in_a()
        self._parent_children += 1
        assert self._http is not None
        started = time.perf_counter()
        async with (
            self._http.post(
                f"http://127.0.0.1:{self.a.runner_port}/v1/children",
                json={"callId": call_id, "flow": NOOP_FLOW, "remoteWorkspace": A_CONFIG, "inputs": {}},
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            if response.status != 200:
                text = await response.text()
                raise errors.StoreUnavailable(f"A's runner API answered {response.status}: {text}")
            name = str((await response.json())["name"])
        # As A's create was applied: a GET here would reach the emulator beside B's create,
        # within the dispatch being timed.
        created = self.created_in_a.get(name)
        if created is None:
            created = await self.kube[A_NAMESPACE].get(resources.EXECUTION, name)
        return started, created

    async def wait_in_b(self, body: resources.Body, *, timeout: float = 60.0) -> tuple[float, str]:
        """(when B's execution for A's ``body`` was created, its name in B)."""
        uid = resources.uid(body)
        found: tuple[float, str] = await self.wait_for(
            lambda: self.created_in_b.get(uid), what=f"{resources.name(body)} in B", timeout=timeout
        )
        return found

    def phase_at(self, namespace: str, name: str, phase: str) -> float | None:
        return self.phases.get((namespace, name, phase))

    async def _runner_token(self, namespace: str, name: str) -> str:
        """The runner token of execution ``name``, from its runner Secret as a runner reads it
        (mounted): as the operator wrote it, else read from the emulator."""
        secret_name = naming.runner_secret_name(name)
        token = self.runner_tokens.get((namespace, secret_name))
        if token is None:
            secret = await self.kube[namespace].get(resources.SECRET, secret_name)
            token = base64.b64decode(secret["data"]["token"]).decode()
        return token

    async def _runner_call(self, name: str) -> tuple[str, dict[str, str]]:
        """The URL and headers of B's runner's ``POST /v1/end``, with the token from its Secret."""
        assert self.b is not None
        token = await self._runner_token(B_NAMESPACE, name)
        return f"http://127.0.0.1:{self.b.runner_port}/v1/end", {"Authorization": f"Bearer {token}"}

    async def end_in_b(self, name: str, phase: str = resources.SUCCEEDED) -> None:
        """What B's runner does last: ``POST /v1/end`` on B's runner API with its token."""
        url, headers = await self._runner_call(name)
        assert self._http is not None
        async with self._http.post(
            url, json={"phase": phase, "message": "ended by the harness"}, headers=headers
        ) as response:
            if response.status != 200:
                raise errors.StoreUnavailable(
                    f"runner API answered {response.status}: {await response.text()}"
                )

    async def end_in_b_retried(self, name: str, answers: list[int]) -> None:
        """``end_in_b`` (Succeeded) as a runner sends it while B may be restarting: retried on
        connection failures and 503 as ``flow_api.client`` retries; a 409 after a retry means an
        earlier attempt landed. Each answer's status goes to ``answers``; any other raises."""
        url, headers = await self._runner_call(name)
        tried = False
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.post(
                        url,
                        json={"phase": resources.SUCCEEDED, "message": "ended by the harness"},
                        headers=headers,
                    ) as response:
                        answers.append(response.status)
                        if response.status == 200 or (response.status == 409 and tried):
                            return
                        if response.status != 503:
                            raise AssertionError(
                                f"the runner API answered {response.status}: {await response.text()}"
                            )
                except aiohttp.ClientError:
                    pass
                tried = True
                await asyncio.sleep(0.2)

    async def burst(
        self,
        names: Sequence[str],
        *,
        creators: int,
        end: Callable[[str], Awaitable[None]] | None = None,
        during: Awaitable[None] | None = None,
        timeout: float = 600.0,
    ) -> bool:
        """Create ``names`` in A (``creators`` at a time, as ``kubectl`` creates them) and end
        each in B once B marks it Running (``end``, by default ``end_in_b``), with ``during``
        running alongside the creators. True when every one showed Succeeded in A within
        ``timeout``; then waits for the ends and for both operators to go quiet."""
        end_in_b = end or self.end_in_b
        # B's executions of earlier runs are over already.
        ended = {name for (namespace, name, _phase) in self.phases if namespace == B_NAMESPACE}
        enders: list[asyncio.Task[None]] = []
        queue: asyncio.Queue[str] = asyncio.Queue()
        for name in names:
            queue.put_nowait(name)

        async def end_running() -> None:
            seen = 0  # of running_in_b: each change adds to its end (no scan of every phase)
            while True:
                self.changed.clear()
                for name in self.running_in_b[seen:]:
                    if name not in ended:
                        ended.add(name)
                        enders.append(asyncio.create_task(end_in_b(name)))
                seen = len(self.running_in_b)
                await self.changed.wait()

        async def creator() -> None:
            while not queue.empty():
                await self.create_remote(queue.get_nowait())

        succeeded = 0  # how many of ``names``, in order, are known Succeeded in A

        def all_succeeded() -> bool:
            # Checked on every write: resumed where the last check stopped, not from the first.
            nonlocal succeeded
            while succeeded < len(names) and self.phase_at(
                A_NAMESPACE, names[succeeded], resources.SUCCEEDED
            ):
                succeeded += 1
            return succeeded == len(names)

        ender = asyncio.create_task(end_running())
        try:
            await asyncio.gather(*(creator() for _ in range(creators)), *([during] if during else []))
            try:
                await self.wait_for(
                    all_succeeded,
                    what="every execution of the burst Succeeded in A",
                    timeout=timeout,
                )
                done = True
            except TimeoutError:
                done = False
            await asyncio.gather(*enders)
            await self.quiet(1.0)
        finally:
            ender.cancel()
        return done

    async def floor_request(self) -> float:
        """Seconds of one create at the injected latency (the floor of every API request)."""
        self._floor_count += 1
        started = time.perf_counter()
        await self.kube[FLOOR_NAMESPACE].create(
            resources.CONFIG_MAP, {"metadata": {"name": f"floor-{self._floor_count}"}, "data": {"a": "b"}}
        )
        return time.perf_counter() - started
