"""Prometheus metrics, in one place: what an admin graphs and alerts on.

Served by ``health`` on ``/metrics``. Labels are SyncConfig names and short reason words only,
never peer-supplied free text, so the series stay few. The listener counts what it answers;
the dialer counts through ``observe_exchange``, the observer ``link.run`` calls after every
successful exchange.
"""

from __future__ import annotations

from typing import Final

import prometheus_client

from workspace_link.engine import exchange

SYNC_REFUSALS: Final = prometheus_client.Counter(
    "workspace_link_sync_refusals", "Sync requests this listener refused, by reason", ["reason"]
)
SYNC_EXCHANGES: Final = prometheus_client.Counter(
    "workspace_link_sync_exchanges",
    "Sync requests this listener answered with 200, by SyncConfig",
    ["config"],
)
DIALER_EXCHANGES: Final = prometheus_client.Counter(
    "workspace_link_dialer_exchanges", "Successful exchanges this dialer opened, by SyncConfig", ["config"]
)
MESSAGES_SENT: Final = prometheus_client.Counter(
    "workspace_link_messages_sent", "Protocol messages sent by this dialer, by SyncConfig", ["config"]
)
MESSAGES_RECEIVED: Final = prometheus_client.Counter(
    "workspace_link_messages_received", "Protocol messages received by this dialer, by SyncConfig", ["config"]
)


def observe_exchange(config: str, result: exchange.ExchangeResult) -> None:
    DIALER_EXCHANGES.labels(config=config).inc()
    MESSAGES_SENT.labels(config=config).inc(result.sent)
    MESSAGES_RECEIVED.labels(config=config).inc(result.received)
