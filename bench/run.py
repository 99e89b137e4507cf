"""Run every benchmark and print one table: each figure beside its floor.

    python bench/run.py            # full sizes (a few minutes)
    python bench/run.py --quick    # under about a minute (mirror of 2,000 instead of 10,000)
    python bench/run.py --smoke    # tiny sizes, seconds: only proves the benchmarks still run

The embedded table comes first, then the operator path's (``bench_operator``: both operators on
the API server emulator, ``--operator-latency-ms`` per request, 3 by default).

Figures are printed, never asserted. See bench/README.md for what each one measures.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common
import bench_floor
import bench_link
import bench_memory
import bench_operator

MB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Row:
    measure: str
    figure: str
    floor: str
    ratio: str
    notes: str


def _ratio(value: float, floor: float, *, unit: str = "x") -> str:
    return f"{value / floor:.2f}{unit}" if floor > 0 else "n/a"


def _profile(args: argparse.Namespace) -> bench_common.Sizes:
    if args.smoke:
        return bench_common.SMOKE
    if args.quick:
        # Mirroring grows faster than linearly (see results.md): 2,000 keeps --quick short.
        return dataclasses.replace(bench_common.QUICK, mirror_executions=2000)
    return bench_common.FULL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="smaller sizes, under about a minute")
    group.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (used by a test)")
    parser.add_argument(
        "--operator-latency-ms", type=float, default=None, help="per API request in the operator path (3)"
    )
    args = parser.parse_args(argv)
    sizes = _profile(args)
    began = time.monotonic()
    out = sys.stdout

    out.write(f"# workspace-link benchmarks ({sizes.name})\n\n")
    out.write(f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC\n")
    out.write(f"- machine: {bench_common.machine()}\n")
    out.write(
        f"- keys: RSA-{sizes.key_bits} (rsa-pss-sha512), TLS on 127.0.0.1 with certificate verification\n"
    )
    out.flush()
    bench_common.material(sizes.key_bits)

    floor = asyncio.run(bench_floor.measure(sizes))
    f = floor.seconds
    out.write(f"- {bench_floor.describe(floor, sizes)}\n")
    out.flush()

    rows: list[Row] = []
    lat = asyncio.run(bench_link.latencies(sizes))
    for label, samples, what in (
        ("dispatch latency", lat.dispatch, "created in A -> created in B"),
        ("status round trip", lat.status, "B ends its execution -> A sees Succeeded"),
    ):
        m = bench_common.median(samples)
        rows.append(
            Row(
                label,
                f"{bench_common.ms(m)} (p90 {bench_common.ms(bench_common.p90(samples))})",
                bench_common.ms(f),
                _ratio(m, f),
                f"{what}; median of {len(samples)}, idle link before each",
            )
        )

    count, after = asyncio.run(bench_link.history(sizes))
    m, idle = bench_common.median(after), bench_common.median(lat.dispatch)
    rows.append(
        Row(
            f"dispatch latency after {count:,} ended executions",
            f"{bench_common.ms(m)} (p90 {bench_common.ms(bench_common.p90(after))})",
            f"{bench_common.ms(idle)} (dispatch above)",
            _ratio(m, idle),
            f"{count:,} executions sent, ended and acknowledged over the link first; median of {len(after)}",
        )
    )

    count, seconds = asyncio.run(bench_link.throughput(sizes))
    rate, floor_rate = count / seconds, 1 / f
    rows.append(
        Row(
            "executions per second, one link",
            f"{rate:.0f}/s ({count} in {seconds:.2f} s)",
            f"{floor_rate:.0f}/s (1 / floor)",
            _ratio(rate, floor_rate, unit="x (higher is better)"),
            "created in A -> Succeeded in A; B's executor is a HARNESS that ends each at once",
        )
    )

    count, seconds = asyncio.run(bench_link.mirror(sizes))
    rows.append(
        Row(
            f"mirror {count:,} past executions",
            f"{seconds:.2f} s ({count / seconds:.0f}/s)",
            f"{count * f:.2f} s ({count:,} x floor)",
            _ratio(seconds, count * f),
            "sendAllExecutions turned on -> B holds every mirror",
        )
    )

    memory = asyncio.run(bench_memory.measure(sizes))
    links, base = memory["links"], memory["floor"]
    n = int(links["count"])
    link_rss = links["rss_after"] - links["rss_before"]
    base_rss = base["rss_after"] - base["rss_before"]
    rows.append(
        Row(
            f"memory, {n} idle links",
            f"+{link_rss / MB:.1f} MB RSS, {link_rss / n / 1024:.0f} KB/link "
            f"(heap {links['heap'] / n / 1024:.0f} KB/link; process {links['rss_after'] / MB:.0f} MB)",
            f"+{base_rss / MB:.1f} MB, {base_rss / n / 1024:.0f} KB/connection "
            f"(heap {base['heap'] / n / 1024:.0f} KB)",
            _ratio(link_rss, base_rss),
            "dialer process; floor = one idle signed HTTPS connection with its own TLS context and key",
        )
    )

    out.write("\n| measure | figure | floor | ratio | notes |\n| --- | --- | --- | --- | --- |\n")
    for row in rows:
        out.write(f"| {row.measure} | {row.figure} | {row.floor} | {row.ratio} | {row.notes} |\n")
    out.write(
        "\nratio = figure / floor (for times and memory: lower is better). Both workspaces, and the floor's\n"
        "client and server, share one event loop. The HARNESS executor (bench_common.HarnessExecutor)\n"
        "stands in for runner processes so that the link, not process start-up, is measured.\n"
    )
    operator_sizes = {"smoke": bench_operator.SMOKE, "quick": bench_operator.QUICK}.get(
        sizes.name, bench_operator.FULL
    )
    if args.operator_latency_ms is not None:
        operator_sizes = dataclasses.replace(operator_sizes, latency=args.operator_latency_ms / 1000)
    result = asyncio.run(bench_operator.measure(operator_sizes, key_bits=sizes.key_bits))
    out.write("\n## " + bench_operator.report(result))

    out.write(f"\ntotal benchmark time: {time.monotonic() - began:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
