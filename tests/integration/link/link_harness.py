"""Two embedded workspaces linked over real HTTPS on 127.0.0.1: the link's integration harness.

Real pieces only: trustme certificates (the listener serves TLS, the dialer verifies it with the
CA from a Secret), real RSA keys (2048 bits for speed) in Secrets, real runner processes, the
in-memory store. ``Linked`` builds workspace A (dialer, Controlling by default) and B (listener),
loads the example flows into A, and can "restart" either side: stop everything in memory and
start a new EmbeddedWorkspace on the same store, listening on the same port.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from workspace_link.adapters.http import listener
from workspace_link.adapters.local import embedded, memstore
from workspace_link.core import errors, keys, resources, settings
from workspace_link.engine import exchange

EXAMPLE_FLOWS = Path(__file__).parents[3] / "examples" / "flows"

#: Fast retries so a restarted peer is reached again quickly; everything else as shipped.
SETTINGS = settings.Settings(backoff_initial=0.05, backoff_max=0.5, long_poll_hold=20.0)


@dataclasses.dataclass(frozen=True)
class Identity:
    """One side's key pair, as PEM."""

    private_pem: bytes
    public_pem: bytes

    @property
    def key_id(self) -> str:
        return keys.key_id(keys.load_private_key(self.private_pem, source="test").public_key())


def new_identity() -> Identity:
    key = keys.generate_private_key(2048)
    return Identity(keys.private_key_pem(key), keys.public_key_pem(key.public_key()))


@pytest.fixture(scope="session")
def tls() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def identities() -> dict[str, Identity]:
    return {name: new_identity() for name in ("a", "b", "other")}


def secret(name: str, entries: dict[str, bytes]) -> resources.Body:
    return {
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in entries.items()},
    }


async def put_secret(store: memstore.MemStore, name: str, entries: dict[str, bytes]) -> None:
    try:
        await store.create(resources.SECRET, secret(name, entries))
    except errors.AlreadyExists:
        await store.patch(resources.SECRET, name, {"data": secret(name, entries)["data"]})


async def wait_until(
    ws: embedded.EmbeddedWorkspace, condition: Callable[[], Awaitable[object]], timeout: float = 30.0
) -> Any:
    """Wait until ``condition()`` is truthy (re-checked on every change in ``ws``); return it."""
    deadline = time.monotonic() + timeout
    while True:
        since = ws.ws.changes.counter
        try:
            value = await condition()
        except errors.NotFound:
            value = None
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the condition was not met in time")
        # Changes in the *other* workspace do not wake this one: re-check at least every 0.2 s.
        await ws.ws.changes.wait(since, min(remaining, 0.2))


async def past_watermark(ws: embedded.EmbeddedWorkspace) -> None:
    """Wait until a request signed now is newer than the listener's restart watermark.

    ``created`` is whole seconds: one signed in the listener's first (partial) second reads as
    signed before it started and is refused ``signed-before-start`` (the dialer re-signs). A
    test that signs by hand waits for that second to pass instead.
    """
    runner = ws._sync_runner
    assert runner is not None, "no listener"
    since = runner.app[listener.REPLAY_KEY].since
    await asyncio.sleep(max(0.0, math.ceil(since) - time.time()))


