"""Every refusal is a real HTTPS request crafted by hand with the real signer; B's store is unchanged."""

from __future__ import annotations

import dataclasses
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from link_harness import SETTINGS, Identity, Linked, new_identity, past_watermark, put_secret, wait_until

from workspace_link.core import keys, protocol, resources, signatures, wire

MAX_BODY = 64 * 1024
PATH = protocol.SYNC_PATH.format(name="link-to-a")


def listener_spec(secret: str, **extra: Any) -> resources.Body:
    return {
        "metadata": {"name": secret},
        "spec": {
            "ownPrivateKey": {"secretName": "b-private"},
            "remotePublicKey": {"secretName": f"{secret}-remote"},
            **extra,
        },
    }


@pytest.fixture
async def b_only(tls: trustme.CA, identities: dict[str, Identity], tmp_path: Path) -> AsyncIterator[Linked]:
    """B alone, listening for link-to-a (A's key), link-to-c (another peer's key) and a disabled link."""
    pair = Linked(tls, identities, tmp_path)
    store = pair.stores["b"]
    await put_secret(store, "b-private", {"private.pem": identities["b"].private_pem})
    await put_secret(store, "link-to-a-remote", {"public.pem": identities["a"].public_pem})
    await put_secret(store, "link-to-c-remote", {"public.pem": identities["other"].public_pem})
    await put_secret(store, "link-off-remote", {"public.pem": identities["a"].public_pem})
    await store.create(resources.SYNC_CONFIG, listener_spec("link-to-a"))
    await store.create(resources.SYNC_CONFIG, listener_spec("link-to-c"))
    await store.create(resources.SYNC_CONFIG, listener_spec("link-off", enabled=False))
    await pair.start("b", settings_=dataclasses.replace(SETTINGS, max_body_bytes=MAX_BODY))
    await past_watermark(pair.b)
    try:
        yield pair
    finally:
        await pair.close()


def start_envelope(identity: Identity, uid: str = "origin-uid-1") -> bytes:
    private = keys.load_private_key(identity.private_pem, source="test")
    start = protocol.Start(origin_uid=uid, origin_name="parent", script="print(1)", inputs={}, version=1)
    return wire.encode(
        protocol.Envelope(
            sender=protocol.Sender(
                config="link-to-b",
                role="Controlling",
                workspace="ws-a",
                key_id=keys.key_id(private.public_key()),
            ),
            messages=(protocol.make_message(start),),
        )
    )


def signed(identity: Identity, body: bytes, *, path: str = PATH, clock: Any = time.time) -> dict[str, str]:
    signer = signatures.Signer(keys.load_private_key(identity.private_pem, source="test"), clock=clock)
    headers = {"Content-Type": protocol.CONTENT_TYPE}
    headers.update(signatures.sign_request(signer, method="POST", path=path, headers=headers, body=body))
    return headers


async def snapshot(pair: Linked) -> list[tuple[str, str, str]]:
    found = []
    for kind in (resources.EXECUTION, resources.FLOW, resources.SYNC_CONFIG, resources.SECRET):
        for body in await pair.stores["b"].list(kind):
            found.append((kind, resources.name(body), body["metadata"]["resourceVersion"]))
    return found


async def post(pair: Linked, body: bytes, headers: dict[str, str], path: str = PATH) -> httpx.Response:
    context = ssl.create_default_context(cadata=pair.ca.cert_pem.bytes().decode())
    async with httpx.AsyncClient(verify=context) as client:
        return await client.post(pair.b.sync_url + path, content=body, headers=headers)


def refusal(response: httpx.Response) -> tuple[int, str]:
    status, reason, _ = wire.decode_error(response.content)
    assert status == response.status_code
    return status, reason


