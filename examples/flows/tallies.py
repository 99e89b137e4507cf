"""Runs four `tally` children at once (in the workspace linked by the input `remote`, when
given): each takes the setting's lock, so every count from 1 to 4 is seen exactly once."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    remote = this.get("input_value").get("remote")
    children = [this.flow("tally", wait=False, remote_workspace_name=remote) for _ in range(4)]
    this.wait_for(children, return_when=system.return_when.ALL_SUCCEEDED, timeout=120)
    counts = sorted(child.get("output_value")["count"] for child in children)
    this.save(output_value={"counts": counts}, message=f"counted {len(counts)} in {remote or 'here'}")
