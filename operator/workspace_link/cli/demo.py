"""``workspace-link demo``: the product working in one command, on a laptop with no cluster.

Why it exists: a newcomer should see a flow written for the Engine in one workspace fan out
children into another over a real link before reading anything. So nothing here is
simulated: two ``embedded`` workspaces (the operator's core over an in-memory store and local
runner processes) are linked over HTTPS on 127.0.0.1 with certificate verification on and
RSA-signed messages, with the very objects ``workspace-link link --issue-ca`` writes
(``manifests.link_manifests``). A dials B; B's sync listener serves TLS.

The flow is ``examples/flows/fanout.py``, unchanged Engine style: four ``check`` children made
with ``run=False`` in the workspace linked by its input ``remote``, started with
``run_async()`` and waited for together with ``this.wait_for``. What the demo shows is read
from the stores, as an admin would read ``kubectl get``: a watch on both workspaces prints
each step as it happens (with the seconds since start), and a summary at the end reads every
execution on both sides, the script as B sees it, the outputs as A sees them, and B's Flows
(none: only the script travels).

Choices a reader may question:

- Keys are 2048-bit RSA (``keys.MIN_BITS``), generated for this run only: the smallest size the
  project accepts keeps the start quick; ``keygen``/``link`` default to 3072.
- The flows come from ``examples/flows/`` when this module runs from a checkout (editable
  install), so editing an example changes what the demo runs; an installed wheel has no
  ``examples/``, so a built-in copy of the two scripts is used (a test keeps it identical to
  the files). The first lines of output say which.
- The summary judges phases only (every execution Succeeded, one run in B per child, no Flow
  in B), never the flows' outputs: an edited example is shown as it behaves.
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
EXECUTION_NAME: Final = "fanout-demo"
PARENT_FLOW: Final = "fanout"
#: The parent's inputs: its children go to the workspace linked by A's SyncConfig link-to-b.
PARENT_INPUTS: Final = {"remote": A_CONFIG}
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
        name="check",
        description="One check",
        script='''\
"""One check: squares its input `i`; ends ENDED_ERROR when `fail` is set, as a failing child."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    i = this.get("input_value")["i"]
    this.log("checking", i=i, workspace=system.get_env_name())
    if this.get("input_value").get("fail"):
        return this.end("error", f"check {i} failed")
    this.save(output_value={"square": i * i, "workspace": system.get_env_name()})
    return this.success(f"check {i} passed")
''',
    ),
    Flow(
        name="fanout",
        description=(
            "Fans out four checks (into the workspace linked by the input `remote`, when given), "
            "starts them together and waits for all"
        ),
        script='''\
