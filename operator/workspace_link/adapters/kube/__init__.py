"""The operator on a cluster: the API server as the store, Jobs as the executor, kopf handlers."""
