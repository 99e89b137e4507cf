"""The engine: the core driven by store events, the same in the operator and in embedded mode.

It reads and writes through an ``engine.store.Store`` and runs flows through an
``engine.executor.Executor`` (both Protocols), never through a concrete one: the executions
controller, the link's inbox, outbox reading and exchange, the dialer loops, the SyncConfig
status, the lost-peer check. It imports only the core.
"""
