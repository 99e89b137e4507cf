"""What a runner may do to its own execution: the operations the runner API exposes.

The runner API (``adapters.http.runner_api``) authenticates the runner by its token and calls
these with the runner's execution: append to the log tail (``log``), merge outputs and set the
status message (``save``), report the end (``end``) and start a child (``start_child``). Every
write is a conditional status update (``executions.update_status``); every limit is
``core.bounds``'s, the same the CRDs and the protocol enforce.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from workspace_link.core import bounds, errors, execution_state, labels, naming, resources
from workspace_link.engine import executions, workspace


async def log(ws: workspace.Workspace, name: str, lines: Iterable[str]) -> None:
    """Append to the log tail. Raises ``errors.InvalidTransition`` once the execution ended."""
    items = [str(line) for line in lines]
    await executions.update_status(ws, name, lambda status: execution_state.append_log(status, items))


async def save(
    ws: workspace.Workspace, name: str, outputs: Mapping[str, Any], *, message: str | None = None
) -> dict[str, Any]:
    """Merge outputs and, when given, set the status message, in one write; return all saved
    outputs. Raises ``errors.SpecError`` (field ``outputs`` or ``message``)."""

    def change(status: dict[str, Any]) -> dict[str, Any]:
        if message is None:
            return execution_state.save_outputs(status, outputs)
        # One version step for one call: outputs (if any) and the message together.
        with_outputs = execution_state.save_outputs(status, outputs) if outputs else status
        new = execution_state.save_message(with_outputs, message)
        new["version"] = execution_state.version(status) + 1
        return new

    written = await executions.update_status(ws, name, change)
    return dict(resources.status(written).get("outputs") or {})


async def end(
    ws: workspace.Workspace, name: str, phase: str, message: str | None, reason: str | None
) -> None:
    """The runner reports how its flow ended.

    Raises ``errors.InvalidTransition`` if it already had.
    """
    if phase not in resources.TERMINAL:
        raise errors.SpecError(f"must be one of {sorted(resources.TERMINAL)}, not {phase!r}", field="phase")
    final_reason = reason or execution_state.DEFAULT_REASON[phase]
    if phase == resources.SUCCEEDED:
        final_message: str = execution_state.completed_message(message)
    elif phase == resources.CANCELLED:
        final_message = message or execution_state.cancelled_message()
    else:
        final_message = message or execution_state.flow_error_message(None)

    def change(status: dict[str, Any]) -> dict[str, Any]:
        return execution_state.finish(
            status, phase=phase, reason=final_reason, message=final_message, now=resources.now()
        )

    await executions.update_status(ws, name, change)
    if phase != resources.SUCCEEDED:
        # A parent that failed or was cancelled waits for nothing any more. A successful one
        # may leave fire-and-forget children (``wait=False``) running on purpose.
        await executions.cascade_cancel(ws, name)


def _inputs_checked(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise errors.SpecError("must be an object", field="inputs")
    if len(inputs) > bounds.MAX_OBJECT_KEYS:
        raise errors.SpecError(
            f"has {len(inputs)} keys, over the limit of {bounds.MAX_OBJECT_KEYS}", field="inputs"
        )
    try:
        size = execution_state.outputs_size(inputs)
    except errors.SpecError as exc:
        raise errors.SpecError(str(exc).removeprefix("outputs: "), field="inputs") from None
    if size > bounds.MAX_INPUTS_BYTES:
        raise errors.SpecError(
            f"is {size} bytes of JSON, over the limit of {bounds.MAX_INPUTS_BYTES}", field="inputs"
        )
    return dict(inputs)


async def _check_children_bound(ws: workspace.Workspace, parent: str, name: str) -> None:
    limit = ws.settings.max_children_per_execution
    # Only counted and named: read from the cache without copies (``Workspace.view``).
    children = await ws.view(resources.EXECUTION, labels={labels.PARENT: labels.value(parent)})
    if len(children) >= limit and name not in {resources.name(child) for child in children}:
        raise errors.SpecError(
            f"execution {parent!r} has started {len(children)} children, the limit of {limit} children"
            " per execution (setting max_children_per_execution)",
            field="children",
        )


async def start_child(
    ws: workspace.Workspace,
    parent_body: resources.Body,
    *,
    call_id: str,
    flow: str,
    remote_workspace: str | None,
    inputs: Mapping[str, Any] | None,
    timeout_seconds: int | None,
) -> str:
    """Create a child Execution of ``parent_body``; idempotent by ``call_id``. Returns its name."""
    if not isinstance(call_id, str) or not call_id:
        raise errors.SpecError("must be a non-empty string", field="callId")
    if not isinstance(flow, str) or not flow:
        raise errors.SpecError("must be a non-empty string", field="flow")
    if remote_workspace is not None and (not isinstance(remote_workspace, str) or not remote_workspace):
        raise errors.SpecError("must be a non-empty string", field="remoteWorkspace")
    if timeout_seconds is not None and (
        isinstance(timeout_seconds, bool)
        or not isinstance(timeout_seconds, int)
        or not 1 <= timeout_seconds <= bounds.MAX_TIMEOUT_SECONDS
    ):
        raise errors.SpecError(
            f"must be an integer from 1 to {bounds.MAX_TIMEOUT_SECONDS}", field="timeoutSeconds"
        )
    child_inputs = _inputs_checked(inputs)
    parent = resources.name(parent_body)
    if resources.is_terminal(parent_body):
        raise errors.InvalidTransition(resources.phase(parent_body), "given children")
    name = naming.child_execution_name(parent, resources.uid(parent_body), call_id)
    await _check_children_bound(ws, parent, name)
    child_labels = {labels.PARENT: labels.value(parent)}
    spec: dict[str, Any] = {"flow": flow, "inputs": child_inputs, "parent": parent}
    if remote_workspace:
        child_labels[labels.REMOTE_LINK] = labels.value(remote_workspace)
        spec["remoteWorkspace"] = remote_workspace
    if timeout_seconds is not None:
        spec["timeoutSeconds"] = timeout_seconds
    body = {
        "apiVersion": labels.API_VERSION,
        "kind": resources.EXECUTION,
        "metadata": {
            "name": name,
            "labels": labels.managed(**child_labels),
            # The parent owns its children (deleting it deletes them) without controlling them.
            "ownerReferences": [
                resources.owner_reference(parent_body, controller=False, block_owner_deletion=False)
            ],
        },
        "spec": spec,
    }
    try:
        await ws.store.create(resources.EXECUTION, body)
    except errors.AlreadyExists:
        existing = await executions.read(ws, name)
        if existing is None or resources.spec(existing).get("parent") != parent:
            raise
        return name  # the runner retried a create that had worked
    # The child's start leaves before this call is answered (``this.flow`` waits for it anyway).
    await ws.changes.notify_first()
    # A cancel cascade that listed the children just before this create would miss it.
    current_parent = await executions.read(ws, parent)
    if current_parent is None or resources.is_terminal(current_parent):
        await executions.cancel(ws, name)
    return name
