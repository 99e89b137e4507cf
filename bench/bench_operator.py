"""The operator path: both operators of a link (kopf handlers + KubeStore) on the API server emulator.

    python bench/bench_operator.py                   # 3 ms per API request, 30 samples, burst of 200
    python bench/bench_operator.py --latency-ms 5 --samples 10 --burst 100

What runs is ``tests/integration/kopf/operator_pair.py``: kmock's Kubernetes emulator (with
uids, resourceVersions and PUT) waiting ``--latency-ms`` before every answer and counting every
request the operators make; operator A (``ws-a``, dials) and B (``ws-b``, listens over TLS on
127.0.0.1, served by its handlers' startup), each ``handlers.registry`` on kopf in a process of
its own; the link over real HTTPS with real RSA keys, as ``workspace-link link`` writes it.
Runner Jobs are created and never run (no Job controller); B's runner is played by one
``POST /v1/end`` on B's runner API.

- dispatch: the Execution is asked for in A -> B's POST of its execution applied by the
  emulator; one at a time, both operators quiet before each. Twice: created as ``kubectl``
  creates it (from the harness's POST sent; A sends it while it writes its link label), and
  as a flow's child (from the ``POST /v1/children`` sent to A's runner API by a parent running in A, as
  ``this.flow(..., remote_workspace_name=...)`` sends it: A creates the child labelled, wakes
  its dialer at once, and writes nothing else before the start is sent).
- status round trip: B's status write with Succeeded applied -> A's status write with
  Succeeded applied.
- burst: N executions created in A by 8 concurrent creators; each is ended in B as soon as B
  marks it Running; from the first create to the last Succeeded written in A.
- API requests per remote execution: every request of both operators (watches apart), from
  the create in A until both are quiet after Succeeded in A, averaged over the samples; the
  burst's average beside it.
- memory: VmRSS of each operator process after the burst, and with 10 idle links (9 more
  links added, each with its own SyncConfigs and keys, all Connected, then quiet).

The floors, measured in the same run: one API request at the injected latency (a create by
the harness's client), and one signed exchange (``bench_floor``: signed HTTPS round trip plus a
MemStore write). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration" / "kopf"))

import bench_common  # noqa: E402
import bench_floor  # noqa: E402
import operator_pair as op  # noqa: E402

from workspace_link.core import keys, resources  # noqa: E402

MB = 1024 * 1024
CREATORS = 8


@dataclasses.dataclass(frozen=True)
class OperatorSizes:
    latency: float = op.DEFAULT_LATENCY
    samples: int = 30
    burst: int = 200
    floor_samples: int = 50
    #: Links of the idle-memory figure (issue #11's target: 80 MB with 10 idle links).
    idle_links: int = 10


FULL = OperatorSizes()
QUICK = OperatorSizes(samples=10, burst=100, floor_samples=30)
SMOKE = OperatorSizes(samples=1, burst=4, floor_samples=3, idle_links=2)


@dataclasses.dataclass
class Result:
    latency: float
    request_floor: list[float]
    exchange_floor: list[float]
    dispatch: list[float]
    status: list[float]
    per_execution: collections.Counter[str]
    samples: int
    burst_count: int
    burst_seconds: float
    burst_requests: collections.Counter[str]
    rss: dict[str, int]
    dispatch_child: list[float]
    per_child: collections.Counter[str]
    idle_links: int
    idle_rss: dict[str, int]
    import_rss: int
    #: CPU seconds each operator process, and this one (the emulator and the harness), used
    #: during the burst.
    burst_cpu: dict[str, float]


async def _one(pair: op.LinkedOperators, name: str, *, as_child: bool = False) -> tuple[float, float]:
    """(dispatch, status round trip) of one remote execution, both operators quiet after it.

    ``as_child``: started by a flow running in A, through A's runner API (``this.flow``'s path);
    else created in A as ``kubectl`` creates it."""
    if as_child:
        started, body = await pair.start_child_in_a(name)
    else:
        started, body = await pair.create_remote(name)
    in_a = resources.name(body)  # a child's name is made from its parent's and the call id
    arrived, in_b = await pair.wait_in_b(body)
    await pair.wait_for(lambda: pair.phase_at(op.B_NAMESPACE, in_b, resources.RUNNING), what="Running in B")
    await pair.quiet(0.3)
    await pair.end_in_b(in_b)
    back = await pair.wait_for(
        lambda: pair.phase_at(op.A_NAMESPACE, in_a, resources.SUCCEEDED), what="Succeeded in A"
    )
    ended = pair.phase_at(op.B_NAMESPACE, in_b, resources.SUCCEEDED) or back
    await pair.quiet(0.5)
    return arrived - started, back - ended


async def _burst(pair: op.LinkedOperators, count: int) -> tuple[float, collections.Counter[str]]:
    """Seconds from the first create to the last Succeeded in A; the requests it took."""
    names = [f"burst-{i}" for i in range(count)]
    since = len(pair.emulator.requests)
    started = time.perf_counter()
    if not await pair.burst(names, creators=CREATORS):
        raise TimeoutError("timed out waiting for every burst execution to show Succeeded in A")
    last = max(pair.phase_at(op.A_NAMESPACE, n, resources.SUCCEEDED) or 0.0 for n in names)
    return last - started, op.breakdown(pair.emulator.requests[since:])


async def measure(sizes: OperatorSizes, *, key_bits: int) -> Result:
    floor_sizes = dataclasses.replace(
        bench_common.SMOKE, key_bits=key_bits, floor_samples=sizes.floor_samples
    )
    exchange_floor = await bench_floor.measure(floor_sizes)
    async with op.LinkedOperators(latency=sizes.latency, key_bits=key_bits) as pair:
        await _one(pair, "warm-up")
        request_floor = [await pair.floor_request() for _ in range(sizes.floor_samples)]
        since = len(pair.emulator.requests)
        dispatch, status = [], []
        for i in range(sizes.samples):
            d, s = await _one(pair, f"lat-{i}")
            dispatch.append(d)
            status.append(s)
        per_execution = op.breakdown(pair.emulator.requests[since:])
        await pair.parent_in_a()  # the flow in A whose runner starts the children
        await pair.quiet(0.5)
        since = len(pair.emulator.requests)
        dispatch_child = []
        for i in range(sizes.samples):
            d, _ = await _one(pair, f"child-{i}", as_child=True)
            dispatch_child.append(d)
        per_child = op.breakdown(pair.emulator.requests[since:])
        assert pair.a is not None and pair.b is not None
        cpu_before = {"A": pair.a.cpu_seconds(), "B": pair.b.cpu_seconds(), "harness": time.process_time()}
        seconds, burst_requests = await _burst(pair, sizes.burst)
        burst_cpu = {
            "A": pair.a.cpu_seconds() - cpu_before["A"],
            "B": pair.b.cpu_seconds() - cpu_before["B"],
            "harness": time.process_time() - cpu_before["harness"],
        }
        rss = {"A": pair.a.rss(), "B": pair.b.rss()}
        names = [op.A_CONFIG, *await pair.add_links(sizes.idle_links - 1)]

        async def all_connected() -> bool:
            return all([await pair.connected(name) for name in names])

        deadline = time.monotonic() + 120
        while not await all_connected():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {sizes.idle_links} links never all reported Connected")
            await asyncio.sleep(0.5)
        await pair.quiet(2.0)
        idle_rss = {"A": pair.a.rss(), "B": pair.b.rss()}
    return Result(
        latency=sizes.latency,
        request_floor=request_floor,
        exchange_floor=exchange_floor.samples,
        dispatch=dispatch,
        status=status,
        per_execution=per_execution,
        samples=sizes.samples,
        burst_count=sizes.burst,
        burst_seconds=seconds,
        burst_requests=burst_requests,
        rss=rss,
        import_rss=_import_rss(),
        burst_cpu=burst_cpu,
        dispatch_child=dispatch_child,
        per_child=per_child,
        idle_links=sizes.idle_links,
        idle_rss=idle_rss,
    )


def _import_rss() -> int:
    """VmRSS of a process that has imported the operator and done nothing else: the floor of
    the memory figures (the ``kubernetes`` client's generated models are most of it)."""
    code = (
        "import re, workspace_link.adapters.kube.handlers\n"
        "print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    env = {**os.environ, "PYTHONPATH": str(op.OPERATOR_DIR)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return int(out.stdout.strip()) * 1024


def _ratios(figure: float, request_floor: float, exchange_floor: float, injected: float) -> str:
    return (
        f"{figure / request_floor:.1f}x request, {figure / exchange_floor:.1f}x exchange,"
        f" {figure / injected:.1f}x injected"
    )


def rows(result: Result) -> list[tuple[str, str, str, str, str]]:
    """(measure, figure, floor, ratio, notes) rows of the operator table."""
    med, p90, ms = bench_common.median, bench_common.p90, bench_common.ms
    req_floor, ex_floor = med(result.request_floor), med(result.exchange_floor)
    floors = f"1 request {ms(req_floor)}; 1 signed exchange {ms(ex_floor)}"
    n = result.samples
    total = sum(result.per_execution.values()) / n
    burst_total = sum(result.burst_requests.values()) / result.burst_count
    rate = result.burst_count / result.burst_seconds
    child_total = sum(result.per_child.values()) / n
    cpu_a, cpu_b, cpu_h = (result.burst_cpu[side] / result.burst_count for side in ("A", "B", "harness"))
    injected = result.latency
    # A dispatch is two creates one after the other (A's, then B's) with one signed message
    # between them: half an exchange (one signature and one verification of the exchange's two).
    dispatch_floor = 2 * req_floor + ex_floor / 2
    cpus = os.cpu_count() or 1
    cpu_all = cpu_a + cpu_b + cpu_h  # every process of the run, per burst execution
    free_operators = 1 / max(cpu_h, 1e-9)  # the emulator's process alone, at one core
    return [
        (
            "dispatch latency, created by kubectl",
            f"{ms(med(result.dispatch))} (p90 {ms(p90(result.dispatch))})",
            floors,
            _ratios(med(result.dispatch), req_floor, ex_floor, injected),
            f"created in A -> created in B; median of {n}, operators quiet before each;"
            " A sends it while it writes its link label",
        ),
        (
            "dispatch latency, a flow's child",
            f"{ms(med(result.dispatch_child))} (p90 {ms(p90(result.dispatch_child))})",
            floors,
            _ratios(med(result.dispatch_child), req_floor, ex_floor, injected),
            f"POST /v1/children to A's runner API (this.flow's path) -> created in B; median of {n}",
        ),
        (
            "status round trip",
            f"{ms(med(result.status))} (p90 {ms(p90(result.status))})",
            floors,
            _ratios(med(result.status), req_floor, ex_floor, injected),
            f"Succeeded written in B -> Succeeded written in A; median of {n}",
        ),
        (
            f"burst of {result.burst_count}, {CREATORS} creators",
            f"{rate:.1f} executions/s ({result.burst_count} in {result.burst_seconds:.2f} s)",
            f"{1 / ex_floor:.0f}/s (1 / exchange floor)",
            f"{rate * ex_floor:.3f}x (higher is better)",
            "created in A -> Succeeded in A; each ended in B (runner API) once Running there",
        ),
        (
            "dispatch floor: what no operator can beat here",
            ms(dispatch_floor),
            "2 requests + 1/2 signed exchange",
            f"{med(result.dispatch) / dispatch_floor:.2f}x (kubectl),"
            f" {med(result.dispatch_child) / dispatch_floor:.2f}x (child)",
            f"A's create and B's create, one after the other, and one signed message between;"
            f" issue #11's target is {ms(5 * injected)} (5x injected)",
        ),
        (
            "burst ceiling on these CPUs",
            f"{cpus / cpu_all:.0f}/s; {free_operators:.0f}/s with free operators",
            f"{cpus} CPUs shared by both operators, the emulator and the harness",
            f"{rate * cpu_all / cpus:.2f}x of it reached",
            "CPUs / the CPU all processes used per execution; the emulator and the harness are one"
            " process (one core at most), so 1 / its CPU per execution bounds the burst even with"
            " free operators; issue #11's target is 150/s",
        ),
        (
            "operator CPU per execution in the burst",
            f"A {ms(cpu_a)}, B {ms(cpu_b)}",
            f"{ms(req_floor)} (1 request)",
            f"{cpu_b / req_floor:.1f}x request (B)",
            f"user + system time of each operator process; one core per operator carries"
            f" {1 / max(cpu_a, cpu_b):.0f}/s at most; the emulator and the harness, on the same"
            f" {cpus} CPUs, used {ms(cpu_h)} (the burst's wait for quiet included)",
        ),
        (
            "API requests per remote execution",
            f"{total:.1f} created by kubectl, {child_total:.1f} a flow's child (one at a time);"
            f" {burst_total:.1f} in the burst",
            "12 (target of issue #11)",
            f"{total / 12:.2f}x",
            "both operators, watches apart; breakdown below",
        ),
        (
            "operator RSS after the burst",
            f"A {result.rss['A'] / MB:.0f} MB, B {result.rss['B'] / MB:.0f} MB",
            f"{result.import_rss / MB:.0f} MB (the operator imported, nothing running)",
            f"{max(result.rss.values()) / result.import_rss:.2f}x",
            "VmRSS of each operator process, one link",
        ),
        (
            f"operator RSS, {result.idle_links} idle links",
            f"A {result.idle_rss['A'] / MB:.0f} MB, B {result.idle_rss['B'] / MB:.0f} MB",
            f"{result.import_rss / MB:.0f} MB imported; 80 MB the target of issue #11",
            f"{max(result.idle_rss.values()) / result.import_rss:.2f}x imported,"
            f" {max(result.idle_rss.values()) / (80 * MB):.2f}x target",
            "after the burst: each link Connected, both operators quiet for 2 s",
        ),
    ]


def report(result: Result) -> str:
    lines = [
        f"operator path: both operators on the API server emulator, {result.latency * 1000:.1f} ms"
        " injected into every request; floors in the same run",
        "",
        "| measure | figure | floor | ratio | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows(result)]
    lines += [
        "",
        f"API requests per remote execution, one at a time (mean of {result.samples}; watches apart):",
        op.format_breakdown(result.per_execution, per=result.samples),
        "",
        f"API requests per remote execution, a flow's child (mean of {result.samples}):",
        op.format_breakdown(result.per_child, per=result.samples),
        "",
        f"per execution in the burst of {result.burst_count}:",
        op.format_breakdown(result.burst_requests, per=result.burst_count),
    ]
    for side in ("ws-a", "ws-b"):
        counts = {k: v for k, v in result.per_execution.items() if k.startswith(side)}
        lines.append(f"{side}: {sum(counts.values()) / result.samples:.1f} per execution (one at a time)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=op.DEFAULT_LATENCY * 1000, help="per API request")
    parser.add_argument("--samples", type=int, default=FULL.samples, help="dispatch/status samples")
    parser.add_argument("--burst", type=int, default=FULL.burst, help="executions in the burst")
    parser.add_argument("--key-bits", type=int, default=keys.DEFAULT_BITS)
    args = parser.parse_args(argv)
    sizes = OperatorSizes(latency=args.latency_ms / 1000, samples=args.samples, burst=args.burst)
    began = time.monotonic()
    result = asyncio.run(measure(sizes, key_bits=args.key_bits))
    sys.stdout.write(f"- machine: {bench_common.machine()}\n")
    sys.stdout.write(report(result))
    sys.stdout.write(f"\ntotal: {time.monotonic() - began:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
