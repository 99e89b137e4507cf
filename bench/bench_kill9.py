"""Issue #12's figures for ``kill -9``: an operator killed in the middle of a burst, on the operator path.

    python bench/bench_kill9.py                 # 30 executions, each side killed once
    python bench/bench_kill9.py --executions 60

Both operators of one link on the API server emulator (``tests/integration/kopf/operator_pair``,
each in its own process; the emulator outlives them as the API server does). N remote
executions are created in A by 4 creators; once a third of them have reached B, one operator
is sent SIGKILL and started again; B's runner (played by ``POST /v1/end``, retried as
``flow_api.client`` retries) ends each execution once B shows it Running. Counted from the store
and the emulator's records, never from logs: completed (Succeeded in A), lost, duplicated (two
executions in B for one origin), run twice (a runner Job or Secret created twice for one
execution), 5xx answered to an operator, peak RSS of the operators. ``tests/faults/
test_faults_kill9.py`` asserts the same at each single step of an exchange.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "operator"), str(ROOT / "tests" / "integration" / "kopf")]

import operator_pair as op  # noqa: E402

from workspace_link.core import labels, resources  # noqa: E402

#: A short backoff, so the dialer finds a restarted peer within a second or two.
ENV = {"WL_BACKOFF_INITIAL": "0.2", "WL_BACKOFF_MAX": "2"}
CREATORS = 4
MB = 1024 * 1024


@dataclasses.dataclass
class Figures:
    killed: str
    sent: int
    completed: int
    lost: int
    duplicated: int
    run_twice: int
    server_errors: int
    peak_rss_mib: int
    seconds: float


async def one(killed: str, executions: int) -> Figures:
    async with op.LinkedOperators(env=ENV) as pair:
        names = [f"k-{i}" for i in range(executions)]
        since = len(pair.emulator.requests)
        runner_statuses: list[int] = []
        peak = 0

        async def kill_once() -> None:
            nonlocal peak
            await pair.wait_for(
                lambda: len(pair.created_in_b) >= executions // 3, what="a third in B", timeout=120
            )
            target = pair.a if killed == "A" else pair.b
            assert target is not None
            peak = max(peak, target.rss())
            await target.kill()
            await target.start()

        started = time.monotonic()
        # What is not Succeeded by then is counted lost below, not raised.
        await pair.burst(
            names,
            creators=CREATORS,
            end=lambda name: pair.end_in_b_retried(name, runner_statuses),
            during=kill_once(),
            timeout=180,
        )
        seconds = time.monotonic() - started
        assert pair.a is not None and pair.b is not None
        peak = max(peak, pair.a.rss(), pair.b.rss())

        in_a = {resources.name(b): b for b in await pair.kube[op.A_NAMESPACE].list(resources.EXECUTION)}
        completed = sum(resources.phase(in_a[n]) == resources.SUCCEEDED for n in names if n in in_a)
        in_b = await pair.kube[op.B_NAMESPACE].list(resources.EXECUTION)
        per_origin = collections.Counter(resources.labels(b).get(labels.ORIGIN_UID) for b in in_b)
        duplicated = sum(count - 1 for count in per_origin.values() if count > 1)
        records = pair.emulator.requests[since:]
        creates = collections.Counter(
            (r.resource, r.name)
            for r in records
            if r.method == "POST"
            and r.resource in ("jobs", "secrets")
            and (r.status or 0) < 300
            and not r.dropped
        )
        run_twice = sum(count - 1 for count in creates.values() if count > 1)
        server_errors = sum(1 for r in records if (r.status or 0) >= 500 and not r.dropped) + sum(
            1 for s in runner_statuses if s >= 500
        )
        return Figures(
            killed=f"kill -9 {killed} mid-burst",
            sent=executions,
            completed=completed,
            lost=executions - completed,
            duplicated=duplicated,
            run_twice=run_twice,
            server_errors=server_errors,
            peak_rss_mib=round(peak / MB),
            seconds=round(seconds, 1),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=30)
    args = parser.parse_args(argv)
    print("| fault | sent | completed | lost | duplicated | run twice | 5xx | peak RSS (operators) | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    bad = 0
    for killed in ("A", "B"):
        f = asyncio.run(one(killed, args.executions))
        print(
            f"| {f.killed} | {f.sent} | {f.completed} | {f.lost} | {f.duplicated} | {f.run_twice} |"
            f" {f.server_errors} | {f.peak_rss_mib} MiB | {f.seconds} |",
            flush=True,
        )
        bad += f.lost + f.duplicated + f.run_twice + f.server_errors
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
