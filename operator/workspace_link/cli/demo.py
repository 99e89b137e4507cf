"""``workspace-link demo``: the product working in one command, on a laptop with no cluster.

Why it exists: a newcomer should see a flow in one workspace run its child in another over a
real link before reading anything. So nothing here is simulated: two ``embedded``
workspaces (the operator's core over an in-memory store and local runner processes) are
linked over HTTPS on 127.0.0.1 with certificate verification on and RSA-signed messages, with
the very objects ``workspace-link link --issue-ca`` writes (``manifests.link_manifests``).
A dials B; B's sync listener serves TLS.

What it shows is read from the stores, as an admin would read ``kubectl get``: a watch on
both workspaces prints each step as it happens (with the seconds since start), and a summary
at the end reads both executions, the script as B sees it, the child's outputs as A sees
them, and B's Flows (none: only the script travels).

Choices a reader may question:

- Keys are 2048-bit RSA (``keys.MIN_BITS``), generated for this run only: the smallest size the
  project accepts keeps the start quick; ``keygen``/``link`` default to 3072.
- The flows come from ``examples/flows/`` when this module runs from a checkout (editable
  install), so editing an example changes what the demo runs; an installed wheel has no
  ``examples/``, so a built-in copy of the two scripts is used (a test keeps it identical to
  the files). The first lines of output say which.
- The throwaway CA, the serving key and the runner logs live in a private temporary
  directory removed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TextIO

from workspace_link.adapters.http import serving
from workspace_link.adapters.local import embedded
from workspace_link.cli import manifests
from workspace_link.core import certs, conditions, errors, keys, resources, settings
from workspace_link.engine import exchange, store

#: Seconds the example may take (``args.timeout`` when the CLI offers it): far above the second
#: or so a run takes, below a person's patience.
DEFAULT_TIMEOUT: Final = 90.0
KEY_BITS: Final = keys.MIN_BITS
A_NAMESPACE: Final = "workspace-a"
B_NAMESPACE: Final = "workspace-b"
A_CONFIG: Final = manifests.DEFAULT_NAME_A  # link-to-b: A dials B
B_CONFIG: Final = manifests.DEFAULT_NAME_B  # link-to-a: B listens
EXECUTION_NAME: Final = "main-demo"
LISTENER_HOSTS: Final = ("127.0.0.1", "localhost")

_EXAMPLES: Final = Path(__file__).resolve().parents[3] / "examples" / "flows"


@dataclasses.dataclass(frozen=True)
class Flow:
    name: str
    description: str
    script: str


# The built-in copy, for installs without ``examples/`` (tests pin it to examples/flows/*.py).
BUILTIN_FLOWS: Final = (
    Flow(
        name="hello",
        description="Greets `name` and saves the greeting as the output `greeting`.",
        script="""\
import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    greeting = f"hello, {inputs.get('name', 'world')}"
    this.log(greeting)
    this.save(output_value={"greeting": greeting})
    return this.success(greeting)
""",
    ),
    Flow(
        name="main",
        description="Runs `hello` in the workspace linked by link-to-b and logs what it said.",
        script="""\
import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    child = this.flow("hello", remote_workspace_name="link-to-b", inputs={"name": "x"})
    this.log("remote said", child.get("output_value"))
    return this.success("all done")
