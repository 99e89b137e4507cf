"""The fault suite's figures: remote executions through a fault-injecting proxy, per fault.

    python bench/bench_faults.py              # 30 executions per fault
    python bench/bench_faults.py --executions 8

Two embedded workspaces in this process (real HTTPS on 127.0.0.1, real keys, real runner
processes), A's link to B through ``tests/faults/fault_proxy.FaultProxy``; each execution runs
a script that appends its id to a file, so a script run twice is counted, not inferred. Prints
one Markdown table: sent, completed, lost, duplicated (two executions in B for one origin),
run twice, 5xx answered by the listener, peak RSS of the process (both workspaces), seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT / "operator"),
    str(ROOT / "tests" / "faults"),
    str(ROOT / "tests" / "integration" / "link"),
]

import trustme  # noqa: E402
from fault_proxy import FAULTS  # noqa: E402
from fault_scenarios import Figures, run_through_proxy  # noqa: E402
from link_harness import Linked, new_identity  # noqa: E402


async def one(fault: str, executions: int, ca: trustme.CA, ids: dict[str, object]) -> Figures:
    folder = Path(tempfile.mkdtemp(prefix=f"wl-faults-{fault}-"))
    pair = Linked(ca, ids, folder)  # type: ignore[arg-type]
    await pair.start("b")
    await pair.start("a")
    try:
        return await run_through_proxy(pair, fault, executions=executions, tally=folder / "tally")
    finally:
        await pair.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=30)
    args = parser.parse_args(argv)
    ca = trustme.CA()
    ids = {name: new_identity() for name in ("a", "b", "other")}
    print("| fault | sent | completed | lost | duplicated | run twice | 5xx | peak RSS | s | connections |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    bad = 0
    for fault in ("none", *FAULTS):
        f = asyncio.run(one(fault, args.executions, ca, ids))
        conns = ", ".join(f"{k} {v}" for k, v in sorted(f.connections.items()))
        print(
            f"| {fault} | {f.sent} | {f.completed} | {f.lost} | {f.duplicated} | {f.run_twice} |"
            f" {f.server_errors} | {f.peak_rss_mib} MiB | {f.seconds} | {conns} |",
            flush=True,
        )
        bad += f.lost + f.duplicated + f.run_twice + f.server_errors
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
