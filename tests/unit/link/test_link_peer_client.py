"""The peer client over httpx.MockTransport: requests are signed, answers verified, errors translated."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from workspace_link.adapters.http import peer_client
from workspace_link.core import errors, keys, link_config, protocol, replay, settings, signatures, wire

URL = "https://peer.example/api/latest/sync_config/link-to-a/sync"


@pytest.fixture(scope="module")
def pair() -> dict[str, Any]:
    ours, theirs = keys.generate_private_key(2048), keys.generate_private_key(2048)
    config = link_config.parse(
        {
            "metadata": {"name": "link-to-b"},
            "spec": {
                "remoteUrl": URL,
                "ownPrivateKey": {"secretName": "own"},
                "remotePublicKey": {"secretName": "peer"},
            },
        }
    )
    link_keys = link_config.LinkKeys(
        ours, keys.key_id(ours.public_key()), {keys.key_id(theirs.public_key()): theirs.public_key()}, None
    )
    return {"ours": ours, "theirs": theirs, "config": config, "keys": link_keys}


def envelope(key: Any, role: str = "Controlled") -> protocol.Envelope:
    sender = protocol.Sender(config="peer", role=role, workspace="ws", key_id=keys.key_id(key.public_key()))  # type: ignore[arg-type]
    return protocol.Envelope(sender=sender)


def listener(pair: dict[str, Any], *, tamper: bool = False, status: int = 200, error: bytes = b"") -> Any:
    verifier = signatures.Verifier(
        keys=signatures.KeyRing.for_link("peer", [pair["ours"].public_key()]),
        link="peer",
        # Signed in the second the cache was made would read as "before it": not the point here.
        replay=replay.ReplayCache(since=0),
    )
    seen: list[protocol.Envelope] = []

    def handle(request: httpx.Request) -> httpx.Response:
        signatures.verify_request(
            verifier,
            method=request.method,
            path=request.url.raw_path.decode(),
            headers=dict(request.headers),
            body=request.content,
        )
        seen.append(wire.decode(request.content))
        if status != 200:
            return httpx.Response(status, content=error, headers={"Content-Type": "application/json"})
        body = wire.encode(envelope(pair["theirs"]))
        signer = signatures.Signer(pair["theirs"])
        headers = {"Content-Type": protocol.CONTENT_TYPE}
        headers.update(
            signatures.sign_response(
                signer, status=200, headers=headers, body=body, request_headers=dict(request.headers)
            )
        )
        return httpx.Response(200, content=body.replace(b"ws", b"wz") if tamper else body, headers=headers)

    handle.seen = seen  # type: ignore[attr-defined]
    return handle


def client(pair: dict[str, Any], handler: Any) -> Any:
    return peer_client.PeerClient(
        config=pair["config"],
        keys=pair["keys"],
        settings=settings.Settings(),
        transport=httpx.MockTransport(handler),
    )


async def test_a_signed_request_gets_a_verified_answer(pair: dict[str, Any]) -> None:
    handler = listener(pair)
    answer = await client(pair, handler).exchange(envelope(pair["ours"], "Controlling"), max_seconds=5)
    assert answer.sender.config == "peer"
    assert handler.seen[0].sender.role == "Controlling"


async def test_a_tampered_answer_is_not_trusted(pair: dict[str, Any]) -> None:
    with pytest.raises(errors.PeerUnreachable, match="digest-mismatch"):
        await client(pair, listener(pair, tamper=True)).exchange(envelope(pair["ours"]), max_seconds=5)


async def test_refusals_and_server_errors_are_translated(pair: dict[str, Any]) -> None:
    body = wire.encode_error(401, "unknown-key", "key x is not accepted")
    with pytest.raises(errors.PeerRefused) as refused:
        await client(pair, listener(pair, status=401, error=body)).exchange(
            envelope(pair["ours"]), max_seconds=5
        )
    assert (refused.value.status, refused.value.reason) == (401, "unknown-key")
    assert "key x is not accepted" in str(refused.value)
    with pytest.raises(errors.PeerUnreachable, match="503"):
        await client(pair, listener(pair, status=503, error=b"oops")).exchange(
            envelope(pair["ours"]), max_seconds=5
        )


async def test_network_errors_are_peer_unreachable(pair: dict[str, Any]) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(errors.PeerUnreachable, match="connection refused") as caught:
        await client(pair, down).exchange(envelope(pair["ours"]), max_seconds=5)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
