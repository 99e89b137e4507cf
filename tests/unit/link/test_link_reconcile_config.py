"""reconcile_config: conditions and the path an admin reads; a missing Secret is named, never shown."""

from __future__ import annotations

import base64

import pytest

from workspace_link.adapters.local import memstore
from workspace_link.core import errors, keys, resources
from workspace_link.core.resources import Body
from workspace_link.engine import link_status, workspace


class NoExecutor:
    async def start(self, execution: Body, *, secret_name: str, resume: bool = False) -> str:
        raise AssertionError("nothing runs here")

    async def cancel(self, execution: Body) -> None:
        return None

    async def cleanup(self, execution: Body) -> None:
        return None


def conditions(body: Body) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in resources.status(body).get("conditions", [])}


async def test_missing_secret_then_fixed() -> None:
    store = memstore.MemStore("ws-a")
    ws = workspace.Workspace("ws-a", store, NoExecutor())
    body = await store.create(
        "SyncConfig",
        {
            "metadata": {"name": "link-to-b"},
            "spec": {
                "remoteUrl": "https://b.example/api/latest/sync_config/link-to-a/sync",
                "verifySsl": False,
                "ownPrivateKey": {"secretName": "own"},
                "remotePublicKey": {"secretName": "peer"},
            },
        },
    )
    with pytest.raises(errors.KeyLoadError):
        await link_status.reconcile_config(ws, body)
    stored = await store.get("SyncConfig", "link-to-b")
    assert conditions(stored)["KeysLoaded"] == ("False", "KeysUnavailable")
    assert conditions(stored)["Ready"] == ("False", "KeysUnavailable")
    (event,) = store.events
    assert event["type"] == "Warning" and "Secret ws-a/own" in event["message"]
    assert resources.status(stored)["path"] == "/api/latest/sync_config/link-to-b/sync"

    own, peer = keys.generate_private_key(2048), keys.generate_private_key(2048)
    for name, entry, pem in (
        ("own", "private.pem", keys.private_key_pem(own)),
        ("peer", "public.pem", keys.public_key_pem(peer.public_key())),
    ):
        await store.create(
            "Secret", {"metadata": {"name": name}, "data": {entry: base64.b64encode(pem).decode()}}
        )
    await link_status.reconcile_config(ws, await store.get("SyncConfig", "link-to-b"))
    stored = await store.get("SyncConfig", "link-to-b")
    status = resources.status(stored)
    assert conditions(stored)["KeysLoaded"] == ("True", "KeysLoaded")
    assert conditions(stored)["Ready"] == ("True", "Ready")
    assert status["keyId"] == keys.key_id(own.public_key())
    assert (status["mode"], status["role"], status["observedGeneration"]) == ("Dialer", "Controlling", 1)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert "verifySsl is false" in ready["message"]
    assert "BEGIN" not in str(status) and "BEGIN" not in str(store.events)
