"""The lifecycle core against the in-memory store, with an executor that only records calls."""

import base64

import pytest

from workspace_link.adapters.local import memstore
from workspace_link.core import errors, execution_state, labels, naming, resources
from workspace_link.engine import executions, runner_calls, workspace


class RecordingExecutor:
    """Stands in for Jobs/processes: the subject here is the lifecycle's decisions."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        #: Names of the runs started afresh (not ``resume``), once per call: a second would run
        #: the script twice.
        self.fresh_starts: list[str] = []
        self.cancelled: list[str] = []
        self.cleaned: list[str] = []

    async def start(self, execution: resources.Body, *, secret_name: str, resume: bool = False) -> str:
        self.started.append((resources.name(execution), secret_name))
        if not resume:
            self.fresh_starts.append(resources.name(execution))
        return naming.job_name(resources.name(execution))

    async def cancel(self, execution: resources.Body) -> None:
        self.cancelled.append(resources.name(execution))

    async def cleanup(self, execution: resources.Body) -> None:
        self.cleaned.append(resources.name(execution))


@pytest.fixture
def store() -> memstore.MemStore:
    return memstore.MemStore("ns-a")


@pytest.fixture
def executor() -> RecordingExecutor:
    return RecordingExecutor()


@pytest.fixture
def ws(store: memstore.MemStore, executor: RecordingExecutor) -> workspace.Workspace:
    return workspace.Workspace(namespace="ns-a", store=store, executor=executor)


async def make_flow(store: memstore.MemStore, name: str = "hello") -> None:
    await store.create(
        resources.FLOW, {"metadata": {"name": name}, "spec": {"script": "def handler(s, t): pass"}}
    )


async def make_execution(store: memstore.MemStore, name: str = "run-1", **spec: object) -> resources.Body:
    return await store.create(
        resources.EXECUTION, {"metadata": {"name": name}, "spec": spec or {"flow": "hello"}}
    )


async def test_the_in_memory_store_refuses_a_stale_status_write(store: memstore.MemStore) -> None:
    body = await make_execution(store)
    await store.replace_status(resources.EXECUTION, {**body, "status": {"phase": "Running"}})
    with pytest.raises(errors.Conflict):
        await store.replace_status(resources.EXECUTION, {**body, "status": {"phase": "Failed"}})
    assert resources.phase(await store.get(resources.EXECUTION, "run-1")) == "Running"


async def test_reconcile_claims_creates_the_runner_secret_and_starts_once(
    ws: workspace.Workspace, store: memstore.MemStore, executor: RecordingExecutor
) -> None:
    await make_flow(store)
    body = await make_execution(store)
    await executions.reconcile(ws, body)
    await executions.reconcile(ws, body)  # a stale, repeated event changes nothing more

    current = await store.get(resources.EXECUTION, "run-1")
    status = resources.status(current)
    assert status["phase"] == resources.RUNNING
    assert status["jobName"] == naming.job_name("run-1")
    assert status["version"] == 1

    secret = await store.get(resources.SECRET, naming.runner_secret_name("run-1"))
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert token.startswith("run-1.") and len(token) > 40
    assert base64.b64decode(secret["data"]["url"]).decode() == ws.settings.runner_api_url
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"][labels.EXECUTION] == "run-1"
    assert secret["metadata"]["labels"][labels.COMPONENT] == "runner-token"
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["uid"], owner["controller"], owner["blockOwnerDeletion"]) == (
        resources.uid(body),
        True,
        False,
    )

    assert {name for name, _ in executor.started} == {"run-1"}
    # Started afresh exactly once; the repeated reconcile may only make sure it exists (resume).
    assert executor.fresh_starts == ["run-1"]
    assert all(secret_name == naming.runner_secret_name("run-1") for _, secret_name in executor.started)
    assert [e["reason"] for e in store.events] == ["Started"]


async def test_a_missing_flow_fails_the_execution(ws: workspace.Workspace, store: memstore.MemStore) -> None:
    body = await make_execution(store, flow="nope")
    await executions.reconcile(ws, body)
    status = resources.status(await store.get(resources.EXECUTION, "run-1"))
    assert (status["phase"], status["reason"]) == (resources.FAILED, execution_state.FLOW_NOT_FOUND)
    assert "nope" in status["message"]
    assert store.events[-1]["type"] == "Warning"


async def test_a_remote_execution_is_labelled_for_its_link_without_a_status_write_and_not_run(
    ws: workspace.Workspace, store: memstore.MemStore, executor: RecordingExecutor
) -> None:
    body = await make_execution(store, flow="hello", remoteWorkspace="link-to-b")
    await executions.reconcile(ws, body)
    await executions.reconcile(ws, body)
    stored = await store.get(resources.EXECUTION, "run-1")
    assert resources.labels(stored)[labels.REMOTE_LINK] == "link-to-b"
    # Nothing waits for a status write before the start goes out: the state is read as unsent.
    assert "link" not in resources.status(stored)
    assert resources.link_status(stored) == {
        "name": "link-to-b",
        "localVersion": 1,
        "acknowledgedVersion": 0,
        "remoteVersion": 0,
    }
    assert executor.started == []

    await store.patch(resources.EXECUTION, "run-1", {"spec": {"cancel": True}})
    await executions.reconcile(ws, body)
    status = resources.status(await store.get(resources.EXECUTION, "run-1"))
    assert status["link"]["localVersion"] == 2
    assert (status["phase"], status["reason"]) == (resources.CANCELLED, execution_state.CANCELLED)


async def test_cancel_stops_the_run_and_cascades_to_children(
    ws: workspace.Workspace, store: memstore.MemStore, executor: RecordingExecutor
) -> None:
    await make_flow(store)
    parent = await make_execution(store, "parent")
    await executions.reconcile(ws, parent)
    parent = await store.get(resources.EXECUTION, "parent")
    child_name = await runner_calls.start_child(
        ws, parent, call_id="1", flow="hello", remote_workspace=None, inputs={"x": 1}, timeout_seconds=None
    )
    await executions.reconcile(ws, await store.get(resources.EXECUTION, child_name))

    await executions.cancel(ws, "parent")
    await executions.reconcile(ws, parent)
    assert resources.phase(await store.get(resources.EXECUTION, "parent")) == resources.CANCELLED
    assert executor.cancelled == ["parent"]
    child = await store.get(resources.EXECUTION, child_name)
    assert resources.spec(child)["cancel"] is True

    await executions.reconcile(ws, child)
    status = resources.status(await store.get(resources.EXECUTION, child_name))
    assert (status["phase"], status["reason"]) == (resources.CANCELLED, execution_state.PARENT_CANCELLED)
    assert executor.cancelled == ["parent", child_name]


async def test_start_child_is_idempotent_by_call_id(
    ws: workspace.Workspace, store: memstore.MemStore
) -> None:
    await make_flow(store)
    parent = await make_execution(store, "parent")
    await executions.reconcile(ws, parent)
    parent = await store.get(resources.EXECUTION, "parent")
    kwargs = {"flow": "hello", "remote_workspace": "link-to-b", "inputs": {}, "timeout_seconds": 5}
    first = await runner_calls.start_child(ws, parent, call_id="1", **kwargs)
    again = await runner_calls.start_child(ws, parent, call_id="1", **kwargs)
    other = await runner_calls.start_child(ws, parent, call_id="2", **kwargs)
    assert first == again != other
    child = await store.get(resources.EXECUTION, first)
    assert child["metadata"]["labels"][labels.PARENT] == "parent"
    assert child["metadata"]["labels"][labels.REMOTE_LINK] == "link-to-b"
    assert resources.spec(child) == {
        "flow": "hello",
        "inputs": {},
        "parent": "parent",
        "remoteWorkspace": "link-to-b",
        "timeoutSeconds": 5,
    }


async def test_start_child_names_a_bad_field(ws: workspace.Workspace, store: memstore.MemStore) -> None:
    await make_flow(store)
    parent = await make_execution(store, "parent")
    with pytest.raises(errors.SpecError) as info:
        await runner_calls.start_child(
            ws, parent, call_id="1", flow="hello", remote_workspace=None, inputs=None, timeout_seconds=0
        )
    assert info.value.field == "timeoutSeconds"
    assert await store.list(resources.EXECUTION, labels={labels.PARENT: "parent"}) == []


async def test_run_ended_changes_only_a_live_execution(
    ws: workspace.Workspace, store: memstore.MemStore
) -> None:
    await make_flow(store)
    await executions.reconcile(ws, await make_execution(store))
    await runner_calls.end(ws, "run-1", resources.SUCCEEDED, "fine", None)
    await executions.run_ended(
        ws, "run-1", phase=resources.FAILED, reason=execution_state.RUNNER_EXITED, message="exited 0"
    )
    status = resources.status(await store.get(resources.EXECUTION, "run-1"))
    assert (status["phase"], status["reason"], status["message"]) == (
        resources.SUCCEEDED,
        "Completed",
        "fine",
    )
    with pytest.raises(errors.InvalidTransition):
        await runner_calls.log(ws, "run-1", ["too late"])


async def test_cleanup_removes_the_run_and_its_secret(
    ws: workspace.Workspace, store: memstore.MemStore, executor: RecordingExecutor
) -> None:
    await make_flow(store)
    body = await make_execution(store)
    await executions.reconcile(ws, body)
    await executions.cleanup(ws, body)
    await executions.cleanup(ws, body)
    assert executor.cleaned == ["run-1", "run-1"]
    assert await store.list(resources.SECRET) == []


async def test_cancel_cascades_to_children_of_a_parent_whose_name_is_too_long_for_a_label(
    ws: workspace.Workspace, store: memstore.MemStore
) -> None:
    long_name = "nightly-report-" + "x" * 100  # a valid object name, not a valid label value
    await make_flow(store)
    parent = await make_execution(store, long_name)
    await executions.reconcile(ws, parent)
    parent = await store.get(resources.EXECUTION, long_name)
    child_name = await runner_calls.start_child(
        ws, parent, call_id="1", flow="hello", remote_workspace=None, inputs={}, timeout_seconds=None
    )
    assert len(resources.labels(await store.get(resources.EXECUTION, child_name))[labels.PARENT]) <= 63

    await executions.cancel(ws, long_name)
    await executions.reconcile(ws, parent)
    assert resources.spec(await store.get(resources.EXECUTION, child_name))["cancel"] is True


def test_label_values_are_names_when_valid_and_stable_hashes_otherwise() -> None:
    assert labels.value("link-to-b") == "link-to-b"
    hashed = labels.value("a" * 64)
    assert hashed == labels.value("a" * 64) != labels.value("a" * 65)
    assert len(hashed) <= 63 and hashed[0].isalnum() and hashed[-1].isalnum()
    assert labels.value("-leading-dash") != "-leading-dash"
