"""Says it started, then runs until it is cancelled."""

import time


def handler(system, this):
    this.log("started")
    time.sleep(3600)
