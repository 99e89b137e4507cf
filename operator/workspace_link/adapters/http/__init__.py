"""HTTP in and out: the sync listener, the peer client, the runner API, health and TLS serving."""
