"""Operator settings: every knob in one frozen dataclass, with its unit and why its default.

Read from environment variables (``WL_<NAME>``, upper-case) by ``Settings.from_env()``; the
chart sets them from values. Timing that interacts (long-poll hold, lost-peer timeout, backoff)
is explained here once, and other modules point here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

_BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


@dataclass(frozen=True)
class Settings:
    #: Seconds a signature stays valid after ``created`` (its ``expires``) and the longest
    #: we accept; also how long nonces are remembered for replay protection.
    signature_max_age: float = 300.0
    #: Seconds of clock difference tolerated between the peers (``created`` in the future).
    clock_skew: float = 30.0
    #: Seconds the listener holds a long-poll with nothing to send. Below 25 s so common
    #: ingress/load-balancer idle timeouts (30-60 s) do not cut the request.
    long_poll_hold: float = 20.0
    #: Seconds without a successful exchange after which the controlling side gives up on the
    #: peer: non-terminal linked executions fail with reason PeerLost and a cancel is queued.
    #: Must be far larger than ``long_poll_hold`` and the backoff cap. 0 disables.
    peer_lost_timeout: float = 900.0
    #: Capped exponential backoff with full jitter after a failed exchange (seconds).
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    #: Most messages put into one exchange; the rest follow in the next one at once. The
    #: protocol's own cap (500), so a backlog (mirroring past executions) takes few exchanges;
    #: bodies stay under ``max_body_bytes`` because the outbox also bounds them by size.
    exchange_batch: int = 500
    #: Seconds for one HTTP exchange beyond the hold (connect + transfer).
    exchange_timeout: float = 30.0
    #: Seconds a runner pod may stay unscheduled or unable to pull its image before the
    #: execution fails with that reason (a Job never reports these itself).
    pending_pod_timeout: float = 300.0
    #: Seconds a finished Job is kept (ttlSecondsAfterFinished) for logs to be read.
    job_ttl_after_finished: int = 3600
    #: Image of the runner Job (the operator's own image by default).
    runner_image: str = "workspace-link:dev"
    runner_image_pull_policy: str = "IfNotPresent"
    runner_service_account: str = "workspace-link-runner"
    runner_cpu_request: str = "50m"
    runner_memory_request: str = "64Mi"
    runner_cpu_limit: str = "1"
    runner_memory_limit: str = "512Mi"
    #: Runner pod placement and registry access, set by the chart from ``runner.*`` values.
    #: Comma-separated Secret names for the runner pod's imagePullSecrets; None = none.
    runner_image_pull_secrets: str | None = None
    #: JSON object of the runner pod's nodeSelector; None = none.
    runner_node_selector: str | None = None
    #: JSON list of the runner pod's tolerations (Kubernetes Toleration objects); None = none.
    runner_tolerations: str | None = None
    #: URL runners use to reach the runner API (the chart points it at the runner Service).
    runner_api_url: str = "http://127.0.0.1:8081"
    #: Ports: the sync endpoint (TLS when a certificate is given), the runner API, health+metrics.
    sync_port: int = 8443
    runner_port: int = 8081
    health_port: int = 8080
    #: PEM files for the listener's TLS; unset = plain HTTP behind a TLS-terminating Ingress.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    #: Namespace holding the key Secrets (None = the workspace's own namespace).
    keys_namespace: str | None = None
    #: Bytes of a request/response body accepted on the sync endpoint.
    max_body_bytes: int = 8 * 1024 * 1024
    #: Sync endpoint, against slow or many clients (aiohttp alone bounds only idle keep-alive):
    #: seconds for the TLS handshake and for each request head from its first byte; seconds
    #: for an authenticated request's body (8 MiB at 1 Mbit/s is ~70 s); seconds an idle
    #: kept-alive connection stays open (the dialer opens its next exchange at once); and
    #: connections open at once, past which new ones are closed unread.
    request_header_timeout: float = 10.0
    request_body_timeout: float = 90.0
    keepalive_timeout: float = 75.0
    max_connections: int = 256
    #: Children one execution may start (``this.flow``), so a runaway loop cannot flood the
    #: workspace with Executions; a retried start of an existing child is not counted again.
    max_children_per_execution: int = 100
    #: Bytes of one local runner's log file (embedded mode); the rest is dropped with a note.
    #: A Job's log is the kubelet's to rotate.
    runner_log_max_bytes: int = 8 * 1024 * 1024
    #: DEBUG, INFO, WARNING or ERROR. INFO says what changed and what failed, never that an
    #: event was handled or a request sent (that is DEBUG; see ``logs``).
    log_level: str = "INFO"
    #: ``text`` (one line per record) or ``json`` (one object per line, for log collectors).
    log_format: str = "text"
    #: Post the Normal Events of routine steps (an Execution Started, Succeeded) on the API
    #: server. Off: each is an API write (two per execution) saying what the Execution's status
    #: already says; Warnings (failures, cancels, refusals) are always posted. The embedded
    #: mode records them all (in memory, free).
    normal_events: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"WL_{f.name.upper()}")
            if raw is None:
                continue
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
            try:
                if kind.startswith("bool"):
                    if raw.strip().lower() not in _BOOLEANS:
                        raise ValueError(raw)
                    values[f.name] = _BOOLEANS[raw.strip().lower()]
                elif kind.startswith("float"):
                    values[f.name] = float(raw)
                elif kind.startswith("int"):
                    values[f.name] = int(raw)
                else:
                    values[f.name] = raw or None if "None" in kind else raw
            except ValueError:
                raise ValueError(f"WL_{f.name.upper()}: {raw!r} is not a valid {kind}") from None
        return cls(**values)  # type: ignore[arg-type]
