"""The floor every figure is compared with: one signed HTTPS round trip plus one store write.

Nothing of the link's own logic is in it, only what any exchange must pay: the dialer signs a
request (RFC 9421, rsa-pss-sha512, ``peer_client.signed_headers``), POSTs it over TLS on
127.0.0.1 (``peer_client.session``, the aiohttp client verifying the throwaway CA, an aiohttp
server, one kept-alive connection, as the link uses them), the server verifies it with a replay cache,
writes one Execution (``MemStore.create``), signs its answer bound to the request, and the
client verifies the answer. Client and server share one event loop, as both embedded
workspaces do in the link benchmarks, so the comparison is like for like.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time

import bench_common
import yarl
from aiohttp import web

from workspace_link.adapters.http import peer_client
from workspace_link.adapters.local import memstore
from workspace_link.core import keys, replay, resources, signatures

PATH = "/api/latest/sync_config/floor/sync"


@dataclasses.dataclass(frozen=True)
class Floor:
    samples: list[float]
    write_samples: list[float]

    @property
    def seconds(self) -> float:
        return bench_common.median(self.samples)

    @property
    def p90(self) -> float:
        return bench_common.p90(self.samples)

    @property
    def write(self) -> float:
        return bench_common.median(self.write_samples)


class Server:
    """An aiohttp TLS server that verifies, writes one object and answers signed."""

    def __init__(self, material: bench_common.Material) -> None:
        self.material = material
        self.store = memstore.MemStore("floor")
        self.names = itertools.count()
        self.write_samples: list[float] = []
        self._verifier = signatures.Verifier(
            keys=signatures.KeyRing.for_link("floor", [material.a_key.public_key()]),
            link="floor",
            # The floor measures a round trip, not a restart: no watermark to trip over.
            replay=replay.ReplayCache(since=0),
        )
        self._signer = signatures.Signer(material.b_key)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        signatures.verify_request(
            self._verifier, method=request.method, path=request.raw_path, headers=headers, body=body
        )
        started = time.perf_counter()
        await self.store.create(
            resources.EXECUTION,
            {"metadata": {"name": f"floor-{next(self.names)}"}, "spec": json.loads(body)},
        )
        self.write_samples.append(time.perf_counter() - started)
        answer = b'{"ok":true}'
        added = signatures.sign_response(
            self._signer,
            status=200,
            headers={"Content-Type": "application/json"},
            body=answer,
            request_headers=headers,
        )
        response = web.Response(status=200, body=answer, content_type="application/json")
        response.headers.update(added)
        return response

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", 0, ssl_context=self.material.server_context(), shutdown_timeout=0.1
        )
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"https://127.0.0.1:{port}{PATH}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Client:
    """One signing client, as ``peer_client.PeerClient`` builds and signs."""

    def __init__(self, material: bench_common.Material, url: str) -> None:
        self.url = yarl.URL(url, encoded=True)
        self._verifier = signatures.Verifier(
            keys=signatures.KeyRing.for_link("floor", [material.b_key.public_key()]),
            link="floor",
            replay=replay.ReplayCache(),
        )
        self._signer = signatures.Signer(material.a_key)
        self._session = peer_client.session(material.client_context())

    async def round_trip(self, payload: bytes) -> None:
        sent = peer_client.signed_headers(self._signer, self.url, payload)
        async with self._session.post(self.url, data=payload, headers=sent) as response:
            response.raise_for_status()
            body = await response.read()
            signatures.verify_response(
                self._verifier,
                status=response.status,
                headers=response.headers,
                body=body,
                request_headers=sent,
            )

    async def aclose(self) -> None:
        await self._session.close()


#: About the size of a start message (a short script and inputs).
PAYLOAD = json.dumps(
    {"flow": "noop", "script": bench_common.NOOP_SCRIPT * 4, "inputs": {"name": "x" * 200}}
).encode()


async def measure(sizes: bench_common.Sizes) -> Floor:
    material = bench_common.material(sizes.key_bits)
    server = Server(material)
    client = Client(material, await server.start())
    try:
        for _ in range(min(10, sizes.floor_samples)):  # warm up TLS and the connection pool
            await client.round_trip(PAYLOAD)
        server.write_samples.clear()
        samples = []
        for _ in range(sizes.floor_samples):
            started = time.perf_counter()
            await client.round_trip(PAYLOAD)
            samples.append(time.perf_counter() - started)
        return Floor(samples=samples, write_samples=list(server.write_samples))
    finally:
        await client.aclose()
        await server.stop()


def describe(floor: Floor, sizes: bench_common.Sizes) -> str:
    return (
        f"floor = one signed HTTPS round trip + one MemStore.create, RSA-{sizes.key_bits} keys: "
        f"median {bench_common.ms(floor.seconds)}, p90 {bench_common.ms(floor.p90)} "
        f"over {len(floor.samples)} round trips (the store write alone: {floor.write * 1e6:.0f} us)"
    )


if __name__ == "__main__":
    result = asyncio.run(measure(bench_common.QUICK))
    print(describe(result, bench_common.QUICK))
    _ = keys
