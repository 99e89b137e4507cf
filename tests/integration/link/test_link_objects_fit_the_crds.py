"""What the core writes is what the CRDs accept.

On a real API server a status field the CRD does not declare is pruned silently, and a value
out of bounds fails the write: both would break the link there while the in-memory store
accepts them. So every SyncConfig, Flow and Execution both workspaces hold after a real run
(remote child, mirrors, conditions, counters) is validated against crds/ strictly.
"""

from __future__ import annotations

import sys
from pathlib import Path

from link_harness import Linked, wait_until

from workspace_link.core import resources

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "crds"))
import wl_crd_schema


async def test_every_object_written_during_a_linked_run_validates_against_its_crd(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.run("past", "hello", inputs={"name": "before"})
    await linked.finished("past")
    await linked.link(dialer_spec={"sendAllExecutions": True})
    await linked.run("main-1", "main")
    await linked.finished("main-1")

    async def mirrored_and_reported() -> bool:
        b_execs = await linked.stores["b"].list(resources.EXECUTION)
        a_config = await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b")
        conditions = resources.status(a_config).get("conditions", [])
        return any(e["spec"].get("mirror") for e in b_execs) and any(
            c["type"] == "Connected" and c["status"] == "True" for c in conditions
        )

    await wait_until(linked.a, mirrored_and_reported)

    validator = wl_crd_schema.CrdValidator()
    checked = 0
    for side in ("a", "b"):
        for kind in (resources.SYNC_CONFIG, resources.FLOW, resources.EXECUTION):
            for body in await linked.stores[side].list(kind):
                problems = [
                    f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.errors(body)
                ]
                assert not problems, f"{side}: {kind} {resources.name(body)}: {problems}"
                checked += 1
    assert checked >= 8
