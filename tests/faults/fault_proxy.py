"""A fault-injecting TCP proxy on 127.0.0.1 between a dialer and a listener.

TLS runs end to end through it, so it works on bytes: per connection it passes, drops (closes
at once), delays every chunk, cuts the request after some bytes, cuts the response after some
bytes, or duplicates (replays the client's recorded bytes on a second connection to the
listener, which TLS refuses: an application-level duplicate is the replay tests' job). Which
connection gets which fault is drawn from a seeded generator, ``rate`` of them faulty (the
first one always).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter

FAULTS = ("drop", "delay", "cut-request", "cut-response", "duplicate")


class FaultProxy:
    def __init__(self, target_port: int, fault: str, *, rate: float = 0.3, seed: int = 12) -> None:
        if fault not in (*FAULTS, "none"):
            raise ValueError(f"unknown fault {fault!r}")
        self.target_port = target_port
        self.fault = fault
        self.rate = rate
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        #: Connections seen, by what was done to them.
        self.counts: Counter[str] = Counter()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        # The first connection always gets the fault: a link that keeps its connection alive
        # may open only a few, and each run must meet its fault at least once.
        first = not self.counts
        faulty = self.fault != "none" and (first or self._rng.random() < self.rate)
        fault = self.fault if faulty else "pass"
        self.counts[fault] += 1
        if fault == "drop":
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        recorded = bytearray()
        cut_at = self._rng.randint(1, 4000)
        up = self._pipe(client_r, server_w, fault=fault, upstream=True, cut_at=cut_at, recorded=recorded)
        down = self._pipe(server_r, client_w, fault=fault, upstream=False, cut_at=cut_at, recorded=None)
        await asyncio.gather(up, down, return_exceptions=True)
        for writer in (client_w, server_w):
            writer.close()
        if fault == "duplicate" and recorded:
            self._spawn(self._replay(bytes(recorded)))

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        fault: str,
        upstream: bool,
        cut_at: int,
        recorded: bytearray | None,
    ) -> None:
        passed = 0
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                if fault == "delay":
                    await asyncio.sleep(self._rng.uniform(0.01, 0.3))
                cutting = (fault == "cut-request" and upstream) or (fault == "cut-response" and not upstream)
                if cutting and passed + len(chunk) >= cut_at:
                    writer.write(chunk[: cut_at - passed])
                    await writer.drain()
                    raise ConnectionResetError("cut by the proxy")
                if recorded is not None:
                    recorded.extend(chunk)
                passed += len(chunk)
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.write_eof()
        # Either side closing or failing ends the whole connection, as a cut wire would.
        writer.close()

    async def _replay(self, data: bytes) -> None:
        with contextlib.suppress(OSError, ConnectionError, TimeoutError):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            writer.write(data)
            await writer.drain()
            await asyncio.wait_for(reader.read(65536), 5)
            writer.close()
