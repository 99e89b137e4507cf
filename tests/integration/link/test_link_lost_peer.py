"""A peer lost for longer than the timeout: the controlling side fails its live executions with
PeerLost and queues a cancel, which reaches the peer when it comes back; the failure is final."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trustme
from link_harness import SETTINGS, Identity, Linked, wait_until

from workspace_link.core import execution_state, labels, resources

SLOW = """
import time

def handler(system, this, inputs):
    time.sleep(60)
    return this.success("too late")
"""


async def test_a_lost_peer_fails_the_execution_and_the_cancel_follows_when_it_returns(
    tls: trustme.CA, identities: dict[str, Identity], tmp_path: Path
) -> None:
    linked = Linked(tls, identities, tmp_path)
    # B answers held polls quickly so a healthy link is never mistaken for a lost one.
    await linked.start("b", settings_=dataclasses.replace(SETTINGS, long_poll_hold=0.5))
    await linked.start("a", settings_=dataclasses.replace(SETTINGS, peer_lost_timeout=2.0))
    try:
        await linked.stores["a"].create(
            resources.FLOW, {"metadata": {"name": "slow"}, "spec": {"script": SLOW}}
        )
        await linked.link()
        await linked.run("far-1", "slow", remoteWorkspace="link-to-b")

        async def phase_in_a(wanted: str) -> resources.Body | None:
            body = await linked.stores["a"].get(resources.EXECUTION, "far-1")
            return body if resources.phase(body) == wanted else None

        await wait_until(linked.a, lambda: phase_in_a("Running"))
        await linked.stop("b")

        failed = await wait_until(linked.a, lambda: phase_in_a("Failed"))
        status = resources.status(failed)
        assert status["reason"] == execution_state.PEER_LOST
        assert "link-to-b" in status["message"]
        assert status["link"]["localVersion"] == 2  # the cancel is queued

        await linked.start("b")

        async def ended_in_b() -> resources.Body | None:
            (received,) = await linked.stores["b"].list(
                resources.EXECUTION, labels={labels.ORIGIN_LINK: "link-to-a"}
            )
            return received if resources.is_terminal(received) else None

        # Its run died with B: it failed RunLost at B's restart, or the cancel came first.
        ended = resources.status(await wait_until(linked.b, ended_in_b))
        assert (ended["phase"], ended["reason"]) in {("Failed", "RunLost"), ("Cancelled", "Cancelled")}

        async def cancel_acknowledged() -> bool:
            body = await linked.stores["a"].get(resources.EXECUTION, "far-1")
            return resources.status(body)["link"].get("acknowledgedVersion") == 2

        await wait_until(linked.a, cancel_acknowledged)
        final = resources.status(await linked.stores["a"].get(resources.EXECUTION, "far-1"))
        assert (final["phase"], final["reason"]) == ("Failed", execution_state.PEER_LOST)  # terminal is final
    finally:
        await linked.close()
