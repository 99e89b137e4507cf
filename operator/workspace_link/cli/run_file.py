"""``workspace-link run FLOW.py``: the flow author's loop, the same runner as a Job's, locally.

The runner (``workspace_link.runner``) runs against an in-process embedded workspace; the other
``.py`` files beside the flow are Flows of that workspace, so ``this.flow(<stem>)`` finds them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workspace_link.adapters.local import embedded
from workspace_link.core import resources


def run_file(path: str | os.PathLike[str], inputs: Mapping[str, Any] | None = None) -> int:
    """Run one flow file locally (``workspace-link run FLOW.py``); print phase, outputs, message.

    Other ``.py`` files beside it are available to ``this.flow(<file stem>)`` as local flows.
    Returns 0 when the flow succeeded, 1 when it did not, 2 when it could not start.
    """
    file = Path(path)
    try:
        source = file.read_text()
    except OSError as exc:
        print(f"{file}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        compile(source, str(file), "exec")
    except SyntaxError as exc:
        print(f"{file}:{exc.lineno}: syntax error: {exc.msg}", file=sys.stderr)
        return 2
    return asyncio.run(_run_file(file, dict(inputs or {})))


async def _run_file(file: Path, inputs: dict[str, Any]) -> int:
    async with embedded.EmbeddedWorkspace("local", passthrough=True) as local:
        for sibling in sorted(file.parent.glob("*.py")):
            try:
                script = sibling.read_text()
            except OSError:
                continue
            await local.store.create(
                resources.FLOW,
                {"metadata": {"name": sibling.stem}, "spec": {"script": script}},
            )
        name = f"run-{file.stem}".lower().replace("_", "-")
        await local.store.create(
            resources.EXECUTION,
            {"metadata": {"name": name}, "spec": {"flow": file.stem, "inputs": inputs}},
        )
        body = await local.wait_for_phase(name, resources.TERMINAL, timeout=None)
    status = resources.status(body)
    print(f"phase: {status.get('phase')} ({status.get('reason')})")
    print(f"outputs: {json.dumps(status.get('outputs') or {}, indent=2, sort_keys=True)}")
    if status.get("message"):
        print(f"message: {status['message']}")
    return 0 if status.get("phase") == resources.SUCCEEDED else 1
