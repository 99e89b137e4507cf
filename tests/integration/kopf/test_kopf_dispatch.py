"""What A writes before it sends: nothing on the dispatch path (issue #11).

An Execution created as ``kubectl`` creates one carries no ``remote-link`` label, by which A's
link finds what it sends. A writes the label, but sends the start while that PATCH is still in
flight (``workspace.Unlabelled``): the PATCH costs a request, never the dispatch's latency.
Both operators run in their own processes on the emulator (``operator_pair``), which holds A's
label PATCH unanswered until B has created its execution.
"""

from __future__ import annotations

import asyncio

import operator_pair as op
import pytest

from workspace_link.core import labels, resources

pytestmark = pytest.mark.slow


async def test_an_execution_created_unlabelled_reaches_b_before_its_label_is_written(
    pair: op.LinkedOperators,
) -> None:
    held = pair.emulator.hold(op.Hold(op.A_NAMESPACE, "PATCH", "executions", name="unlabelled"))

    _, body = await pair.create_remote("unlabelled")
    await asyncio.wait_for(held.reached.wait(), 30)
    _, in_b = await pair.wait_in_b(body, timeout=30)

    stored = await pair.kube[op.A_NAMESPACE].get(resources.EXECUTION, "unlabelled")
    assert labels.REMOTE_LINK not in resources.labels(stored), "B had it only after the label was written"
    held.release()
    await pair.wait_for(lambda: pair.phase_at(op.B_NAMESPACE, in_b, resources.RUNNING), what="Running in B")
    await pair.end_in_b(in_b)
    await pair.wait_for(
        lambda: pair.phase_at(op.A_NAMESPACE, "unlabelled", resources.SUCCEEDED), what="Succeeded in A"
    )
    stored = await pair.kube[op.A_NAMESPACE].get(resources.EXECUTION, "unlabelled")
    assert resources.labels(stored)[labels.REMOTE_LINK] == labels.value(op.A_CONFIG)
    received = await pair.kube[op.B_NAMESPACE].list(resources.EXECUTION)
    from_it = [resources.name(b) for b in received if resources.origin(b).get("uid") == resources.uid(body)]
    assert from_it == [in_b], "sent once, received once"