async def test_each_forged_request_is_refused_with_its_reason_and_changes_nothing(
    b_only: Linked, identities: dict[str, Identity]
) -> None:
    a, other = identities["a"], identities["other"]
    stranger = new_identity()
    body = start_envelope(a)
    tampered_headers = signed(a, body)
    cases: list[tuple[str, bytes, dict[str, str], str, tuple[int, str]]] = [
        ("unsigned", body, {"Content-Type": protocol.CONTENT_TYPE}, PATH, (401, "missing")),
        (
            "wrong key",
            start_envelope(stranger),
            signed(stranger, start_envelope(stranger)),
            PATH,
            (401, "unknown-key"),
        ),
        (
            "another link's key",
            start_envelope(other),
            signed(other, start_envelope(other)),
            PATH,
            (403, "wrong-link"),
        ),
        (
            "tampered body",
            body.replace(b"print(1)", b"print(2)"),
            tampered_headers,
            PATH,
            (401, "digest-mismatch"),
        ),
        ("expired", body, signed(a, body, clock=lambda: time.time() - 3600), PATH, (401, "expired")),
        (
            "unknown config",
            body,
            signed(a, body, path=protocol.SYNC_PATH.format(name="nope")),
            protocol.SYNC_PATH.format(name="nope"),
            (404, "unknown-config"),
        ),
        (
            "disabled config",
            body,
            signed(a, body, path=protocol.SYNC_PATH.format(name="link-off")),
            protocol.SYNC_PATH.format(name="link-off"),
            (403, "disabled"),
        ),
        (
            "malformed JSON",
            b'{"protocol": 1, "sender":',
            signed(a, b'{"protocol": 1, "sender":'),
            PATH,
            (400, "malformed"),
        ),
        ("oversized", b"x" * (MAX_BODY + 1), signed(a, b"x" * (MAX_BODY + 1)), PATH, (413, "too-large")),
    ]
    before = await snapshot(b_only)
    for label, content, headers, path, expected in cases:
        response = await post(b_only, content, headers, path)
        assert refusal(response) == expected, (label, response.text)
    assert "is not a public key of SyncConfig 'link-to-a'" in (await post(b_only, *cases[1][1:3])).text
    assert await snapshot(b_only) == before
    assert await b_only.stores["b"].list(resources.EXECUTION) == []


async def test_a_replayed_request_is_refused(b_only: Linked, identities: dict[str, Identity]) -> None:
    body = start_envelope(identities["a"], uid="replayed-uid")
    headers = signed(identities["a"], body)
    first = await post(b_only, body, headers)
    assert first.status_code == 200, first.text
    (created,) = await b_only.stores["b"].list(resources.EXECUTION)
    # Remove what the genuine request created: a replay that got through would create it again.
    await b_only.stores["b"].delete(resources.EXECUTION, resources.name(created))
    again = await post(b_only, body, headers)
    assert refusal(again) == (401, "replayed")
    assert await b_only.stores["b"].list(resources.EXECUTION) == []


async def test_a_dialer_with_the_wrong_ca_reports_a_readable_tls_error(linked: Linked) -> None:
    await linked.link(ca_secret=trustme.CA().cert_pem.bytes())

    async def tls_error() -> str | None:
        status = resources.status(await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b"))
        return status.get("lastError")

    error = await wait_until(linked.a, tls_error)
    assert "TLS certificate verify failed" in error
    status = resources.status(await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b"))
    connected = next(c for c in status["conditions"] if c["type"] == "Connected")
    assert connected["status"] == "False" and connected["reason"] == "PeerUnreachable"
    assert await linked.stores["b"].list(resources.EXECUTION) == []


async def test_both_sides_controlling_is_a_role_mismatch_the_dialer_shows(linked: Linked) -> None:
    await linked.link(listener_spec={"role": "Controlling"})

    async def not_ready(side: str, name: str) -> dict[str, Any] | None:
        status = resources.status(await linked.stores[side].get(resources.SYNC_CONFIG, name))
        ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
        return ready if ready and ready["reason"] == "RoleMismatch" else None

    dialer = await wait_until(linked.a, lambda: not_ready("a", "link-to-b"))
    assert dialer["status"] == "False" and "Controlling" in dialer["message"]
    # The listener refuses (409) and changes nothing, its own status included.
    assert await not_ready("b", "link-to-a") is None
