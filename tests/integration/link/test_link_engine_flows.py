"""Engine-style flows (examples/flows) in A whose children run in B over the link: the parent
reads what an Engine flow reads, and settings are those of the workspace a flow runs in."""

from __future__ import annotations

from link_harness import Linked

from workspace_link.core import naming, resources

REMOTE = {"remote": "link-to-b"}


async def start(linked: Linked, name: str, flow: str) -> dict:
    await linked.load_flows("a")
    await linked.link()
    await linked.run(name, flow, inputs=REMOTE)
    return resources.status(await linked.finished(name, timeout=60))


async def test_fan_out_into_the_linked_workspace(linked: Linked) -> None:
    status = await start(linked, "fan-1", "fanout")
    assert (status["phase"], status["message"]) == ("Succeeded", "4 checks done"), status
    assert status["outputs"] == {"squares": [0, 1, 4, 9], "statuses": ["ENDED_SUCCESS"] * 4}
    assert len(await linked.stores["b"].list(resources.EXECUTION)) == 4


async def test_all_ended_reads_a_remote_childs_failure_without_raising(linked: Linked) -> None:
    status = await start(linked, "probe-1", "probe")
    assert (status["phase"], status["reason"], status["message"]) == ("Failed", "FlowError", "check 3 failed")
    assert status["outputs"] == {
        "report": {"square": 25, "workspace": "ws-b"},
        "probe": {"name": "probe-3", "status": "ENDED_ERROR"},
    }


async def test_a_remote_child_locks_and_counts_in_its_own_workspaces_setting(linked: Linked) -> None:
    status = await start(linked, "tallies-1", "tallies")
    assert (status["phase"], status["message"]) == ("Succeeded", "counted 4 in link-to-b"), status
    assert status["outputs"] == {"counts": [1, 2, 3, 4]}
    tally = await linked.stores["b"].get(resources.SETTING, "tally")
    assert tally["spec"] == {"value": 4}  # counted and released
    # An Engine-style name: held by a valid object, the flow's name kept in the spec.
    runs = await linked.stores["b"].get(resources.SETTING, naming.setting_object_name("tally_runs"))
    assert runs["spec"]["name"] == "tally_runs"
    assert len(runs["spec"]["value"]) == 4
    assert await linked.stores["a"].list(resources.SETTING) == []


async def test_max_runtime_minutes_travels_and_the_peers_deadline_ends_the_child(linked: Linked) -> None:
    status = await start(linked, "deadline-1", "deadline")
    assert status["phase"] == "Succeeded", status
    assert status["outputs"]["status"] == "ENDED_ERROR"
    assert "deadline of 2 s" in status["outputs"]["message"]
    (received,) = await linked.stores["b"].list(resources.EXECUTION)
    assert received["spec"]["timeoutSeconds"] == 2
