"""Runs the local flow two_args as a child and reads its outputs."""


def handler(system, this):
    child = this.flow("two_args", inputs={"x": 21})
    status, outputs = child.load("status", "output_value")
    this.save(output_value={"child_status": status, "child_result": outputs["doubled"]})
    this.success(f"child {child.name} done")
