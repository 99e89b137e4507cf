"""Counts itself in the setting `tally` of the workspace it runs in, under the setting's lock:
a read-modify-write two executions must not interleave."""

import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    tally = system.setting("tally")
    tally.acquire(timeout=60)
    try:
        count = tally.get("value") or 0  # acquire created it, without a value
        tally.save(value=count + 1)
    finally:
        tally.release()
    system.setting("tally_runs").list_append(this.get("name"))
    this.save(output_value={"count": count + 1, "workspace": system.get_env_name()})
