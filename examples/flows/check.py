"""One check: squares its input `i`; ends ENDED_ERROR when `fail` is set, as a failing child."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    i = this.get("input_value")["i"]
    this.log("checking", i=i, workspace=system.get_env_name())
    if this.get("input_value").get("fail"):
        return this.end("error", f"check {i} failed")
    this.save(output_value={"square": i * i, "workspace": system.get_env_name()})
    return this.success(f"check {i} passed")
