"""Says what it is doing with this.save(message=...) while it waits for a child that runs until
cancelled, then says what happened and ends without a message of its own."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    this.save(message="waiting for the slow child")
    child = this.flow("slow", wait=system.return_when.ALL_ENDED)
    this.save(output_value={"child": child.get("status")}, message=f"the child ended {child.get('status')}")
