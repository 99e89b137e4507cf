"""The adapters: the engine's stores, executors and transports, and the wiring of each mode.

- ``adapters.kube``: the API server as store (``kubestore``), Jobs as executor, the kopf handlers.
- ``adapters.local``: the in-memory store, local processes as executor, the embedded workspace.
- ``adapters.http``: the sync listener and peer client, the runner API, health, TLS serving.

``kube`` and ``local`` never import each other (an ``independence`` contract).
"""
