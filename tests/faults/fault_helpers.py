"""What the fault suite shares: B alone behind its listener, hand-signed requests, RSS, counted runs."""

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
from link_harness import SETTINGS, Identity, Linked, past_watermark, put_secret

from workspace_link.core import keys, protocol, resources, signatures, wire

PATH = protocol.SYNC_PATH.format(name="link-to-a")

#: A flow that counts its runs: each run appends one line to the file named in its inputs.
COUNTING_SCRIPT = """
def handler(system, this, inputs):
    with open(inputs["tally"], "a") as handle:
        handle.write(inputs["id"] + "\\n")
    return this.success("counted")
"""


@pytest.fixture
async def b_only(tls: trustme.CA, identities: dict[str, Identity], tmp_path: Path) -> AsyncIterator[Linked]:
    """B alone with the shipped limits, listening for link-to-a (A's key)."""
    pair = Linked(tls, identities, tmp_path)
    store = pair.stores["b"]
    await put_secret(store, "b-private", {"private.pem": identities["b"].private_pem})
    await put_secret(store, "link-to-a-remote", {"public.pem": identities["a"].public_pem})
    await store.create(
        resources.SYNC_CONFIG,
        {
            "metadata": {"name": "link-to-a"},
            "spec": {
                "ownPrivateKey": {"secretName": "b-private"},
                "remotePublicKey": {"secretName": "link-to-a-remote"},
            },
        },
    )
    await pair.start("b", settings_=dataclasses.replace(SETTINGS))
    await past_watermark(pair.b)
    try:
        yield pair
    finally:
        await pair.close()


def start_envelope(
    identity: Identity,
    uid: str = "origin-uid-1",
    *,
    inputs: dict[str, Any] | None = None,
    script: str = "def handler(system, this):\n    pass\n",
    role: str = "Controlling",
) -> bytes:
    private = keys.load_private_key(identity.private_pem, source="test")
    start = protocol.Start(
        origin_uid=uid, origin_name="parent", script=script, inputs=inputs or {}, version=1
    )
    return wire.encode(
        protocol.Envelope(
            sender=protocol.Sender(
                config="link-to-b", role=role, workspace="ws-a", key_id=keys.key_id(private.public_key())
            ),
            messages=(protocol.make_message(start),),
        )
    )


def signed(identity: Identity, body: bytes, *, path: str = PATH, clock: Any = time.time) -> dict[str, str]:
    signer = signatures.Signer(keys.load_private_key(identity.private_pem, source="test"), clock=clock)
    headers = {"Content-Type": protocol.CONTENT_TYPE}
    headers.update(signatures.sign_request(signer, method="POST", path=path, headers=headers, body=body))
    return headers


def client_context(pair: Linked) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=pair.ca.cert_pem.bytes().decode())


async def post(pair: Linked, body: bytes, headers: dict[str, str], path: str = PATH) -> httpx.Response:
    async with httpx.AsyncClient(verify=client_context(pair), timeout=30) as client:
        return await client.post(pair.b.sync_url + path, content=body, headers=headers)


def refusal(response: httpx.Response) -> tuple[int, str]:
    status, reason, _ = wire.decode_error(response.content)
    assert status == response.status_code
    return status, reason


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/status")


def runs(tally: Path) -> list[str]:
    """The ids a counting flow wrote, one per run."""
    return tally.read_text().split() if tally.exists() else []
