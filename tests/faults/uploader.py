"""A hostile client in its own process (so the listener's memory is measured alone): opens
CONNECTIONS TLS connections that announce BODY bytes with a forged signature, push the body
until the server stops taking it, print how much it took, and hold the connections open.

    python uploader.py PORT CA_FILE PATH CONNECTIONS BODY_BYTES HOLD_SECONDS
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys


async def upload(port: int, context: ssl.SSLContext, path: str, size: int, sent: list[int]) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Digest: sha-512=:AAAA:\r\nSignature-Input: wl=();created=1\r\nSignature: wl=:AAAA:\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    writer.write(head.encode())
    chunk = b"x" * (256 * 1024)
    total = 0
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        while total + len(chunk) < size:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 3)
            total += len(chunk)
            sent[0] += len(chunk)


async def main(port: int, ca_file: str, path: str, connections: int, size: int, hold: float) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    sent = [0]
    tasks = [asyncio.create_task(upload(port, context, path, size, sent)) for _ in range(connections)]
    await asyncio.gather(*tasks, return_exceptions=True)
    print(sent[0], flush=True)
    await asyncio.sleep(hold)


if __name__ == "__main__":
    port, ca_file, path, connections, size, hold = sys.argv[1:7]
    asyncio.run(main(int(port), ca_file, path, int(connections), int(size), float(hold)))
