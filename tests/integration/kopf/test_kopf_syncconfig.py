"""The SyncConfig handler on the emulator: keys from Secrets, conditions, and what a missing
Secret looks like to an admin (a condition and an event naming it, never any key material)."""

from __future__ import annotations

import base64
import json
from typing import Any

import kopf
import pytest
from kopf_helpers import NAMESPACE, eventually

from workspace_link.adapters.kube import kubestore
from workspace_link.cli import manifests
from workspace_link.core import errors, keys


@pytest.fixture(scope="module")
def key_pems() -> tuple[bytes, bytes]:
    own = keys.generate_private_key(2048)
    peer = keys.generate_private_key(2048)
    return keys.private_key_pem(own), keys.public_key_pem(peer.public_key())


def _config(name: str) -> dict[str, Any]:
    # No remoteUrl: this side listens, so the link loop never dials out during the test.
    return manifests.sync_config(
        name=name,
        namespace=NAMESPACE,
        own_key_secret=manifests.private_key_secret_name(name),
        remote_key_secret=manifests.remote_key_secret_name(name),
    )


def _conditions(body: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    found = ((body or {}).get("status") or {}).get("conditions") or []
    return {c["type"]: c for c in found}


async def _with_condition(kube: kubestore.KubeStore, name: str, type_: str, status: str) -> Any:
    try:
        body = await kube.get("SyncConfig", name)
    except errors.NotFound:
        return None
    condition = _conditions(body).get(type_)
    return body if condition and condition["status"] == status else None


async def test_keys_are_loaded_from_secrets_and_conditions_written(
    kube: kubestore.KubeStore, operator: kopf.Memo, key_pems: tuple[bytes, bytes]
) -> None:
    private_pem, public_pem = key_pems
    name = "link-to-b"
    await kube.create(
        "Secret",
        manifests.private_key_secret(
            name=manifests.private_key_secret_name(name), namespace=NAMESPACE, private_pem=private_pem
        ),
    )
    await kube.create(
        "Secret",
        manifests.public_key_secret(
            name=manifests.remote_key_secret_name(name), namespace=NAMESPACE, public_pem=public_pem
        ),
    )
    await kube.create("SyncConfig", _config(name))

    body = await eventually(lambda: _with_condition(kube, name, "Ready", "True"), what="Ready=True")

    conditions = _conditions(body)
    assert conditions["KeysLoaded"]["status"] == "True"
    status = body["status"]
    assert status["path"] == f"/api/latest/sync_config/{name}/sync"
    own_key = keys.load_private_key(private_pem, source="test")
    assert status["keyId"] == keys.key_id(own_key.public_key())


async def test_a_missing_secret_is_a_condition_and_an_event_naming_it_not_its_contents(
    kube: kubestore.KubeStore, operator: kopf.Memo, key_pems: tuple[bytes, bytes]
) -> None:
    _, public_pem = key_pems
    name = "link-to-c"
    # The peer's public key is there; the own private key Secret is not.
    await kube.create(
        "Secret",
        manifests.public_key_secret(
            name=manifests.remote_key_secret_name(name), namespace=NAMESPACE, public_pem=public_pem
        ),
    )
    await kube.create("SyncConfig", _config(name))

    body = await eventually(
        lambda: _with_condition(kube, name, "KeysLoaded", "False"), what="KeysLoaded=False"
    )

    missing = manifests.private_key_secret_name(name)
    keys_loaded = _conditions(body)["KeysLoaded"]
    assert missing in keys_loaded["message"]
    assert _conditions(body)["Ready"]["status"] == "False"

    async def warning_event() -> list[dict[str, Any]]:
        return [
            e
            for e in await kube.list("Event")
            if e["involvedObject"]["name"] == name and e["type"] == "Warning" and missing in e["message"]
        ]

    (event, *_) = await eventually(warning_event, what="a Warning event naming the Secret")
    assert event["involvedObject"]["kind"] == "SyncConfig"

    # No key material anywhere an admin (or anyone with read access to events) looks.
    visible = json.dumps([e for e in await kube.list("Event")]) + json.dumps(body["status"])
    assert "BEGIN" not in visible
    assert base64.b64encode(public_pem).decode()[:40] not in visible
    assert public_pem.decode().splitlines()[1] not in visible