"""Fans out four checks (into the workspace linked by the input `remote`, when given), starts
them together and waits for all: the Engine's run=False, run_async and wait_for."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    remote = this.get("input_value").get("remote")
    tasks = [this.flow("check", i=i, run=False, remote_workspace_name=remote) for i in range(4)]
    for task in tasks:
        task.run_async()
    this.wait_for(*tasks)
    squares = [task.get("output_value")["square"] for task in tasks]
    statuses = [task.get("status") for task in tasks]
    this.save(output_value={"squares": squares, "statuses": statuses})
    return this.success(f"{len(tasks)} checks done")
''',
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


def _json(value: object) -> str:
    return json.dumps(value)


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
        #: The parent's children in A, in the order they were created, with their inputs.
        self.children: dict[str, dict[str, object]] = {}
        #: B's executions, each with the child in A it was started for (its origin).
        self.remotes: dict[str, str] = {}
        self.connected = False
        #: Set on A's first exchange with B: the example starts only on a link that is up.
        self.linked = asyncio.Event()
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
        self.linked.set()
        self.once(
            "link-up",
            f"link up: A's {A_CONFIG} reached B's {B_CONFIG} over HTTPS "
            f"(B's certificate verified by A, A's signature verified by B{detail})",
        )

    # -- A's link reports every successful exchange here (link.Observer) --------------------
    def exchanged(self, config: str, result: exchange.ExchangeResult) -> None:
        peer = result.peer
        self.link_up(f"; B's key {peer.key_id[:20]}...")
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
                self.say(f"A: {name} Running (a local runner process runs flow {PARENT_FLOW})")
        elif spec.get("parent") == EXECUTION_NAME and spec.get("remoteWorkspace"):
            if name not in self.children:
                inputs = dict(spec.get("inputs") or {})
                self.children[name] = inputs
                self.say(
                    f"A: {EXECUTION_NAME} started child {name}: flow {spec.get('flow')} "
                    f"in {spec['remoteWorkspace']}, inputs {_json(inputs)}"
                )
            link = resources.link_status(body)
            if self.verbose and int(link.get("acknowledgedVersion") or 0) >= 1:
                self.once(f"acked {name}", f"A: B acknowledged {name}; B calls it {link.get('remoteName')}")
        if phase in resources.TERMINAL and seen.ended is None:
            seen.ended = self.elapsed()
            outputs = _json(status.get("outputs") or {})
            if name in self.children:
                self.say(f"A: result back from B: {name} {phase}, outputs {outputs}")
            elif name == EXECUTION_NAME:
                self.say(f"A: {name} {phase}: {status.get('message', '')}; outputs {outputs}")
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
            self.link_up()
        # The origin (the child in A it was started for) is written right after the create.
        origin = resources.origin(body).get("name")
        if origin or phase != resources.PENDING:
            self.remotes.setdefault(name, str(origin or "?"))
            self.once(
                f"arrived {name}",
                f"A -> B: start of {self.remotes[name]} arrived over the link; "
                f"B created Execution {name} (the script inline, no Flow object)",
            )
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
    # A user links first and runs second; so does the demo, which also keeps its steps in the
    # order they happen on the wire however slow the machine is.
    try:
        await asyncio.wait_for(progress.linked.wait(), seconds)
    except TimeoutError:
        raise DemoFailed(_timeout_reason(progress, seconds)) from None
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
        resources.EXECUTION,
        {"metadata": {"name": EXECUTION_NAME}, "spec": {"flow": PARENT_FLOW, "inputs": dict(PARENT_INPUTS)}},
    )
    progress.say(f"A: Execution {EXECUTION_NAME} created (flow {PARENT_FLOW}, inputs {_json(PARENT_INPUTS)})")
    try:
        await asyncio.wait_for(progress.finished.wait(), seconds)
    except TimeoutError:
        raise DemoFailed(_timeout_reason(progress, seconds)) from None
    # The parent ends after its children: by then A holds their final statuses. B's own
    # executions ended before they reported, so all are already terminal here.
    return await demo.a.store.get(resources.EXECUTION, EXECUTION_NAME)


def _timeout_reason(progress: _Progress, timeout: float) -> str:
    arrived = set(progress.remotes.values())
    missing = [child for child in progress.children if child not in arrived]
    if "link-up" not in progress.steps:
        waiting = "the link never came up (A could not complete an exchange with B)"
    elif not progress.children:
        waiting = f"{EXECUTION_NAME} never started a child"
    elif missing:
        waiting = f"B never received the start of {', '.join(missing)}"
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


def _about(body: resources.Body) -> str:
    spec = resources.spec(body)
    return f"flow {spec.get('flow')}, inputs {_json(spec.get('inputs') or {})}"


def _overlap(progress: _Progress, names: list[str]) -> str:
    """Whether B's runs ran side by side, from the times the watch saw (honest either way)."""
    seen = [progress.seen.get(("B", name)) or _Seen() for name in names]
    started = [s.running for s in seen if s.running is not None]
    ended = [s.ended for s in seen if s.ended is not None]
    if len(names) < 2 or len(started) < len(names) or len(ended) < len(names):
        return ""
    if max(started) < min(ended):
        return (
            f"  B ran all {len(names)} at once: the last was Running at {max(started):.2f}s, "
            f"before the first ended at {min(ended):.2f}s.\n"
        )
    return (
        f"  B's {len(names)} runs did not all overlap "
        f"(Running from {min(started):.2f}s to {max(started):.2f}s).\n"
    )


