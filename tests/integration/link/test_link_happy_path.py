"""The example flow runs in A, its child runs in B over the link, and A reads the child's result."""

from __future__ import annotations

import dataclasses

import httpx
import prometheus_client
from link_harness import SETTINGS, Linked, wait_until

from workspace_link.core import labels, resources


async def test_the_example_flow_runs_its_child_in_the_linked_workspace(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.link()
    await linked.run("main-1", "main")
    parent = await linked.finished("main-1")
    assert resources.phase(parent) == "Succeeded", resources.status(parent)
    assert resources.status(parent)["message"] == "all done"

    # A's child was sent over the link; its outputs came back and are readable in A.
    (child,) = await linked.stores["a"].list(resources.EXECUTION, labels={labels.PARENT: "main-1"})
    child_status = resources.status(child)
    assert child_status["phase"] == "Succeeded"
    assert child_status["outputs"] == {"greeting": "hello, x"}
    assert child_status["link"]["remoteName"]
    assert "remote said" in " ".join(resources.status(parent).get("logTail", []))

    # In B: the execution and its script are visible, it carries its origin, no Flow exists.
    (received,) = await linked.stores["b"].list(resources.EXECUTION)
    assert resources.name(received) == child_status["link"]["remoteName"]
    assert "hello" in received["spec"]["script"] and "greeting" in received["spec"]["script"]
    assert received["status"]["origin"]["uid"] == resources.uid(child)
    assert received["status"]["origin"]["workspace"] == "ws-a"
    assert resources.labels(received)[labels.ORIGIN_LINK] == "link-to-a"
    assert await linked.stores["b"].list(resources.FLOW) == []

    # Both SyncConfigs say the link is up, with the path the peer must use.
    async def connected() -> bool:
        config = await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b")
        conditions = {c["type"]: c["status"] for c in resources.status(config).get("conditions", [])}
        return conditions.get("Connected") == "True" and conditions.get("Ready") == "True"

    await wait_until(linked.a, connected)
    listener = resources.status(await linked.stores["b"].get(resources.SYNC_CONFIG, "link-to-a"))
    assert listener["path"] == "/api/latest/sync_config/link-to-a/sync"
    assert listener["mode"] == "Listener" and listener["role"] == "Controlled"


async def test_a_new_idle_link_shows_connected_without_waiting_out_a_long_poll(linked: Linked) -> None:
    # A hold far longer than the wait below: Connected can only come from an immediate answer.
    slow_polls = dataclasses.replace(SETTINGS, long_poll_hold=3600.0)
    await linked.stop("a")
    await linked.start("a", settings_=slow_polls)
    await linked.link()

    async def connected() -> bool:
        config = await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b")
        conditions = {c["type"]: c["status"] for c in resources.status(config).get("conditions", [])}
        return conditions.get("Connected") == "True"

    await wait_until(linked.a, connected, timeout=15.0)


async def test_exchanges_and_refusals_are_counted_for_prometheus(linked: Linked) -> None:
    def sample(name: str, **labels_: str) -> float:
        return prometheus_client.REGISTRY.get_sample_value(name, labels_) or 0.0

    before_dialer = sample("workspace_link_dialer_exchanges_total", config="link-to-b")
    before_sent = sample("workspace_link_messages_sent_total", config="link-to-b")
    before_missing = sample("workspace_link_sync_refusals_total", reason="missing")
    await linked.load_flows("a")
    await linked.link()
    await linked.run("main-1", "main")
    await linked.finished("main-1")
    async with httpx.AsyncClient(verify=False) as client:
        refused = await client.post(
            linked.b.sync_url_for("link-to-a"), content=b"{}", headers={"Content-Type": "application/json"}
        )
    assert refused.status_code == 401

    assert sample("workspace_link_dialer_exchanges_total", config="link-to-b") > before_dialer
    assert sample("workspace_link_messages_sent_total", config="link-to-b") >= before_sent + 1
    assert sample("workspace_link_sync_exchanges_total", config="link-to-a") > 0
    assert sample("workspace_link_sync_refusals_total", reason="missing") == before_missing + 1
