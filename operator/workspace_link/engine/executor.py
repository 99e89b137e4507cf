"""What runs an execution's script: the interface both executors implement.

``job_executor.JobExecutor`` runs a batch/v1 Job (operator); ``process_executor.ProcessExecutor``
runs the same runner in a local subprocess (embedded mode, tests). The runner reports its own
outcome through the runner API; an executor reports only what the runner cannot (the process
or pod died, the image could not be pulled, the deadline passed) by calling
``lifecycle.run_ended``.
"""

from __future__ import annotations

from typing import Protocol

from workspace_link.core import resources


class Executor(Protocol):
    async def start(self, execution: resources.Body, *, secret_name: str, resume: bool = False) -> str:
        """Start the runner for ``execution``; return the run's name (the Job name).

        Idempotent by execution name: starting a run that already exists returns its name.
        ``secret_name`` names the per-execution Secret holding ``token`` and ``url``.

        ``resume=True``: the execution is already Running (found so after a restart). A run that
        outlives the operator (a Job) and is gone now has finished or was deleted: starting it
        again would run the script twice, so the executor raises ``errors.RunLost`` instead. A
        run that dies with its workspace (a local process) is started again.
        """
        ...

    async def cancel(self, execution: resources.Body) -> None:
        """Stop the run if it is still going. Idempotent."""
        ...

    async def cleanup(self, execution: resources.Body) -> None:
        """Remove what the run left (Job, pods, processes). Idempotent."""
        ...
