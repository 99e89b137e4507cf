"""Which Secret events wake the links: those a SyncConfig reads, never the runner Secrets.

Two layers (``handlers.secret_event`` says why): the API server is asked to leave the runner
Secrets out of the watch (the emulator does not filter, so this is checked on the request), and
kopf drops every Secret no SyncConfig names before the handler runs (checked on the handler).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
import pytest
from apiserver_emulator import ApiServerEmulator
from kopf_helpers import HELLO_FLOW, NAMESPACE, eventually, execution_body, get_or_none

from workspace_link.adapters.kube import handlers, kubestore
from workspace_link.cli import manifests
from workspace_link.core import certs, keys, labels, naming

NAME = "link-to-b"
OWN, REMOTE, CA = (
    manifests.private_key_secret_name(NAME),
    manifests.remote_key_secret_name(NAME),
    manifests.ca_secret_name(NAME),
)


@pytest.fixture(scope="module")
def key_pems() -> tuple[bytes, bytes]:
    own = keys.generate_private_key(2048)
    peer = keys.generate_private_key(2048)
    return keys.private_key_pem(own), keys.public_key_pem(peer.public_key())


def _refreshed(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The Secrets whose events took the key-refresh path (its own debug line names them)."""
    return {
        str(r.args[0])
        for r in caplog.records
        if r.name == handlers.__name__ and r.msg == "Secret %s changed: links re-read their keys" and r.args
    }


async def _ready(kube: kubestore.KubeStore) -> Any:
    body = await get_or_none(kube, "SyncConfig", NAME)
    conditions = {c["type"]: c["status"] for c in ((body or {}).get("status") or {}).get("conditions") or []}
    return conditions.get("KeysLoaded") == "True"


async def test_only_secrets_a_syncconfig_reads_wake_the_links(
    kube: kubestore.KubeStore,
    operator: kopf.Memo,
    key_pems: tuple[bytes, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=handlers.__name__)
    private_pem, public_pem = key_pems
    await kube.create(
        "Secret", manifests.private_key_secret(name=OWN, namespace=NAMESPACE, private_pem=private_pem)
    )
    await kube.create(
        "Secret", manifests.public_key_secret(name=REMOTE, namespace=NAMESPACE, public_pem=public_pem)
    )
    ca_pem = certs.issue_serving_certificate(["127.0.0.1"], days=1).ca_pem
    await kube.create("Secret", manifests.ca_secret(name=CA, namespace=NAMESPACE, ca_pem=ca_pem))
    await kube.create(
        "Secret",
        {"metadata": {"name": "someone-elses"}, "type": "Opaque", "data": {"password": "aHVudGVyMg=="}},
    )
    config = manifests.sync_config(
        name=NAME, namespace=NAMESPACE, own_key_secret=OWN, remote_key_secret=REMOTE, ca_secret=CA
    )
    await kube.create("SyncConfig", config)
    await eventually(lambda: _ready(kube), what="the SyncConfig's keys loaded")

    # A run: the operator creates its runner Secret, and updates nothing else.
    await kube.create("Flow", HELLO_FLOW)
    await kube.create("Execution", execution_body("hello-secrets"))
    runner_secret = naming.runner_secret_name("hello-secrets")
    await eventually(lambda: get_or_none(kube, "Secret", runner_secret), what="the runner Secret")
    caplog.clear()

    await kube.patch("Secret", runner_secret, {"metadata": {"annotations": {"touched": "1"}}})
    await kube.patch("Secret", "someone-elses", {"data": {"password": "c3dvcmRmaXNo"}})
    # Rotations of the three Secrets the SyncConfig names (keys and CA).
    for name in (OWN, REMOTE, CA):
        await kube.patch("Secret", name, {"metadata": {"annotations": {"rotated": "1"}}})

    async def all_refreshed() -> set[str]:
        return _refreshed(caplog) if _refreshed(caplog) >= {OWN, REMOTE, CA} else set()

    await eventually(all_refreshed, what="the key Secrets' events")
    assert _refreshed(caplog) == {OWN, REMOTE, CA}


async def test_the_secret_list_and_watch_ask_the_api_server_to_leave_runner_secrets_out(
    api_server: ApiServerEmulator, kube: kubestore.KubeStore, operator: kopf.Memo
) -> None:
    await kube.create("Flow", HELLO_FLOW)
    await kube.create("Execution", execution_body("hello-selector"))
    runner_secret = await eventually(
        lambda: get_or_none(kube, "Secret", naming.runner_secret_name("hello-selector")),
        what="the runner Secret",
    )

    secrets = {(verb, selector) for _g, plural, verb, selector in api_server.selectors if plural == "secrets"}
    assert secrets == {("list", handlers.SECRETS_SELECTOR), ("watch", handlers.SECRETS_SELECTOR)}
    # "key!=value" selects every object without that value, unlabelled ones included: the
    # runner Secret is left out, a key Secret as `workspace-link link` writes it is not.
    component = runner_secret["metadata"]["labels"][labels.COMPONENT]
    assert handlers.SECRETS_SELECTOR.split("!=") == [labels.COMPONENT, component]
    key_secret = manifests.private_key_secret(name=OWN, namespace=NAMESPACE, private_pem=b"x", link=NAME)
    assert labels.COMPONENT not in key_secret["metadata"]["labels"]
    # Only the Secret watch is narrowed this way: Executions are all the operator's business.
    executions = {selector for _g, plural, _v, selector in api_server.selectors if plural == "executions"}
    assert executions == {None}