async def _summary(demo: _Demo, progress: _Progress, parent: resources.Body) -> int:
    out = progress.out
    a_store, b_store = demo.a.store, demo.b.store
    out.write("\nSummary\n")
    problems: list[tuple[str, resources.Body]] = []

    def judge(label: str, body: resources.Body) -> None:
        if resources.phase(body) != resources.SUCCEEDED:
            problems.append((label, body))

    _line(
        out,
        "A parent",
        parent,
        progress.seen.get(("A", EXECUTION_NAME)),
        _about(parent),
    )
    judge(EXECUTION_NAME, parent)
    children = [await a_store.get(resources.EXECUTION, name) for name in progress.children]
    for child in children:
        name = resources.name(child)
        link = resources.link_status(child)
        _line(
            out,
            "A child",
            child,
            progress.seen.get(("A", name)),
            f"{_about(child)}, sent over {link.get('name')}, B's name {link.get('remoteName')}",
        )
        judge(f"the child {name} in A", child)
    if not children:
        out.write("  A child   none was created\n")
    order = {name: index for index, name in enumerate(progress.children)}

    def by_child(body: resources.Body) -> tuple[int, str]:
        origin = str(resources.origin(body).get("name") or "")
        return order.get(origin, len(order)), resources.name(body)

    received = sorted(await b_store.list(resources.EXECUTION), key=by_child)
    for remote in received:
        origin = resources.origin(remote)
        _line(
            out,
            "B remote",
            remote,
            progress.seen.get(("B", resources.name(remote))),
            f"origin: {origin.get('workspace')}/{origin.get('name')} over B's {origin.get('link')}",
        )
        judge(f"B's execution {resources.name(remote)}", remote)
    ok = bool(children) and len(received) == len(children) and not problems
    if len(received) != len(children):
        out.write(
            f"  B holds {len(received)} Execution(s) for {len(children)} child(ren) in A "
            "(expected one each)\n"
        )
    out.write(_overlap(progress, [resources.name(r) for r in received]))

    scripts = {str(resources.spec(remote).get("script") or "") for remote in received}
    if received:
        first = resources.name(received[0])
        same = f", the same in all {len(received)}" if len(scripts) == 1 and len(received) > 1 else ""
        out.write(f"\n  The script as B sees it (spec.script of {first}{same}):\n")
        script = str(resources.spec(received[0]).get("script") or "")
        out.write("".join(f"    | {line}".rstrip() + "\n" for line in script.splitlines()))
        if len(scripts) > 1:
            out.write(f"  ({len(scripts)} different scripts arrived in B; only the first is shown)\n")

    out.write("\n  The outputs as A sees them:\n")
    width = max([len(resources.name(body)) for body in [parent, *children]])
    for body in [*children, parent]:
        outputs = _json(resources.status(body).get("outputs") or {})
        out.write(f"    {resources.name(body):<{width}}  {outputs}\n")

    b_flows = await b_store.list(resources.FLOW)
    if b_flows:
        out.write(f"\n  Flows in B: {', '.join(resources.name(f) for f in b_flows)} (expected none)\n")
        ok = False
    else:
        a_flows = ", ".join(resources.name(f) for f in await a_store.list(resources.FLOW))
        out.write(
            f"\n  Flows in B: none. Only the script travelled; the Flow objects stay in A ({a_flows}).\n"
        )
    out.flush()
    if not ok:
        raise DemoFailed(_failure(problems))
    return 0


def _failure(problems: list[tuple[str, resources.Body]]) -> str:
    # The deepest failure first: B's run explains its child in A, which explains the parent.
    for label, body in sorted(problems, key=lambda item: not item[0].startswith("B's")):
        status = resources.status(body)
        tail = status.get("logTail") or []
        last = f"; last log line: {tail[-1]}" if tail else ""
        why = f"{status.get('reason', '')}: {status.get('message', '')}"
        return f"{label} ended {resources.phase(body)}: {why}{last}"
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
