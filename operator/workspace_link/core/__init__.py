"""The pure core: what the link *is*, with no I/O.

Protocol messages and their wire form, signatures and replay protection, keys, the execution
state machine, what is still to be sent, the Job manifest builder, settings, names and labels.
Nothing here reads a store, opens a socket or imports kopf, kubernetes, aiohttp, httpx or
prometheus_client (the ``Tiers`` contracts in pyproject.toml hold it so), which is why all of it
is tested with plain unit tests.
"""
