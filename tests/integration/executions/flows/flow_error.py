"""Ends itself failed with this.error, through an except Exception that must not swallow it."""


def handler(system, this):
    try:
        this.error("the input was rejected")
    except Exception:
        this.save(output_value={"swallowed": True})
