"""The embedded mode: an in-memory store, local processes as the executor, two workspaces in one process."""
