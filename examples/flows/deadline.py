"""Starts a child that would run for an hour with max_runtime_minutes: its deadline ends it
(in the linked workspace too, when the input `remote` is given), and ALL_ENDED reads how."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    remote = this.get("input_value").get("remote")
    child = this.flow(
        "sleeper",
        seconds=3600,
        max_runtime_minutes=0.02,
        remote_workspace_name=remote,
        wait=system.return_when.ALL_ENDED,
    )
    status, message = child.load("status", "message")
    this.save(output_value={"status": status, "message": message})
