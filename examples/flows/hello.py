import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    greeting = f"hello, {inputs.get('name', 'world')}"
    this.log(greeting)
    this.save(output_value={"greeting": greeting})
    return this.success(greeting)
