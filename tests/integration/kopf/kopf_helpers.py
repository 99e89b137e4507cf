"""Helpers shared by the kopf tests (names that conftest fixtures and tests both use)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from workspace_link.adapters.kube import handlers
from workspace_link.core import errors

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


class OperatorThread:
    """kopf on ``handlers.registry`` in a thread of its own, as in production a process of its own.

    In the test's loop, kopf would count pytest's teardown task among the tasks "hung" at its
    exit and wait for it (which waits for kopf), then cancel it. Its flags are asyncio events of
    its own loop, set from here thread-safely: a threading.Event flag would be waited for in an
    executor thread that kopf cannot cancel when it exits on its own.
    """

    def __init__(self) -> None:
        self.memo = kopf.Memo()
        self.failure: BaseException | None = None
        self._ready = threading.Event()  # ready, or exited
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="kopf-operator", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._operator())
        except BaseException as exc:
            self.failure = exc
        finally:
            self._ready.set()

    async def _operator(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        ready = asyncio.Event()

        async def relay_ready() -> None:
            await ready.wait()
            self._ready.set()

        # Created before kopf starts, so kopf's sweep of "hung" tasks at exit leaves it alone.
        relay = asyncio.create_task(relay_ready())
        settings = handlers.operator_settings()
        # kmock answers a JSON patch whose resourceVersion test fails (kopf's finalizer patch,
        # raced by a status write) with 500, where the API server answers 422 and kopf patches
        # again on the next event. kopf retries a 500 with the same stale test for 54 s; short
        # backoffs end that within a second, as a 422 would.
        settings.networking.error_backoffs = (0.05, 0.1, 0.2, 0.3, 0.5)
        try:
            await kopf.operator(
                registry=handlers.registry,
                settings=settings,
                namespaces=[NAMESPACE],
                standalone=True,
                identity=handlers.operator_identity(),
                stop_flag=self._stop,
                ready_flag=ready,
                memo=self.memo,
            )
        finally:
            relay.cancel()

    async def start(self) -> None:
        """Until kopf is ready, or has exited (see ``failure``)."""
        self._thread.start()
        assert await asyncio.to_thread(self._ready.wait, 20), "the operator did not become ready"

    async def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile: it exited
                loop.call_soon_threadsafe(stop.set)
        await asyncio.to_thread(self._thread.join, 20)
        assert not self._thread.is_alive(), "the operator did not stop"

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


HELLO_FLOW = {
    "apiVersion": "workspacelink.io/v1alpha1",
    "kind": "Flow",
    "metadata": {"name": "hello"},
    "spec": {"script": "def handler(system, this):\n    return this.success('hi')\n"},
}


def execution_body(name: str, **spec: Any) -> dict[str, Any]:
    """An Execution of the Flow ``hello`` (``spec`` adds to or overrides its spec)."""
    return {
        "apiVersion": "workspacelink.io/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": name},
        "spec": {"flow": "hello", "inputs": {"name": "x"}, **spec},
    }


async def get_or_none(kube: Any, kind: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await kube.get(kind, name)
    except errors.NotFound:
        return None
    return found
