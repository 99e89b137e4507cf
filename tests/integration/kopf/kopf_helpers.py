"""Helpers shared by the kopf tests (names that conftest fixtures and tests both use)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

NAMESPACE = "ws-a"


async def eventually(probe: Callable[[], Awaitable[Any]], *, what: str, timeout: float = 15.0) -> Any:
    """Re-run ``probe`` until it returns something truthy; fail naming ``what`` on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")
