"""Many links times many executions at once: A dials B over several SyncConfigs, all busy together.

Every execution succeeds in its origin, each script runs exactly once, B receives each origin
once and through the link it was sent over, and a fresh exchange is still served afterwards.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import pytest
from fault_helpers import COUNTING_SCRIPT, runs
from link_harness import Linked

from workspace_link.core import labels, resources

pytestmark = pytest.mark.slow

LINKS = 4
PER_LINK = 10
TIMEOUT = 60.0


async def test_many_links_times_many_executions_run_once_each(linked: Linked, tmp_path: Path) -> None:
    tally = tmp_path / "tally"
    await linked.stores["a"].create(
        resources.FLOW, {"metadata": {"name": "count"}, "spec": {"script": COUNTING_SCRIPT}}
    )
    links = [f"link-to-b-{i}" for i in range(LINKS)]
    for i, link in enumerate(links):
        await linked.link(dialer_config=link, listener_config=f"link-to-a-{i}")
    sent = {f"run-{i}-{j}": link for i, link in enumerate(links) for j in range(PER_LINK)}
    # All created at once: every link has ten executions to carry in the same moment.
    await asyncio.gather(
        *(
            linked.run(name, "count", remoteWorkspace=link, inputs={"tally": str(tally), "id": name})
            for name, link in sent.items()
        )
    )
    ended = await asyncio.gather(*(linked.finished(name, timeout=TIMEOUT) for name in sent))
    phases = {resources.name(body): resources.phase(body) for body in ended}
    assert phases == dict.fromkeys(sent, "Succeeded")
    assert collections.Counter(runs(tally)) == dict.fromkeys(sent, 1)

    origins = {resources.uid(await linked.stores["a"].get(resources.EXECUTION, n)): n for n in sent}
    received = await linked.stores["b"].list(resources.EXECUTION)
    per_origin = collections.Counter(resources.labels(r).get(labels.ORIGIN_UID) for r in received)
    assert per_origin == dict.fromkeys(origins, 1), per_origin
    # Each arrived over the link it was sent on (B's side of link-to-b-i is link-to-a-i).
    for body in received:
        name = origins[resources.labels(body)[labels.ORIGIN_UID]]
        expected = "link-to-a-" + sent[name].rsplit("-", 1)[1]
        assert resources.labels(body).get(labels.ORIGIN_LINK) == expected, resources.labels(body)
    assert {name for side, name, _ in linked.exchanges if side == "a"} == set(links)

    # A legitimate exchange keeps being served on every link afterwards.
    after = [f"after-{i}" for i in range(LINKS)]
    for name, link in zip(after, links, strict=True):
        await linked.run(name, "count", remoteWorkspace=link, inputs={"tally": str(tally), "id": name})
    for name in after:
        assert resources.phase(await linked.finished(name, timeout=TIMEOUT)) == "Succeeded"
    assert collections.Counter(runs(tally)) == dict.fromkeys([*sent, *after], 1)
    received = await linked.stores["b"].list(resources.EXECUTION)
    assert len(received) == len(sent) + LINKS
    assert (
        max(collections.Counter(resources.labels(r).get(labels.ORIGIN_UID) for r in received).values()) == 1
    )
