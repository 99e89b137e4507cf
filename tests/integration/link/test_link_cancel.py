"""Cancellation both ways over a link, with real runner processes on both sides.

- A parent cancelled in A cancels its remote child: the cancel travels to B, whose runner
  process is stopped, and nothing there ends any other way.
- An execution cancelled in B (by B's own admin) reports Cancelled back: A's child ends
  Cancelled and the parent waiting on it fails with DependencyFailed, as with a local child.
"""

from __future__ import annotations

from link_harness import Linked, wait_until

from workspace_link.core import execution_state, labels, resources

SLOW = """
import time

def handler(system, this, inputs):
    this.log("started")
    time.sleep(3600)
"""

PARENT = """
def handler(system, this, inputs):
    this.flow("slow", remote_workspace_name="link-to-b")
    return this.success("the child ended well")
"""


async def _setup(linked: Linked) -> None:
    for name, script in (("slow", SLOW), ("parent", PARENT)):
        await linked.stores["a"].create(
            resources.FLOW, {"metadata": {"name": name}, "spec": {"script": script}}
        )
    await linked.link()
    await linked.run("parent-1", "parent")


async def _received_running(linked: Linked) -> resources.Body | None:
    received = await linked.stores["b"].list(resources.EXECUTION, labels={labels.ORIGIN_LINK: "link-to-a"})
    if received and resources.status(received[0]).get("logTail") == ["started"]:
        return received[0]
    return None


async def _child_in_a(linked: Linked) -> resources.Body:
    (child,) = await linked.stores["a"].list(resources.EXECUTION, labels={labels.PARENT: "parent-1"})
    return child


async def test_cancelling_a_parent_in_a_cancels_its_remote_child_in_b(linked: Linked) -> None:
    await _setup(linked)
    received = await wait_until(linked.b, lambda: _received_running(linked))
    name_in_b = resources.name(received)
    assert linked.b.executor.is_running(name_in_b)

    await linked.stores["a"].patch(resources.EXECUTION, "parent-1", {"spec": {"cancel": True}})

    async def cancelled_in_b() -> resources.Body | None:
        body = await linked.stores["b"].get(resources.EXECUTION, name_in_b)
        return body if resources.phase(body) == "Cancelled" else None

    await wait_until(linked.b, cancelled_in_b)
    assert await linked.b.executor.wait(name_in_b, timeout=20) is not None  # the process is gone
    assert not linked.b.executor.is_running(name_in_b)

    parent = await linked.finished("parent-1")
    assert resources.phase(parent) == "Cancelled"
    child = await _child_in_a(linked)
    assert resources.phase(child) == "Cancelled"


async def test_an_execution_cancelled_in_b_fails_the_waiting_parent_in_a(linked: Linked) -> None:
    await _setup(linked)
    received = await wait_until(linked.b, lambda: _received_running(linked))

    await linked.stores["b"].patch(resources.EXECUTION, resources.name(received), {"spec": {"cancel": True}})

    parent = await linked.finished("parent-1")
    status = resources.status(parent)
    assert (status["phase"], status["reason"]) == ("Failed", execution_state.DEPENDENCY_FAILED), status
    child = resources.status(await _child_in_a(linked))
    assert child["phase"] == "Cancelled"
    assert child["link"]["remoteName"] == resources.name(received)
