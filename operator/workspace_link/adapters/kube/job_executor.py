"""``executor.Executor`` on batch/v1 Jobs, and the reading of Job and pod changes.

Why it exists: in the operator an execution runs as a Job built by ``job_manifest.build_job``; this
shell creates and deletes those Jobs through ``kubestore.KubeStore`` and turns Job and pod
events (delivered by kopf, see ``handlers``) into ``executions.run_ended`` for the endings the
runner cannot report itself (``job_manifest.job_outcome``, ``job_manifest.pod_problem``).

Constraints it keeps:

- Idempotent by execution name: ``start`` on an existing Job of the same Execution (same uid)
  is a no-op; a Job left by an earlier Execution of the same name (the API server's GC has not
  removed it yet) is refused as transient, so its ending never ends the new execution.
- Deletes are explicit about propagation: a Job deleted through the API without
  ``propagationPolicy`` orphans its pods (batch/v1's default), which would leave the flow running.
- A pod stuck in image pull back-off or unschedulable may produce no further watch event when
  ``settings.pending_pod_timeout`` passes, so a re-check is scheduled in memory for that time. A
  restart loses it harmlessly: kopf lists every pod again on start and the re-check is rescheduled.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from workspace_link.adapters.kube import kubestore
from workspace_link.core import backoff, errors, job_manifest, labels, naming, resources, settings
from workspace_link.engine import executions, workspace

logger = logging.getLogger(__name__)

#: Foreground would keep the Job until its pods are gone; nobody waits on that, Background
#: removes the Job at once and the API server's GC removes the pods right after.
PROPAGATION: Final = "Background"
#: Retries of a Job's or pod's outcome report after a store failure (``backoff.retry_delays``:
#: up to RETRY_INITIAL, 2x, 4x... seconds, capped at RETRY_MAX, jittered).
RETRY_INITIAL: Final = 1.0
RETRY_MAX: Final = 60.0
RETRY_ATTEMPTS: Final = 12
#: The store failures a retry can outlast: an unavailable API server, a write that raced another.
TRANSIENT: Final = (errors.StoreUnavailable, errors.Conflict)


class JobExecutor:
    """Runs executions as Jobs in one namespace (``store.namespace``)."""

    def __init__(self, store: kubestore.KubeStore, *, settings: settings.Settings) -> None:
        self._store = store
        self._settings = settings
        self._rechecks: dict[str, asyncio.Task[None]] = {}

    # -- executor.Executor -----------------------------------------------------------------
    async def start(self, execution: resources.Body, *, secret_name: str, resume: bool = False) -> str:
        manifest = job_manifest.build_job(execution, settings=self._settings, secret_name=secret_name)
        name = str(manifest["metadata"]["name"])
        if resume:
            try:
                await self._store.get(kubestore.JOB, name)
            except errors.NotFound:
                raise errors.RunLost(
                    f"Job {name!r} is gone (finished and expired, or deleted) while the operator was not"
                    " watching; it is not started again so that the script does not run twice"
                ) from None
            return name
        try:
            await self._store.create(kubestore.JOB, manifest)
            logger.info("Execution %s: created Job %s", resources.name(execution), name)
        except errors.AlreadyExists:
            try:
                existing = await self._store.get(kubestore.JOB, name)
            except errors.NotFound:
                raise errors.StoreUnavailable(
                    f"Job {name!r} was deleted while starting it; retrying"
                ) from None
            if job_manifest.owner_uid(existing, resources.EXECUTION) != resources.uid(execution):
                raise errors.StoreUnavailable(
                    f"Job {name!r} belongs to an earlier Execution of the same name and is still"
                    " being deleted; retrying"
                ) from None
        return name

    async def cancel(self, execution: resources.Body) -> None:
        await self._delete(execution)

    async def cleanup(self, execution: resources.Body) -> None:
        await self._delete(execution)

    async def _delete(self, execution: resources.Body) -> None:
        name = resources.name(execution)
        try:
            job = await self._store.get(kubestore.JOB, _job_name(execution))
        except errors.NotFound:
            return
        # Only our own Job: a same-named one could belong to a newer Execution.
        if job_manifest.owner_uid(job, resources.EXECUTION) not in (None, resources.uid(execution)):
            return
        try:
            await self._store.delete(kubestore.JOB, _job_name(execution), propagation_policy=PROPAGATION)
            logger.info("Execution %s: deleted Job %s", name, _job_name(execution))
        except errors.NotFound:
            pass

    # -- what Jobs and pods say ------------------------------------------------------------
    async def job_changed(
        self, ws: workspace.Workspace, job: resources.Body, *, deleted: bool = False
    ) -> None:
        """A runner Job changed: end its execution if the Job finished and the runner did not say so.

        ``deleted``: the Job is gone (its last state is ``job``). A finished one still tells how
        it ended; one deleted while running (by someone else: we delete only ended runs) can
        never report, so its execution fails instead of waiting forever.
        """
        if not deleted and job_manifest.job_outcome(job, ()) is None:
            return
        execution = await self._owning_execution(ws, job)
        if execution is None or resources.is_terminal(execution):
            return
        job_name = resources.name(job)
        selector = {labels.EXECUTION: resources.labels(job).get(labels.EXECUTION, "")}
        pods = [
            pod
            for pod in await self._store.list(kubestore.POD, labels=selector)
            if job_manifest.owner_name(pod, "Job") == job_name
        ]
        outcome = job_manifest.job_outcome(job, pods) or (
            job_manifest.job_deleted_outcome() if deleted else None
        )
        if outcome is None:
            return
        phase, reason, message = outcome
        logger.info(
            "Execution %s: Job %s ended (%s: %s)", resources.name(execution), job_name, reason, message
        )
        await executions.run_ended(ws, resources.name(execution), phase=phase, reason=reason, message=message)

    async def pod_changed(self, ws: workspace.Workspace, pod: resources.Body) -> None:
        """A runner pod changed: fail its execution when the pod can never run (see the module doc)."""
        key = resources.uid(pod) or resources.name(pod)
        timeout = self._settings.pending_pod_timeout
        problem = job_manifest.pod_problem(pod, now=resources.now(), pending_timeout=timeout)
        if problem is None:
            recheck_at = job_manifest.pod_recheck_at(pod, pending_timeout=timeout)
            if recheck_at is not None:
                self._schedule_recheck(ws, key, resources.name(pod), recheck_at)
            return
        self._forget(key)
        job_name = job_manifest.owner_name(pod, "Job")
        if job_name is None:
            return
        try:
            job = await self._store.get(kubestore.JOB, job_name)
        except errors.NotFound:
            return
        execution = await self._owning_execution(ws, job)
        if execution is None or resources.is_terminal(execution):
            return
        phase, reason, message = problem
        logger.info(
            "Execution %s: pod %s cannot run (%s)", resources.name(execution), resources.name(pod), reason
        )
        await executions.run_ended(ws, resources.name(execution), phase=phase, reason=reason, message=message)
        # The pod would keep pulling or waiting for a node forever: stop it.
        await self.cancel(execution)

    async def report_job(
        self, ws: workspace.Workspace, job: resources.Body, *, deleted: bool = False
    ) -> None:
        """``job_changed``, retried with backoff when the store fails: kopf never retries an
        event handler, and a finished Job sends no further event to try again on."""
        await self._reliably(
            f"job:{resources.uid(job) or resources.name(job)}",
            lambda: self.job_changed(ws, job, deleted=deleted),
            what=f"Job {resources.name(job)}",
        )

    async def report_pod(self, ws: workspace.Workspace, pod: resources.Body) -> None:
        """``pod_changed``, retried with backoff when the store fails (a stuck pod is quiet)."""
        await self._reliably(
            f"pod-retry:{resources.uid(pod) or resources.name(pod)}",
            lambda: self.pod_changed(ws, pod),
            what=f"pod {resources.name(pod)}",
        )

    async def _reliably(self, key: str, attempt: Callable[[], Awaitable[None]], *, what: str) -> None:
        """Run ``attempt`` now; after a transient store failure, again with backoff in a task."""
        if await self._attempt(attempt, what=what):
            return

        async def retry() -> None:
            for delay in backoff.retry_delays(RETRY_ATTEMPTS, initial=RETRY_INITIAL, maximum=RETRY_MAX):
                await asyncio.sleep(delay)
                if await self._attempt(attempt, what=what):
                    return
            logger.error("%s: gave up reporting its outcome after %d attempts", what, RETRY_ATTEMPTS)

        self._forget(key)
        task = asyncio.get_running_loop().create_task(retry())
        self._rechecks[key] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._rechecks.get(key) is finished:
                del self._rechecks[key]

        task.add_done_callback(done)

    @staticmethod
    async def _attempt(attempt: Callable[[], Awaitable[None]], *, what: str) -> bool:
        """True when ``attempt`` is done with (it succeeded, or failed in a way no retry can fix)."""
        try:
            await attempt()
        except TRANSIENT as exc:
            logger.warning("%s: could not report its outcome (will retry): %s", what, exc)
            return False
        except errors.WorkspaceLinkError as exc:
            # RBAC, a missing CRD, a malformed object: retrying cannot help; an admin acts.
            logger.error("%s: cannot report its outcome (not retried): %s", what, exc)
        return True

    def pod_gone(self, pod: resources.Body) -> None:
        self._forget(resources.uid(pod) or resources.name(pod))

    async def close(self) -> None:
        """Cancel the scheduled re-checks (operator shutdown)."""
        tasks = list(self._rechecks.values())
        self._rechecks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- internals -------------------------------------------------------------------------
    async def _owning_execution(self, ws: workspace.Workspace, job: resources.Body) -> resources.Body | None:
        """The Execution that owns ``job`` — the same object, not a newer one of the same name."""
        name = job_manifest.owner_name(job, resources.EXECUTION)
        if name is None:
            return None
        try:
            execution = await ws.store.get(resources.EXECUTION, name)
        except errors.NotFound:
            return None
        if resources.uid(execution) != job_manifest.owner_uid(job, resources.EXECUTION):
            return None
        return execution

    def _schedule_recheck(
        self, ws: workspace.Workspace, key: str, pod_name: str, when: datetime.datetime
    ) -> None:
        self._forget(key)
        delay = max(0.0, (when - resources.now()).total_seconds()) + 1.0
        self._rechecks[key] = asyncio.get_running_loop().create_task(self._recheck(ws, key, pod_name, delay))

    async def _recheck(self, ws: workspace.Workspace, key: str, pod_name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._rechecks.pop(key, None)

        async def attempt() -> None:
            try:
                pod = await self._store.get(kubestore.POD, pod_name)
            except errors.NotFound:
                return
            await self.pod_changed(ws, pod)

        await self._reliably(f"pod-retry:{key}", attempt, what=f"pod {pod_name}")

    def _forget(self, key: str) -> None:
        task = self._rechecks.pop(key, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()


def _job_name(execution: resources.Body) -> str:
    return naming.job_name(resources.name(execution))