""",
    ),
)


def example_flows(folder: Path = _EXAMPLES) -> tuple[tuple[Flow, ...], str]:
    """The example flows and where they came from (the checkout's files, else the built-in copy)."""
    if all((folder / f"{flow.name}.py").is_file() for flow in BUILTIN_FLOWS):
        flows = tuple(
            dataclasses.replace(flow, script=(folder / f"{flow.name}.py").read_text(encoding="utf-8"))
            for flow in BUILTIN_FLOWS
        )
        return flows, f"the checkout's {folder}"
    return BUILTIN_FLOWS, "the copy built into workspace_link.demo (no examples/ beside the package)"


class DemoFailed(Exception):
    """An expected way for the demo to fail: one line for the person, no traceback."""


# -- what happened, and when -------------------------------------------------------------------
@dataclasses.dataclass
class _Seen:
    created: float | None = None
    running: float | None = None
    ended: float | None = None


class _Progress:
    """Prints each step once, with the seconds since the demo started."""

    def __init__(self, out: TextIO, *, verbose: bool) -> None:
        self.out = out
        self.verbose = verbose
        self.t0 = time.monotonic()
        self.steps: set[str] = set()
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.child: str | None = None
        self.remote: str | None = None
        self.connected = False
        self.finished = asyncio.Event()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        self.out.write(f"{self.elapsed():6.2f}s  {text}\n")
        self.out.flush()

    def once(self, step: str, text: str) -> None:
        if step not in self.steps:
            self.steps.add(step)
            self.say(text)

    def stamp(self, side: str, name: str) -> _Seen:
        return self.seen.setdefault((side, name), _Seen())

    # A's link reports an exchange only once its answer is back, after B has already acted on
    # it; B's watch often sees the effect first. Whichever comes first tells the step, so the
    # lines keep the order in which things happened on the wire.
    def link_up(self, detail: str = "") -> None:
        self.once(
            "link-up",
            f"link up: A's {A_CONFIG} reached B's {B_CONFIG} over HTTPS "
            f"(B's certificate verified by A, A's signature verified by B{detail})",
        )

    def start_sent(self) -> None:
        if self.child is not None:
            self.link_up()
            self.once(
                "sent", f"A -> B: start of {self.child} sent: hello's script and inputs, one signed POST"
            )

    # -- A's link reports every successful exchange here (link.Observer) --------------------
    def exchanged(self, config: str, result: exchange.ExchangeResult) -> None:
        peer = result.peer
        self.link_up(f"; B's key {peer.key_id[:20]}...")
        if result.sent:
            self.start_sent()
        if self.verbose and (result.sent or result.received or result.acks_sent or result.acks_received):
            self.say(
                f"  exchange {config}: sent {result.sent} message(s) and {result.acks_sent} ack(s), "
                f"received {result.received} message(s) and {result.acks_received} ack(s)"
            )

    # -- store events ------------------------------------------------------------------------
    def on_a(self, event: store.WatchEvent) -> None:
        body = event.body
        name = resources.name(body)
        if event.kind == resources.SYNC_CONFIG:
            found = conditions.find(resources.status(body).get("conditions"), conditions.CONNECTED)
            if found is not None and found.get("status") == "True":
                self.connected = True
                if self.verbose:
                    self.once("connected", f"A: SyncConfig {name} reports Connected=True")
            return
        if event.kind != resources.EXECUTION or event.type == "DELETED":
            return
        spec, status, phase = resources.spec(body), resources.status(body), resources.phase(body)
        seen = self.stamp("A", name)
        if seen.created is None:
            seen.created = self.elapsed()
        if name == EXECUTION_NAME:
            if phase == resources.RUNNING and seen.running is None:
                seen.running = self.elapsed()
                self.say(f"A: {name} Running (a local runner process runs flow main)")
        elif spec.get("parent") == EXECUTION_NAME and spec.get("remoteWorkspace"):
            if self.child is None:
                self.child = name
                self.say(
                    f"A: {EXECUTION_NAME} asked for flow {spec.get('flow')} in {spec['remoteWorkspace']}: "
                    f"child Execution {name}"
                )
            link = status.get("link") or {}
            if int(link.get("acknowledgedVersion") or 0) >= 1:
                self.once("acked", f"A: B acknowledged the start; B calls it {link.get('remoteName')}")
        if phase in resources.TERMINAL and seen.ended is None:
            seen.ended = self.elapsed()
            if name == self.child:
                outputs = json.dumps(status.get("outputs") or {})
                self.say(f"A: result back from B: {name} {phase}, outputs {outputs}")
            elif name == EXECUTION_NAME:
                self.say(f"A: {name} {phase}: {status.get('message', '')}")
                self.finished.set()

    def on_b(self, event: store.WatchEvent) -> None:
        body = event.body
        if event.kind != resources.EXECUTION or event.type == "DELETED":
            return
        name = resources.name(body)
        seen = self.stamp("B", name)
        phase = resources.phase(body)
        if seen.created is None:
            seen.created = self.elapsed()
            self.remote = name
            self.start_sent()
            self.say(f"B: Execution {name} created from the link (inline script, no Flow object)")
        if phase == resources.RUNNING and seen.running is None:
            seen.running = self.elapsed()
            self.say(f"B: {name} Running (a local runner process runs the received script)")
        if phase in resources.TERMINAL and seen.ended is None:
            seen.ended = self.elapsed()
            self.say(f"B: {name} {phase}: {resources.status(body).get('message', '')}")


async def _follow(ws: store.WatchableStore, handle: Callable[[store.WatchEvent], None]) -> None:
    async for event in ws.watch(frozenset({resources.EXECUTION, resources.SYNC_CONFIG})):
        handle(event)


# -- building the two workspaces ----------------------------------------------------------------
def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _server_tls(issued: certs.IssuedCertificate, folder: Path) -> ssl.SSLContext:
    # ssl loads a certificate chain from files only: they go to the private temp directory.
    cert, key = folder / "tls.crt", folder / "tls.key"
    cert.write_bytes(issued.cert_pem)
    _write_private(key, issued.key_pem)
    (folder / "ca.crt").write_bytes(issued.ca_pem)
    return serving.server_tls_context(str(cert), str(key))


async def _apply(ws: embedded.EmbeddedWorkspace, bodies: tuple[resources.Body, ...]) -> None:
    """As ``kubectl apply`` of one side's file would: Secrets first, then the SyncConfig."""
    for body in bodies:
        await ws.store.create(str(body["kind"]), body)


@dataclasses.dataclass
class _Demo:
    a: embedded.EmbeddedWorkspace
    b: embedded.EmbeddedWorkspace
    folder: Path


async def _start(folder: Path, progress: _Progress) -> _Demo:
    out = progress.out
    out.write(
        f"  keys: a {KEY_BITS}-bit RSA key pair per workspace, made now "
        f"({KEY_BITS} bits keeps this quick; keygen/link default to {keys.DEFAULT_BITS})\n"
    )
    out.flush()
    a_key = keys.generate_private_key(KEY_BITS)
    b_key = keys.generate_private_key(KEY_BITS)
    issued = certs.issue_serving_certificate(LISTENER_HOSTS, days=1)
    out.write(
        f"  TLS: a throwaway CA issued B's serving certificate for {', '.join(LISTENER_HOSTS)}; "
        "A verifies it (verifySsl: true)\n\n"
    )
    ws_settings = settings.Settings()
    b = embedded.EmbeddedWorkspace(B_NAMESPACE, settings=ws_settings, log_dir=folder / "logs-b")
    b.sync_ssl_context = _server_tls(issued, folder)
    a = embedded.EmbeddedWorkspace(A_NAMESPACE, settings=ws_settings, log_dir=folder / "logs-a")
    a.link_observer = progress.exchanged
    await b.start()
    try:
        await a.start()
    except BaseException:
        await b.stop()
        raise
    demo = _Demo(a=a, b=b, folder=folder)
    progress.say(f"B ({B_NAMESPACE}) up: sync listener {b.sync_url} (TLS), runner API {b.runner_url}")
    progress.say(f"A ({A_NAMESPACE}) up: runner API {a.runner_url}")

    request = manifests.LinkRequest(
        a_namespace=A_NAMESPACE, b_namespace=B_NAMESPACE, b_url=b.sync_url, listener_hosts=LISTENER_HOSTS
    ).validated()
    built = manifests.link_manifests(request, a_key=a_key, b_key=b_key, serving=issued)
    await _apply(b, built.b)
    await _apply(a, built.a)
    progress.say(
        f"SyncConfigs applied: A's {A_CONFIG} dials {b.sync_url_for(B_CONFIG)}; B's {B_CONFIG} listens"
    )
    return demo


async def _run_example(demo: _Demo, progress: _Progress, *, seconds: float) -> resources.Body:
    flows, source = example_flows()
    for flow in flows:
        await demo.a.store.create(
            resources.FLOW,
            {
                "metadata": {"name": flow.name},
                "spec": {"script": flow.script, "description": flow.description},
            },
        )
    progress.say(f"A: Flows {' and '.join(f.name for f in flows)} created from {source}")
    progress.stamp("A", EXECUTION_NAME).created = progress.elapsed()
    await demo.a.store.create(
        resources.EXECUTION, {"metadata": {"name": EXECUTION_NAME}, "spec": {"flow": "main", "inputs": {}}}
    )
    progress.say(f"A: Execution {EXECUTION_NAME} created (flow main)")
    try:
        await asyncio.wait_for(progress.finished.wait(), seconds)
    except TimeoutError:
        raise DemoFailed(_timeout_reason(progress, seconds)) from None
    # The parent ends after its child: by then A holds the child's final status. B's own
    # execution ended before it reported, so both are already terminal here.
    return await demo.a.store.get(resources.EXECUTION, EXECUTION_NAME)


def _timeout_reason(progress: _Progress, timeout: float) -> str:
    if "link-up" not in progress.steps:
        waiting = "the link never came up (A could not complete an exchange with B)"
    elif progress.child is None:
        waiting = f"{EXECUTION_NAME} never asked for its child"
    elif progress.remote is None:
        waiting = f"B never received the start of {progress.child}"
    else:
        waiting = f"{EXECUTION_NAME} did not finish"
    return f"timed out after {timeout:.0f} s: {waiting}"


# -- the summary -------------------------------------------------------------------------------
def _timing(seen: _Seen | None) -> str:
    if seen is None or seen.created is None:
        return ""
    parts = [f"created at {seen.created:.2f}s"]
    if seen.running is not None:
        parts.append(f"running at {seen.running:.2f}s")
    if seen.ended is not None:
        parts.append(f"ended at {seen.ended:.2f}s (took {seen.ended - seen.created:.2f}s)")
    return ", ".join(parts)


def _line(out: TextIO, label: str, body: resources.Body, seen: _Seen | None, extra: str = "") -> None:
    status = resources.status(body)
    out.write(f"  {label:<9} Execution {resources.name(body)}: {resources.phase(body)}")
    if status.get("message"):
        out.write(f" ({status['message']})")
    out.write("\n")
    if seen is not None and seen.created is not None:
        out.write(f"            {_timing(seen)}\n")
    if extra:
        out.write(f"            {extra}\n")


async def _summary(demo: _Demo, progress: _Progress, parent: resources.Body) -> int:
    out = progress.out
    a_store, b_store = demo.a.store, demo.b.store
    out.write("\nSummary\n")
    _line(out, "A parent", parent, progress.seen.get(("A", EXECUTION_NAME)))
    child = await a_store.get(resources.EXECUTION, progress.child) if progress.child else None
    received = await b_store.list(resources.EXECUTION)
    remote = received[0] if len(received) == 1 else None
    ok = resources.phase(parent) == resources.SUCCEEDED
    if child is not None:
        link = resources.status(child).get("link") or {}
        _line(
            out,
            "A child",
            child,
            progress.seen.get(("A", resources.name(child))),
            f"flow {resources.spec(child).get('flow')}, sent over {link.get('name')}, "
            f"B's name {link.get('remoteName')}",
        )
        ok = ok and resources.phase(child) == resources.SUCCEEDED
    else:
        out.write("  A child   none was created\n")
        ok = False
    if remote is not None:
        origin = resources.status(remote).get("origin") or {}
        _line(
            out,
            "B remote",
            remote,
            progress.seen.get(("B", resources.name(remote))),
            f"origin: {origin.get('workspace')}/{origin.get('name')} over B's {origin.get('link')}",
        )
        ok = ok and resources.phase(remote) == resources.SUCCEEDED
        out.write(f"\n  The script as B sees it (spec.script of {resources.name(remote)}):\n")
        script = str(resources.spec(remote).get("script") or "")
        out.write("".join(f"    | {line}".rstrip() + "\n" for line in script.splitlines()))
    else:
        out.write(f"  B remote  expected one Execution in B, found {len(received)}\n")
        ok = False
    if child is not None:
        outputs = json.dumps(resources.status(child).get("outputs") or {})
        out.write(f"\n  The child's outputs as A sees them: {outputs}\n")
    b_flows = await b_store.list(resources.FLOW)
    if b_flows:
        out.write(f"  Flows in B: {', '.join(resources.name(f) for f in b_flows)} (expected none)\n")
        ok = False
    else:
        a_flows = ", ".join(resources.name(f) for f in await a_store.list(resources.FLOW))
        out.write(f"  Flows in B: none. Only the script travelled; the Flow objects stay in A ({a_flows}).\n")
    out.flush()
    if not ok:
        raise DemoFailed(_failure(parent, child, remote))
    return 0


def _failure(parent: resources.Body, child: resources.Body | None, remote: resources.Body | None) -> str:
    for label, body in (("B's execution", remote), ("the child in A", child), (EXECUTION_NAME, parent)):
        if body is not None and resources.phase(body) != resources.SUCCEEDED:
            status = resources.status(body)
            tail = status.get("logTail") or []
            last = f"; last log line: {tail[-1]}" if tail else ""
            return (
                f"{label} ended {resources.phase(body)}: "
                f"{status.get('reason', '')}: {status.get('message', '')}{last}"
            )
    return "the example did not produce what was expected (see the summary above)"


# -- --keep-running ----------------------------------------------------------------------------
async def _counts(ws: embedded.EmbeddedWorkspace) -> str:
    kinds = (resources.FLOW, resources.EXECUTION, resources.SYNC_CONFIG, resources.SECRET)
    parts = []
    for kind in kinds:
        found = len(await ws.store.list(kind))
        parts.append(f"{found} {kind}{'' if found == 1 else 's'}")
    return ", ".join(parts)


async def _keep_running(demo: _Demo, out: TextIO) -> None:
    url = demo.b.sync_url_for(B_CONFIG)
    ca = demo.folder / "ca.crt"
    out.write(
        "\nBoth workspaces keep running; Ctrl-C stops them.\n"
        f"  B sync endpoint  {url}\n"
        f"                   signed POSTs only; try: curl --cacert {ca} -H 'Content-Type: application/json'"
        f" -d '{{}}' {url}\n"
        f"  A runner API     {demo.a.runner_url}  (Bearer token of one execution)\n"
        f"  B runner API     {demo.b.runner_url}\n"
        f"  runner logs      {demo.folder / 'logs-a'}  {demo.folder / 'logs-b'}\n"
        f"  store of A       {await _counts(demo.a)}\n"
        f"  store of B       {await _counts(demo.b)}\n"
    )
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    out.write("stopping both workspaces\n")


# -- entry point -------------------------------------------------------------------------------
async def _main(*, out: TextIO, keep_running: bool, verbose: bool, seconds: float) -> int:
    progress = _Progress(out, verbose=verbose)
    out.write(f"workspace-link demo: workspaces {A_NAMESPACE} (A) and {B_NAMESPACE} (B) in this process\n")
    with tempfile.TemporaryDirectory(prefix="wl-demo-") as tmp:
        folder = Path(tmp)
        demo = await _start(folder, progress)
        followers = [
            asyncio.ensure_future(_follow(demo.a.store, progress.on_a)),
            asyncio.ensure_future(_follow(demo.b.store, progress.on_b)),
        ]
        await asyncio.sleep(0)  # the watches subscribe before anything is created
        try:
            parent = await _run_example(demo, progress, seconds=seconds)
            await asyncio.sleep(0)  # let the watchers print what is already queued
            code = await _summary(demo, progress, parent)
            if keep_running:
                await _keep_running(demo, out)
            return code
        finally:
            for task in followers:
                task.cancel()
            for task in followers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await demo.a.stop()
            await demo.b.stop()


def main(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the example flow and its remote child both succeeded."""
    keep_running = bool(getattr(args, "keep_running", False))
    verbose = bool(getattr(args, "verbose", False))
    timeout = float(getattr(args, "timeout", None) or DEFAULT_TIMEOUT)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="        [%(name)s] %(levelname)s %(message)s",
    )
    # Expected shutdown noise (a held long-poll cut by the stop) is not worth a line.
    logging.getLogger("aiohttp").setLevel(logging.ERROR)
    # httpx logs every request at INFO; --verbose shows the exchanges in the link's own words.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    out = sys.stdout
    try:
        return asyncio.run(_main(out=out, keep_running=keep_running, verbose=verbose, seconds=timeout))
    except DemoFailed as exc:
        sys.stderr.write(f"\nworkspace-link demo: FAILED: {exc}\n")
        return 1
    except (errors.WorkspaceLinkError, OSError) as exc:
        sys.stderr.write(f"\nworkspace-link demo: FAILED: {type(exc).__name__}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\nworkspace-link demo: interrupted\n")
        return 130
