"""Waits for the slow flow with a timeout, records the timeout, and fails with it unhandled."""

import flow_api


def handler(system, this):
    child = this.flow("slow", wait=False)
    try:
        child.wait(timeout=0.5)
    except flow_api.TimeoutExceededError as exc:
        this.save(output_value={"timed_out": exc.child, "child_status": child.status})
    this.flow("slow", timeout=0.5)
