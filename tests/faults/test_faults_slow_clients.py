"""Case 3: clients that stop mid-header or mid-body are cut; a legitimate exchange is served meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

from fault_helpers import PATH, client_context, post, signed, start_envelope
from link_harness import SETTINGS, Identity, Linked

from workspace_link.core import settings

MID_HEADER = 200
MID_BODY = 50
TIMEOUT = 2.0


async def _stall(pair: Linked, payload: bytes) -> float:
    """Send ``payload`` and stop; return how many seconds until the server closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.b.sync_port, ssl=client_context(pair))
    started = time.monotonic()
    try:
        writer.write(payload)
        await writer.drain()
        with contextlib.suppress(ConnectionError, OSError):
            while await asyncio.wait_for(reader.read(65536), 60):
                pass  # an error answer may come first; the close is what counts
        return time.monotonic() - started
    finally:
        writer.close()


def test_the_shipped_settings_cut_slow_clients() -> None:
    shipped = settings.Settings()
    assert 0 < shipped.request_header_timeout <= 30
    assert 0 < shipped.request_body_timeout <= 120


async def test_stalled_headers_and_bodies_are_cut_and_a_real_exchange_still_passes(
    b_only: Linked, identities: dict[str, Identity]
) -> None:
    b_only.settings["b"] = dataclasses.replace(
        SETTINGS, request_header_timeout=TIMEOUT, request_body_timeout=TIMEOUT
    )
    await b_only.restart("b")  # with short timeouts, so the test is quick
    body = start_envelope(identities["a"], uid="slow-clients-legit")
    half_header = f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty".encode()
    stalled_bodies = []
    for i in range(MID_BODY):
        own = start_envelope(identities["a"], uid=f"slow-body-{i}")
        headers = signed(identities["a"], own)
        head = f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(own)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        stalled_bodies.append(head.encode() + own[: len(own) // 2])
    tasks = [asyncio.create_task(_stall(b_only, half_header)) for _ in range(MID_HEADER)]
    tasks += [asyncio.create_task(_stall(b_only, payload)) for payload in stalled_bodies]
    await asyncio.sleep(0.5)
    legit = await post(b_only, body, signed(identities["a"], body))
    assert legit.status_code == 200, legit.text
    closed_after = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert max(closed_after) < TIMEOUT + 10, f"slowest connection cut after {max(closed_after):.1f} s"
