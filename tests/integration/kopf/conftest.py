"""The operator's kopf handlers running against the API server emulator, in the test's loop.

``api_server`` is kmock's emulator (plus ``apiserver_emulator``'s uids, resourceVersions and
PUT); ``operator`` runs kopf on ``handlers.registry`` exactly as ``run_operator`` does, logged in
through a kubeconfig that points at the emulator; ``kube`` is a ``KubeStore`` the test uses as
``kubectl`` (and as the Job controller, setting Job status). ``start_operator`` runs
``workspace-link operator`` itself in a process of its own (``operator_process``).
"""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping

import kmock
import kopf
import operator_pair
import pytest
from apiserver_emulator import ApiServerEmulator
from kopf_helpers import NAMESPACE, OperatorThread
from operator_process import OperatorProcess, StartOperator, shared_dir

from workspace_link.adapters.kube import apiserver, kubestore


@pytest.fixture
async def api_server(request: pytest.FixtureRequest) -> AsyncIterator[ApiServerEmulator]:
    async with ApiServerEmulator() as emulator, kmock.Server(emulator):
        request.node.wl_emulator = emulator  # read after teardown by _operator_stays_within_its_role
        emulator.register_resources()
        yield emulator


@pytest.fixture
def kubeconfig(api_server: ApiServerEmulator, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    server = str(api_server.url).rstrip("/")
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: emu, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: op, user: {token: not-a-secret}}]\n"
        f"contexts: [{{name: emu, context: {{cluster: emu, user: op, namespace: {NAMESPACE}}}}}]\n"
        "current-context: emu\n"
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("WL_NAMESPACE", NAMESPACE)
    # Ephemeral ports: the operator serves its listener, runner API and health endpoint.
    for port in ("WL_SYNC_PORT", "WL_RUNNER_PORT", "WL_HEALTH_PORT"):
        monkeypatch.setenv(port, "0")
    monkeypatch.setenv("WL_RUNNER_IMAGE", "registry.example/workspace-link:test")
    return server


@pytest.fixture
async def kube(kubeconfig: str) -> AsyncIterator[kubestore.KubeStore]:
    # The tests' own session: no token, so the emulator does not take it for the operator's.
    api = apiserver.ApiSession(kopf.ConnectionInfo(server=kubeconfig))
    yield kubestore.KubeStore(NAMESPACE, api)
    await api.close()


@pytest.fixture
async def operator(kubeconfig: str) -> AsyncIterator[kopf.Memo]:
    """The operator, started and ready; stopped (and checked to stop cleanly) after the test."""
    running = OperatorThread()
    await running.start()
    running.raise_failure()
    yield running.memo
    await running.stop()
    running.raise_failure()


@pytest.fixture
async def start_operator(api_server: ApiServerEmulator) -> AsyncIterator[StartOperator]:
    """``await start_operator(namespace, env={...}, uid=...)``: a started operator process;
    every one is stopped after the test."""
    directory = shared_dir()
    started: list[OperatorProcess] = []

    async def start(
        namespace: str = NAMESPACE, *, env: Mapping[str, str | None] | None = None, uid: int | None = None
    ) -> OperatorProcess:
        process = OperatorProcess(
            server=str(api_server.url).rstrip("/"), namespace=namespace, directory=directory, env=env, uid=uid
        )
        started.append(process)
        await process.start()
        return process

    yield start
    for process in started:
        await process.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[operator_pair.LinkedOperators]:
    """Both operators of a link, each in its own process, on a latency-injecting emulator."""
    async with operator_pair.LinkedOperators() as linked:
        # The folder's role check (below) looks at every request the operators made.
        request.node.wl_emulator = linked.emulator
        yield linked


#: Every (apiGroup, resource, verb) the operator used across this folder's tests.
USED_PERMISSIONS: set[tuple[str, str, str]] = set()


@pytest.fixture(autouse=True)
def _operator_stays_within_its_role(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test with an API server: every request the operator made (authenticated
    requests; the tests' own client sends none) is one the chart's Role grants, since the
    Role is REQUIRED_PERMISSIONS (tests/unit/chart compares them). A 403 on a real cluster
    is caught here instead."""
    yield
    emulator: ApiServerEmulator | None = getattr(request.node, "wl_emulator", None)
    if emulator is None:
        return
    granted = {
        (group, resource, verb) for group, resource, verbs in kubestore.REQUIRED_PERMISSIONS for verb in verbs
    }
    seen = set(getattr(emulator, "seen", []))
    USED_PERMISSIONS.update(seen)
    assert seen - granted == set(), f"the operator used permissions its Role lacks: {sorted(seen - granted)}"
