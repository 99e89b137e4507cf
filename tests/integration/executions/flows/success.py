"""Saves outputs from its inputs and succeeds with a message."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict) -> None:
    this.log("greeting", inputs["name"])
    this.save(output_value={"greeting": f"hello {inputs['name']}", "workspace": system.workspace})
    this.set_output("count", 2)
    return this.success("all done")
