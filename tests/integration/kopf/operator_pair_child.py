"""One operator, as ``workspace-link operator`` runs it, for ``operator_pair.OperatorProcess``.

``python operator_pair_child.py NAMESPACE``: kopf on ``handlers.registry`` with the operator's
settings, watching NAMESPACE (the environment, set by the parent, says the rest); prints
``READY`` once kopf is ready; stops cleanly on SIGTERM (kopf's own signal handlers). It
imports nothing but the operator, so the process's RSS is the operator's.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import kopf

from workspace_link.adapters.kube import handlers


async def _operator(namespace: str) -> None:
    ready = asyncio.Event()

    async def announce() -> None:
        await ready.wait()
        sys.stdout.write("READY\n")
        sys.stdout.flush()

    announcer = asyncio.create_task(announce())
    try:
        await kopf.operator(
            registry=handlers.registry,
            settings=handlers.operator_settings(),
            namespaces=[namespace],
            standalone=True,
            ready_flag=ready,
        )
    finally:
        announcer.cancel()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_operator(sys.argv[1]))
