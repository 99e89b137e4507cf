"""Flow scripts run end to end: real runner processes, the real runner API over HTTP, a memstore."""

import os

from workspace_link.adapters.local import embedded
from workspace_link.core import execution_state, labels, resources


def status_of(body: resources.Body) -> dict:
    return resources.status(body)


async def test_a_flow_succeeds_with_its_outputs(local: embedded.EmbeddedWorkspace, run_flow) -> None:
    status = status_of(await run_flow("success", "ok-1", {"name": "x"}))
    assert (status["phase"], status["reason"], status["message"]) == ("Succeeded", "Completed", "all done")
    assert status["outputs"] == {"greeting": "hello x", "workspace": "ns-a", "count": 2}
    assert status["logTail"] == ["greeting x"]
    assert status["startTime"] and status["endTime"]
    reasons = [(e["name"], e["reason"]) for e in local.store.events]
    assert ("ok-1", "Started") in reasons and ("ok-1", "Succeeded") in reasons
    assert "greeting x" in local.executor.log_path("ok-1").read_text()


async def test_a_two_argument_handler_that_returns_succeeds(run_flow) -> None:
    status = status_of(await run_flow("two_args", "two-1", {"x": 4}))
    assert status["phase"] == "Succeeded"
    assert status["outputs"] == {"doubled": 8}


async def test_this_error_fails_the_execution_and_except_exception_does_not_swallow_it(run_flow) -> None:
    status = status_of(await run_flow("flow_error", "err-1"))
    assert (status["phase"], status["reason"]) == ("Failed", execution_state.FLOW_ERROR)
    assert status["message"] == "the input was rejected"
    assert status.get("outputs") is None


async def test_an_unhandled_exception_fails_with_its_traceback(
    local: embedded.EmbeddedWorkspace, run_flow
) -> None:
    status = status_of(await run_flow("unhandled", "boom-1"))
    assert (status["phase"], status["reason"]) == ("Failed", execution_state.UNHANDLED_EXCEPTION)
    message = status["message"]
    assert message.startswith("Traceback (most recent call last):")
    assert 'File "<flow unhandled>", line 5, in compute' in message
    assert "return 1 / value" in message
    assert message.rstrip().endswith("ZeroDivisionError: division by zero")
    warning = [e for e in local.store.events if e["name"] == "boom-1" and e["type"] == "Warning"]
    assert warning and warning[0]["message"] == "ZeroDivisionError: division by zero"


async def test_a_parent_reads_the_outputs_of_a_local_child(
    local: embedded.EmbeddedWorkspace, run_flow
) -> None:
    status = status_of(await run_flow("parent_child", "parent-1"))
    assert status["phase"] == "Succeeded", status.get("message")
    assert status["outputs"] == {"child_status": "ENDED_SUCCESS", "child_result": 42}
    (child,) = await local.store.list(resources.EXECUTION, labels={labels.PARENT: "parent-1"})
    assert resources.spec(child)["parent"] == "parent-1"
    assert status["message"] == f"child {resources.name(child)} done"
    assert status_of(child)["outputs"] == {"doubled": 42}


async def test_a_failing_child_raises_dependency_failed_in_the_parent(run_flow) -> None:
    status = status_of(await run_flow("parent_failing_child", "parent-2"))
    assert (status["phase"], status["reason"]) == ("Failed", execution_state.DEPENDENCY_FAILED)
    assert status["outputs"]["caught"] == "Failed"
    assert "DependencyFailedError" in status["message"]
    assert "ZeroDivisionError: division by zero" in status["message"], "the child's message is carried over"


async def test_a_child_wait_that_runs_out_raises_timeout_exceeded(
    local: embedded.EmbeddedWorkspace, run_flow
) -> None:
    status = status_of(await run_flow("parent_wait_timeout", "parent-3"))
    assert (status["phase"], status["reason"]) == ("Failed", execution_state.UNHANDLED_EXCEPTION)
    assert status["outputs"]["child_status"] == "RUNNING"
    assert "DependencyTimeoutError" in status["message"]
    assert "did not end within 0.5 s" in status["message"]
    # The failed parent waits for nothing any more: its children are cancelled, their runners stopped.
    children = await local.store.list(resources.EXECUTION, labels={labels.PARENT: "parent-3"})
    assert len(children) == 2
    for child in children:
        name = resources.name(child)
        body = await local.wait_for_phase(name, {"Cancelled"}, timeout=20)
        assert status_of(body)["reason"] == execution_state.PARENT_CANCELLED
        assert await local.executor.wait(name, timeout=20) is not None
        assert not local.executor.is_running(name)


async def test_cancelling_a_running_execution_stops_it_and_its_children(
    local: embedded.EmbeddedWorkspace, run_flow, wait_until
) -> None:
    await run_flow("parent_of_slow", "parent-4", wait=False)

    async def everything_started() -> bool:
        parent = await local.store.get(resources.EXECUTION, "parent-4")
        children = status_of(parent).get("outputs", {}).get("children", [])
        if "children started" not in status_of(parent).get("logTail", []) or len(children) != 2:
            return False
        for name in children:
            if "started" not in status_of(await local.store.get(resources.EXECUTION, name)).get(
                "logTail", []
            ):
                return False
        return True

    await wait_until(everything_started)
    children = status_of(await local.store.get(resources.EXECUTION, "parent-4"))["outputs"]["children"]
    pids = [local.executor.pid(name) for name in ["parent-4", *children]]

    await local.store.patch(resources.EXECUTION, "parent-4", {"spec": {"cancel": True}})

    parent = await local.wait_for_phase("parent-4", {"Cancelled"}, timeout=20)
    assert (status_of(parent)["reason"], status_of(parent)["message"]) == (
        "Cancelled",
        "cancelled by request",
    )
    for name in children:
        child = await local.wait_for_phase(name, {"Cancelled"}, timeout=20)
        assert status_of(child)["reason"] == execution_state.PARENT_CANCELLED
    for name, pid in zip(["parent-4", *children], pids, strict=True):
        # The runner ends the flow on SIGTERM through a lifecycle signal and exits cleanly.
        assert await local.executor.wait(name, timeout=20) == 0
        assert not local.executor.is_running(name)
        assert pid is not None and not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_restart_over_the_same_store_fails_a_lost_execution_instead_of_running_it_again(
    local: embedded.EmbeddedWorkspace, run_flow, tmp_path
) -> None:
    await run_flow("slow", "survivor", wait=False)
    await _wait_for_log(local, "survivor", ["started"])
    await local.stop()  # the processes die with it; the store, like etcd, stays

    body = await local.store.get(resources.EXECUTION, "survivor")
    assert status_of(body)["phase"] == "Running"
    async with embedded.EmbeddedWorkspace("ns-a", store=local.store, log_dir=tmp_path / "2") as again:
        # As a Job that vanished: the script may have done anything, so it is not run twice.
        body = await again.wait_for_phase("survivor", {"Failed"}, timeout=20)
        assert status_of(body)["reason"] == "RunLost"
        assert status_of(body)["logTail"] == ["started"]
        assert again.executor.pid("survivor") is None
    await local.start()  # the fixture stops it again


async def _wait_for_log(workspace: embedded.EmbeddedWorkspace, name: str, lines: list[str]) -> None:
    while True:
        since = workspace.ws.changes.counter
        body = await workspace.store.get(resources.EXECUTION, name)
        if status_of(body).get("logTail") == lines:
            return
        assert await workspace.ws.changes.wait(since, 20), status_of(body)
