import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    child = this.flow("hello", remote_workspace_name="link-to-b", inputs={"name": "x"})
    this.log("remote said", child.get("output_value"))
    return this.success("all done")
