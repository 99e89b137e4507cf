"""Sleeps for its input `seconds` (a child for deadlines and cancels)."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    this.sleep(this.get("input_value").get("seconds", 1))
