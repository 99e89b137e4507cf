"""Memory of an operator process holding N idle links, beside N idle signed HTTPS connections.

Measured in fresh child processes, so nothing the benchmark itself allocated is counted:

- ``links``: one embedded workspace A (the operator's core, MemStore) with N SyncConfigs, each
  with its own key Secrets and CA Secret (the same PEM content, parsed per Secret as the
  operator does), each link loop connected to its own listening SyncConfig in B and idle: a
  long-poll held, nothing to send. B runs in the parent process; it caps holds at 2 s so every
  link completes its first exchange quickly (Connected) -- the idle state is the same.
- ``floor``: N aiohttp sessions (``peer_client.session``), each with its own TLS context
  trusting the CA and its own parsed private key, each having made one signed round trip to
  the floor server and holding the kept-alive connection: what any link must hold at the least.

Both report the growth of the resident set (VmRSS; includes OpenSSL's C allocations) and of
the Python heap (tracemalloc) between a baseline taken after imports and the idle state.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import ssl
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import bench_common
import bench_floor
import yarl

from workspace_link.adapters.http import peer_client
from workspace_link.adapters.local import embedded
from workspace_link.cli import manifests
from workspace_link.core import keys, protocol, resources, settings, signatures

SETTLE_SECONDS = 2.5


def rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _baseline() -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    return rss_bytes(), tracemalloc.get_traced_memory()[0]


def _report(before: tuple[int, int], count: int) -> dict[str, Any]:
    gc.collect()
    return {
        "count": count,
        "rss_before": before[0],
        "rss_after": rss_bytes(),
        "heap": tracemalloc.get_traced_memory()[0] - before[1],
    }


# -- children --------------------------------------------------------------------------------
async def _links_child(setup: dict[str, Any]) -> dict[str, Any]:
    count = int(setup["count"])
    a = embedded.EmbeddedWorkspace("bench-a", log_dir=Path(tempfile.mkdtemp(prefix="wl-bench-mem-")))
    await a.start()
    before = _baseline()
    private_pem = base64.b64decode(setup["a_private"])
    b_public = base64.b64decode(setup["b_public"])
    ca_pem = base64.b64decode(setup["ca"])
    names = [f"link-to-b-{i}" for i in range(count)]
    for i, name in enumerate(names):
        bodies = [
            manifests.private_key_secret(
                name=f"{name}-private", namespace="bench-a", private_pem=private_pem
            ),
            manifests.public_key_secret(name=f"{name}-remote", namespace="bench-a", public_pem=b_public),
            manifests.ca_secret(name=f"{name}-ca", namespace="bench-a", ca_pem=ca_pem),
            manifests.sync_config(
                name=name,
                namespace="bench-a",
                own_key_secret=f"{name}-private",
                remote_key_secret=f"{name}-remote",
                remote_url=setup["b_url"] + protocol.SYNC_PATH.format(name=f"link-to-a-{i}"),
                ca_secret=f"{name}-ca",
            ),
        ]
        for body in bodies:
            await a.store.create(str(body["kind"]), body)

    async def all_connected() -> bool:
        up = 0
        for body in await a.store.list(resources.SYNC_CONFIG):
            found = resources.status(body).get("conditions") or []
            up += any(c.get("type") == "Connected" and c.get("status") == "True" for c in found)
        return up == count

    deadline = time.monotonic() + 120
    while not await all_connected():
        if time.monotonic() > deadline:
            raise TimeoutError("not every link connected")
        await asyncio.sleep(0.2)
    await asyncio.sleep(float(setup["settle"]))
    report = _report(before, count)
    await a.stop()
    return report


async def _floor_child(setup: dict[str, Any]) -> dict[str, Any]:
    count = int(setup["count"])
    before = _baseline()
    private_pem = base64.b64decode(setup["a_private"])
    ca_pem = base64.b64decode(setup["ca"]).decode()
    clients = []
    for _ in range(count):
        key = keys.load_private_key(private_pem, source="bench")
        client = peer_client.session(ssl.create_default_context(cadata=ca_pem))
        url = yarl.URL(setup["floor_url"], encoded=True)
        sent = peer_client.signed_headers(signatures.Signer(key), url, bench_floor.PAYLOAD)
        async with client.post(url, data=bench_floor.PAYLOAD, headers=sent) as response:
            response.raise_for_status()
            await response.read()
        clients.append(client)
    await asyncio.sleep(float(setup["settle"]))
    report = _report(before, count)
    for client in clients:
        await client.close()
    return report


# -- parent ----------------------------------------------------------------------------------
async def _child(mode: str, setup_file: Path) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__)),
        "--child",
        mode,
        "--setup",
        str(setup_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).parent),
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"memory child {mode} failed: {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def measure(sizes: bench_common.Sizes) -> dict[str, dict[str, Any]]:
    material = bench_common.material(sizes.key_bits)
    count = sizes.memory_links
    b = embedded.EmbeddedWorkspace(
        "bench-b",
        settings=settings.Settings(long_poll_hold=2.0),
        log_dir=Path(tempfile.mkdtemp(prefix="wl-bench-mem-b-")),
    )
    b.sync_ssl_context = material.server_context()
    server = bench_floor.Server(material)
    await b.start()
    floor_url = await server.start()
    try:
        await b.store.create(
            resources.SECRET,
            manifests.private_key_secret(
                name="b-private", namespace="bench-b", private_pem=keys.private_key_pem(material.b_key)
            ),
        )
        await b.store.create(
            resources.SECRET,
            manifests.public_key_secret(
                name="b-remote",
                namespace="bench-b",
                public_pem=keys.public_key_pem(material.a_key.public_key()),
            ),
        )
        for i in range(count):
            await b.store.create(
                resources.SYNC_CONFIG,
                manifests.sync_config(
                    name=f"link-to-a-{i}",
                    namespace="bench-b",
                    own_key_secret="b-private",
                    remote_key_secret="b-remote",
                ),
            )
        encode = lambda data: base64.b64encode(data).decode()  # noqa: E731
        setup = {
            "count": count,
            "settle": SETTLE_SECONDS if count >= 10 else 0.5,
            "b_url": b.sync_url,
            "floor_url": floor_url,
            "a_private": encode(keys.private_key_pem(material.a_key)),
            "b_public": encode(keys.public_key_pem(material.b_key.public_key())),
            "ca": encode(material.serving.ca_pem),
        }
        setup_file = material.folder / "memory-setup.json"
        setup_file.write_text(json.dumps(setup))
        setup_file.chmod(0o600)
        # Two fresh processes at once (the machine has at least two cores); each measures only itself.
        links, floor = await asyncio.gather(_child("links", setup_file), _child("floor", setup_file))
        return {"links": links, "floor": floor}
    finally:
        await server.stop()
        await b.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["links", "floor"])
    parser.add_argument("--setup", type=Path)
    args = parser.parse_args()
    if args.child:
        setup = json.loads(args.setup.read_text())
        run = _links_child if args.child == "links" else _floor_child
        print(json.dumps(asyncio.run(run(setup))))
        return
    print(json.dumps(asyncio.run(measure(bench_common.QUICK)), indent=2))


if __name__ == "__main__":
    main()
