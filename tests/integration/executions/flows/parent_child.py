"""Runs the local flow two_args as a child and reads its outputs."""


def handler(system, this):
    child = this.flow("two_args", inputs={"x": 21})
    this.save(child_status=child.get("status"), child_result=child.get("output_value")["doubled"])
    this.success(f"child {child.name} done")
