"""Reads one check's report, then probes with a failing check waited for with ALL_ENDED (which
does not raise) and ends with the probe's own status and message, as Engine flows do."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    remote = this.get("input_value").get("remote")
    report = this.flow("check", i=5, remote_workspace_name=remote).get("output_value")
    this.save(output_value={"report": report})
    child = this.flow(
        "check",
        i=3,
        fail=True,
        name="probe-3",
        remote_workspace_name=remote,
        wait=system.return_when.ALL_ENDED,
    )
    status, message = child.load("status", "message")
    this.set_output("probe", {"name": child.get("name"), "status": status})
    if status == "ENDED_ERROR":
        return this.end("error", message)
    return this.success("the probe passed")
