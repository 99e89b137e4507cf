"""Who the operator is to the API server (``apiserver.login``) and a rotated token (a 401).

Real files and a real HTTP server on 127.0.0.1: a refused request is a real request.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import aiohttp.web
import kopf
import pytest

from workspace_link.adapters.kube import apiserver, kubestore
from workspace_link.core import errors, resources


def _service_account(folder: pathlib.Path, token: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text(token + "\n")
    (folder / "ca.crt").write_text("not read here\n")
    return folder


def _kubeconfig(folder: pathlib.Path, user: str) -> pathlib.Path:
    """A one-context kubeconfig for https://127.0.0.1:6443 whose user is ``user`` (YAML flow)."""
    config = folder / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        f"users: [{{name: u, user: {user}}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u, namespace: ns}}]\n"
    )
    return config


async def test_in_a_pod_the_service_account_and_the_service_address_are_used(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _service_account(tmp_path / "sa", "pod-token")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    info = await apiserver.login(folder=folder)
    assert info.server == "https://[fd00::1]:6443"
    assert info.ca_path == str(folder / "ca.crt")
    assert info.as_http_headers()["Authorization"] == "Bearer pod-token"


async def test_out_of_a_pod_the_kubeconfig_is_used(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = _kubeconfig(tmp_path, "{token: config-token}")
    monkeypatch.setenv("KUBECONFIG", str(config))
    info = await apiserver.login(folder=tmp_path / "no-service-account")
    assert info.server == "https://127.0.0.1:6443"
    assert info.as_http_headers()["Authorization"] == "Bearer config-token"


@pytest.mark.parametrize("plugin", ["exec", "auth-provider"])
async def test_a_kubeconfig_user_with_a_plugin_is_refused_naming_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, plugin: str
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = _kubeconfig(tmp_path, f"{{{plugin}: {{command: get-a-token, apiVersion: v1}}}}")
    monkeypatch.setenv("KUBECONFIG", str(config))
    with pytest.raises(errors.SpecError) as raised:
        await apiserver.login(folder=tmp_path / "no-service-account")
    assert raised.value.field == f"kubeconfig users[].user.{plugin}"
    assert "in the cluster" in str(raised.value)


async def test_nothing_to_log_in_with_is_a_clear_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(errors.SpecError) as raised:
        await apiserver.login(folder=tmp_path / "no-service-account")
    assert raised.value.field == "KUBECONFIG"


@pytest.fixture
async def api_server() -> AsyncIterator[tuple[str, list[str]]]:
    """An API server that takes only the token ``new`` and answers one ConfigMap."""
    seen: list[str] = []

    async def configmap(request: aiohttp.web.Request) -> aiohttp.web.Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer new":
            return aiohttp.web.json_response(
                {"kind": "Status", "code": 401, "message": "Unauthorized"}, status=401
            )
        return aiohttp.web.json_response(
            {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}}
        )

    app = aiohttp.web.Application()
    app.router.add_get("/api/v1/namespaces/ns/configmaps/cm", configmap)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_a_rotated_token_logs_in_again_and_the_request_is_retried_once(
    api_server: tuple[str, list[str]],
) -> None:
    url, seen = api_server
    logins: list[str] = []

    async def relogin() -> kopf.ConnectionInfo:
        logins.append("again")  # as the kubelet has rotated the projected token meanwhile
        return kopf.ConnectionInfo(server=url, scheme="Bearer", token="new")

    api = apiserver.ApiSession(kopf.ConnectionInfo(server=url, scheme="Bearer", token="old"), relogin=relogin)
    try:
        store = kubestore.KubeStore("ns", api)
        body = await store.get(resources.CONFIG_MAP, "cm")
        assert body["data"] == {"a": "b"}
        assert seen == ["Bearer old", "Bearer new"] and logins == ["again"]
        await store.get(resources.CONFIG_MAP, "cm")  # the new token stays
        assert seen[-1] == "Bearer new" and logins == ["again"]
    finally:
        await api.close()


async def test_credentials_that_stay_refused_are_an_admins_problem_without_the_token(
    api_server: tuple[str, list[str]],
) -> None:
    url, seen = api_server

    async def relogin() -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, scheme="Bearer", token="still-old")

    api = apiserver.ApiSession(kopf.ConnectionInfo(server=url, scheme="Bearer", token="old"), relogin=relogin)
    try:
        with pytest.raises(errors.StoreRefused) as raised:
            await kubestore.KubeStore("ns", api).get(resources.CONFIG_MAP, "cm")
        assert len(seen) == 2  # one retry, not a loop
        assert "old" not in str(raised.value)
    finally:
        await api.close()


async def test_an_unreachable_api_server_is_transient() -> None:
    api = apiserver.ApiSession(kopf.ConnectionInfo(server="http://127.0.0.1:9"))
    try:
        with pytest.raises(errors.StoreUnavailable):
            await kubestore.KubeStore("ns", api).get(resources.CONFIG_MAP, "cm")
    finally:
        await api.close()