class Linked:
    """Workspaces A and B and the SyncConfigs between them."""

    def __init__(self, tls: trustme.CA, identities: dict[str, Identity], tmp_path: Path) -> None:
        self.ca = tls
        self.ids = identities
        self.tmp_path = tmp_path
        self.stores = {"a": memstore.MemStore("ws-a"), "b": memstore.MemStore("ws-b")}
        self.ports = {"a": 0, "b": 0}
        self.sides: dict[str, embedded.EmbeddedWorkspace] = {}
        self.exchanges: list[tuple[str, str, exchange.ExchangeResult]] = []
        self.settings: dict[str, settings.Settings] = {}
        self.sleeps: dict[str, Any] = {}

    @property
    def a(self) -> embedded.EmbeddedWorkspace:
        return self.sides["a"]

    @property
    def b(self) -> embedded.EmbeddedWorkspace:
        return self.sides["b"]

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(context)
        return context

    async def start(
        self, side: str, *, settings_: settings.Settings | None = None, sleep: Any = None
    ) -> embedded.EmbeddedWorkspace:
        """Start (or restart) one side; its settings and sleep are kept for later restarts."""
        settings_ = settings_ or self.settings.get(side, SETTINGS)
        self.settings[side] = settings_
        sleep = sleep or self.sleeps.get(side)
        self.sleeps[side] = sleep
        ws = embedded.EmbeddedWorkspace(
            f"ws-{side}", settings=settings_, store=self.stores[side], log_dir=self.tmp_path / side
        )
        ws.sync_ssl_context = self.server_context()
        ws.sync_port = self.ports[side]
        ws.link_observer = lambda name, result: self.exchanges.append((side, name, result))
        ws.link_sleep = sleep
        await ws.start()
        self.ports[side] = ws.sync_port
        self.sides[side] = ws
        return ws

    async def stop(self, side: str) -> None:
        await self.sides.pop(side).stop()

    async def restart(self, side: str) -> embedded.EmbeddedWorkspace:
        """Lose everything in memory; keep the store (as etcd would) and the port."""
        await self.stop(side)
        return await self.start(side)

    async def close(self) -> None:
        for side in list(self.sides):
            await self.stop(side)

    async def load_flows(self, side: str = "a") -> None:
        for file in sorted(EXAMPLE_FLOWS.glob("*.py")):
            await self.stores[side].create(
                resources.FLOW, {"metadata": {"name": file.stem}, "spec": {"script": file.read_text()}}
            )

    async def link(
        self,
        *,
        dialer: str = "a",
        dialer_config: str = "link-to-b",
        listener_config: str = "link-to-a",
        dialer_spec: dict[str, Any] | None = None,
        listener_spec: dict[str, Any] | None = None,
        ca_secret: bytes | None = None,
    ) -> None:
        """Create the Secrets and both SyncConfigs of one link (listener first, so its port is known)."""
        listener = "b" if dialer == "a" else "a"
        d_store, l_store = self.stores[dialer], self.stores[listener]
        await put_secret(d_store, f"{dialer_config}-private", {"private.pem": self.ids[dialer].private_pem})
        await put_secret(d_store, f"{dialer_config}-remote", {"public.pem": self.ids[listener].public_pem})
        await put_secret(d_store, f"{dialer_config}-ca", {"ca.crt": ca_secret or self.ca.cert_pem.bytes()})
        await put_secret(
            l_store, f"{listener_config}-private", {"private.pem": self.ids[listener].private_pem}
        )
        await put_secret(l_store, f"{listener_config}-remote", {"public.pem": self.ids[dialer].public_pem})
        await l_store.create(
            resources.SYNC_CONFIG,
            {
                "apiVersion": "workspacelink.io/v1alpha1",
                "metadata": {"name": listener_config},
                "spec": {
                    "ownPrivateKey": {"secretName": f"{listener_config}-private"},
                    "remotePublicKey": {"secretName": f"{listener_config}-remote"},
                    **(listener_spec or {}),
                },
            },
        )
        await d_store.create(
            resources.SYNC_CONFIG,
            {
                "apiVersion": "workspacelink.io/v1alpha1",
                "metadata": {"name": dialer_config},
                "spec": {
                    "remoteUrl": self.sides[listener].sync_url_for(listener_config),
                    "caCertificate": {"kind": "Secret", "name": f"{dialer_config}-ca", "key": "ca.crt"},
                    "ownPrivateKey": {"secretName": f"{dialer_config}-private"},
                    "remotePublicKey": {"secretName": f"{dialer_config}-remote"},
                    **(dialer_spec or {}),
                },
            },
        )

    async def run(self, name: str, flow: str, *, side: str = "a", **spec: Any) -> resources.Body:
        return await self.stores[side].create(
            resources.EXECUTION, {"metadata": {"name": name}, "spec": {"flow": flow, "inputs": {}, **spec}}
        )

    async def finished(self, name: str, *, side: str = "a", timeout: float = 30.0) -> resources.Body:
        return await self.sides[side].wait_for_phase(name, resources.TERMINAL, timeout=timeout)


@pytest.fixture
async def linked(tls: trustme.CA, identities: dict[str, Identity], tmp_path: Path) -> AsyncIterator[Linked]:
    pair = Linked(tls, identities, tmp_path)
    await pair.start("b")
    await pair.start("a")
    try:
        yield pair
    finally:
        await pair.close()
