"""Fans out four checks (into the workspace linked by the input `remote`, when given), starts
them together and waits for all: the Engine's run=False, run_async and wait_for."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    remote = this.get("input_value").get("remote")
    tasks = [this.flow("check", i=i, run=False, remote_workspace_name=remote) for i in range(4)]
    for task in tasks:
        task.run_async()
    this.wait_for(*tasks)
    squares = [task.get("output_value")["square"] for task in tasks]
    statuses = [task.get("status") for task in tasks]
    this.save(output_value={"squares": squares, "statuses": statuses})
    return this.success(f"{len(tasks)} checks done")
