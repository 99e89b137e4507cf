"""The operator's kopf handlers running against the API server emulator, in the test's loop.

``api_server`` is kmock's emulator (plus ``apiserver_emulator``'s uids, resourceVersions and
PUT); ``operator`` runs kopf on ``handlers.registry`` exactly as ``run_operator`` does, logged in
through a kubeconfig that points at the emulator; ``kube`` is a ``KubeStore`` the test uses as
``kubectl`` (and as the Job controller, setting Job status).
"""

from __future__ import annotations

import asyncio
import pathlib
import threading
from collections.abc import AsyncIterator

import kmock
import kopf
import pytest
from apiserver_emulator import ApiServerEmulator
from kopf_helpers import NAMESPACE
from kubernetes import client as k8s_client

from workspace_link import handlers, kubestore

_RESOURCES = {
    "workspacelink.io/v1alpha1/executions": ("Execution", {"status"}),
    "workspacelink.io/v1alpha1/flows": ("Flow", set()),
    "workspacelink.io/v1alpha1/syncconfigs": ("SyncConfig", {"status"}),
    "batch/v1/jobs": ("Job", {"status"}),
    "v1/pods": ("Pod", {"status"}),
    "v1/secrets": ("Secret", set()),
    "v1/configmaps": ("ConfigMap", set()),
    "v1/events": ("Event", set()),
}
#: Discovered, never listed (scanning is disabled): kopf waits to see them in discovery.
_CLUSTER_RESOURCES = {
    "v1/namespaces": "Namespace",
    "apiextensions.k8s.io/v1/customresourcedefinitions": "CustomResourceDefinition",
}
_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


@pytest.fixture
async def api_server() -> AsyncIterator[ApiServerEmulator]:
    async with ApiServerEmulator() as emulator, kmock.Server(emulator):
        for resource, (kind, subresources) in _RESOURCES.items():
            emulator.resources[resource] = kmock.ResourceInfo(
                kind=kind, namespaced=True, verbs=_VERBS, subresources=subresources
            )
        for resource, kind in _CLUSTER_RESOURCES.items():
            emulator.resources[resource] = kmock.ResourceInfo(
                kind=kind, namespaced=False, verbs={"get", "list"}
            )
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
    api_client = k8s_client.ApiClient(k8s_client.Configuration(host=kubeconfig))
    yield kubestore.KubeStore(NAMESPACE, api_client)
    api_client.close()


@pytest.fixture
async def operator(kubeconfig: str) -> AsyncIterator[kopf.Memo]:
    """kopf in a thread of its own, as in production a process of its own.

    In the test's loop, kopf would count pytest's teardown task among the tasks "hung" at its
    exit and wait for it (which waits for kopf), then cancel it.
    """
    stop = threading.Event()
    ready = threading.Event()
    memo = kopf.Memo()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=handlers.registry,
                    settings=handlers.operator_settings(),
                    namespaces=[NAMESPACE],
                    standalone=True,
                    stop_flag=stop,
                    ready_flag=ready,
                    memo=memo,
                )
            )
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="kopf-operator", daemon=True)
    thread.start()
    assert await asyncio.to_thread(ready.wait, 20), "the operator did not become ready"
    if failure:
        raise failure[0]
    yield memo
    stop.set()
    await asyncio.to_thread(thread.join, 20)
    assert not thread.is_alive(), "the operator did not stop"
    if failure:
        raise failure[0]
