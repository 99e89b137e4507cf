"""A handler written as handler(system, this) that returns normally."""


def handler(system, this):
    this.save(output_value={"doubled": this.get_input("x", type=int) * 2})
