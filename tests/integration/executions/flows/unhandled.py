"""Raises an exception the flow does not handle."""


def compute(value):
    return 1 / value


def handler(system, this):
    this.log("about to divide")
    compute(0)
