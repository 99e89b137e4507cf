"""The peer client against a listener on 127.0.0.1 over real TLS (trustme): requests are
signed as they leave, answers verified and bound to the request, errors translated."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trustme
import yarl
from aiohttp import web

from workspace_link.adapters.http import peer_client
from workspace_link.core import errors, keys, link_config, protocol, replay, settings, signatures, wire

PATH = "/api/latest/sync_config/link-to-a/sync"


@pytest.fixture(scope="module")
def tls() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def key_pair() -> tuple[Any, Any]:
    return keys.generate_private_key(2048), keys.generate_private_key(2048)


def envelope(key: Any, role: str = "Controlled") -> protocol.Envelope:
    sender = protocol.Sender(config="peer", role=role, workspace="ws", key_id=keys.key_id(key.public_key()))  # type: ignore[arg-type]
    return protocol.Envelope(sender=sender)


class Listener:
    """A listener stand-in: verifies each request as the real one does and answers as told."""

    def __init__(self, ours: Any, theirs: Any) -> None:
        self.ours, self.theirs = ours, theirs
        self.verifier = signatures.Verifier(
            keys=signatures.KeyRing.for_link("peer", [ours.public_key()]),
            link="peer",
            # Signed in the second the cache was made would read as "before it": not the point here.
            replay=replay.ReplayCache(since=0),
        )
        self.seen: list[protocol.Envelope] = []
        self.raw_headers: list[dict[str, str]] = []
        #: What to answer: (status, body to send instead of a signed envelope, tamper).
        self.answer: Callable[[], tuple[int, bytes | None, bool]] = lambda: (200, None, False)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.raw_headers.append(headers)
        signatures.verify_request(
            self.verifier, method=request.method, path=request.raw_path, headers=headers, body=body
        )
        self.seen.append(wire.decode(body))
        status, error, tamper = self.answer()
        if status != 200 or error is not None:
            return web.Response(status=status, body=error or b"", content_type="application/json")
        answer = wire.encode(envelope(self.theirs))
        out = {"Content-Type": protocol.CONTENT_TYPE}
        out.update(
            signatures.sign_response(
                signatures.Signer(self.theirs), status=200, headers=out, body=answer, request_headers=headers
            )
        )
        return web.Response(status=200, body=answer.replace(b"ws", b"wz") if tamper else answer, headers=out)


@pytest.fixture
async def served(tls: trustme.CA, key_pair: tuple[Any, Any]) -> AsyncIterator[tuple[Listener, int]]:
    listener = Listener(*key_pair)
    app = web.Application()
    app.router.add_post(PATH, listener.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.issue_cert("127.0.0.1").configure_cert(context)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield listener, port
    finally:
        await runner.cleanup()


def client(
    key_pair: tuple[Any, Any], port: int, *, ca: trustme.CA | None, max_body: int | None = None
) -> peer_client.PeerClient:
    ours, theirs = key_pair
    config = link_config.parse(
        {
            "metadata": {"name": "link-to-b"},
            "spec": {
                "remoteUrl": f"https://127.0.0.1:{port}{PATH}",
                "ownPrivateKey": {"secretName": "own"},
                "remotePublicKey": {"secretName": "peer"},
            },
        }
    )
    link_keys = link_config.LinkKeys(
        ours,
        keys.key_id(ours.public_key()),
        {keys.key_id(theirs.public_key()): theirs.public_key()},
        ca.cert_pem.bytes() if ca is not None else None,
    )
    wl_settings = settings.Settings() if max_body is None else settings.Settings(max_body_bytes=max_body)
    return peer_client.PeerClient(config=config, keys=link_keys, settings=wl_settings)


async def exchange(peer: peer_client.PeerClient, key: Any, role: str = "Controlled") -> protocol.Envelope:
    try:
        return await peer.exchange(envelope(key, role), max_seconds=5)
    finally:
        await peer.aclose()


async def test_a_signed_request_gets_a_verified_answer(
    served: tuple[Listener, int], key_pair: tuple[Any, Any], tls: trustme.CA
) -> None:
    listener, port = served
    peer = client(key_pair, port, ca=tls)
    try:
        for _ in range(2):  # the second over the kept-alive connection, signed anew
            answer = await peer.exchange(envelope(key_pair[0], "Controlling"), max_seconds=5)
            assert answer.sender.config == "peer"
    finally:
        await peer.aclose()
    assert [e.sender.role for e in listener.seen] == ["Controlling", "Controlling"]
    first, second = listener.raw_headers
    assert first["Signature"] != second["Signature"]
    # The digest covers the bytes as sent: no transfer compression is offered.
    assert first["Accept-Encoding"] == "identity"


async def test_a_tampered_answer_is_not_trusted(
    served: tuple[Listener, int], key_pair: tuple[Any, Any], tls: trustme.CA
) -> None:
    listener, port = served
    listener.answer = lambda: (200, None, True)
    with pytest.raises(errors.PeerUnreachable, match="digest-mismatch"):
        await exchange(client(key_pair, port, ca=tls), key_pair[0])


async def test_refusals_and_server_errors_are_translated(
    served: tuple[Listener, int], key_pair: tuple[Any, Any], tls: trustme.CA
) -> None:
    listener, port = served
    body = wire.encode_error(401, "unknown-key", "key x is not accepted")
    listener.answer = lambda: (401, body, False)
    with pytest.raises(errors.PeerRefused) as refused:
        await exchange(client(key_pair, port, ca=tls), key_pair[0])
    assert (refused.value.status, refused.value.reason) == (401, "unknown-key")
    assert "key x is not accepted" in str(refused.value)
    listener.answer = lambda: (503, b"oops", False)
    with pytest.raises(errors.PeerUnreachable, match="503"):
        await exchange(client(key_pair, port, ca=tls), key_pair[0])


async def test_an_answer_over_the_body_limit_is_not_read(
    served: tuple[Listener, int], key_pair: tuple[Any, Any], tls: trustme.CA
) -> None:
    listener, port = served
    listener.answer = lambda: (200, b"x" * 4096, False)
    with pytest.raises(errors.PeerUnreachable, match="exceeds 2048 bytes"):
        await exchange(client(key_pair, port, ca=tls, max_body=2048), key_pair[0])


async def test_a_certificate_from_another_ca_is_refused_in_words(
    served: tuple[Listener, int], key_pair: tuple[Any, Any]
) -> None:
    listener, port = served
    with pytest.raises(errors.PeerUnreachable) as caught:
        await exchange(client(key_pair, port, ca=trustme.CA()), key_pair[0])
    # OpenSSL's own words, which an admin can act on, not aiohttp's wrapping of them.
    assert "TLS certificate verify failed: unable to get local issuer certificate" in str(caught.value)
    assert isinstance(caught.value.__cause__, ssl.SSLError)
    assert listener.seen == []  # nothing was sent to a listener it could not verify


async def test_network_errors_are_peer_unreachable(key_pair: tuple[Any, Any], tls: trustme.CA) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: the connection is refused
        with pytest.raises(errors.PeerUnreachable, match="request failed") as caught:
            await exchange(client(key_pair, port, ca=tls), key_pair[0])
    assert isinstance(caught.value.__cause__, OSError)


def test_the_environment_names_the_proxy_once_and_no_proxy_exempts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    peer = yarl.URL("https://peer.example:8443/api/latest/sync_config/x/sync")
    assert peer_client.proxy_for(peer) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert peer_client.proxy_for(peer) == "http://proxy.internal:3128"
    monkeypatch.setenv("NO_PROXY", "localhost,.example")
    assert peer_client.proxy_for(peer) is None
