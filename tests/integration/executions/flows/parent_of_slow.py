"""Starts two slow children without waiting, says so, then runs until it is cancelled."""

import time


def handler(system, this):
    names = [this.flow("slow", wait=False).name for _ in range(2)]
    this.save(output_value={"children": names})
    this.log("children started")
    time.sleep(3600)
