"""Key rotation without downtime, on a live link and without restarting either side.

B accepts every public key in its Secret for A, so the admin adds A's new public key there,
switches A's private key, runs work, then retires the old public key; after that a request
signed with A's old key is refused as an unknown key.
"""

from __future__ import annotations

import ssl

import httpx
from link_harness import Linked, new_identity, put_secret, wait_until

from workspace_link.core import keys, protocol, resources, signatures, wire


async def _run_remote_hello(linked: Linked, name: str) -> None:
    await linked.run(name, "hello", remoteWorkspace="link-to-b", inputs={"name": name})
    done = await linked.finished(name)
    assert resources.phase(done) == "Succeeded", resources.status(done)


async def test_rotating_the_dialers_key_keeps_the_link_working_without_a_restart(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.link()
    await _run_remote_hello(linked, "before")
    old, new = linked.ids["a"], new_identity()

    # 1. B accepts both of A's keys: the new one as a second entry beside public.pem (the old).
    await put_secret(linked.stores["b"], "link-to-a-remote", {"new.pem": new.public_pem})
    # 2. A signs with its new key from now on.
    await put_secret(linked.stores["a"], "link-to-b-private", {"private.pem": new.private_pem})
    await _run_remote_hello(linked, "during")

    # 3. The old key is retired on B.
    await linked.stores["b"].patch(resources.SECRET, "link-to-a-remote", {"data": {"public.pem": None}})
    await _run_remote_hello(linked, "after")

    # Both statuses follow the rotation: A shows its new key id, B accepts exactly that one.
    async def statuses_follow() -> bool:
        a_status = resources.status(await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b"))
        b_status = resources.status(await linked.stores["b"].get(resources.SYNC_CONFIG, "link-to-a"))
        b_keys = next(c for c in b_status["conditions"] if c["type"] == "KeysLoaded")["message"]
        return a_status["keyId"] == new.key_id and new.key_id in b_keys and old.key_id not in b_keys

    await wait_until(linked.a, statuses_follow)

    # A request still signed with the old key is refused, and creates nothing.
    envelope = protocol.Envelope(
        sender=protocol.Sender(config="link-to-b", role="Controlling", workspace="ws-a", key_id=old.key_id)
    )
    body = wire.encode(envelope)
    signer = signatures.Signer(keys.load_private_key(old.private_pem, source="test"))
    path = protocol.SYNC_PATH.format(name="link-to-a")
    headers = {"Content-Type": protocol.CONTENT_TYPE}
    headers.update(signatures.sign_request(signer, method="POST", path=path, headers=headers, body=body))
    context = ssl.create_default_context(cadata=linked.ca.cert_pem.bytes().decode())
    async with httpx.AsyncClient(verify=context) as client:
        response = await client.post(linked.b.sync_url + path, content=body, headers=headers)
    assert response.status_code == 401
    assert wire.decode_error(response.content)[1] == "unknown-key"
    assert len(await linked.stores["b"].list(resources.EXECUTION)) == 3
