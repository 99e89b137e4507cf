"""Workspace Link: link two workspaces so a flow in one runs executions in the other.

The package is split into a pure core (no I/O) and thin shells around it; see
``docs/architecture.md`` for the map.
"""

__version__ = "0.1.0"
