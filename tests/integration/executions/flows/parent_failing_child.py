"""Runs the failing flow unhandled as a child: the failure surfaces as DependencyFailedError."""

import flow_api


def handler(system, this):
    try:
        this.flow("unhandled")
    except flow_api.DependencyFailedError as exc:
        this.save(output_value={"caught": exc.phase, "child": exc.child})
        raise
