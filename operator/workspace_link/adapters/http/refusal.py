"""``HttpRefusal``: a request one of our HTTP servers refuses, raised where the check fails.

The sync listener turns it into the protocol's error body (docs/protocol.md §5: status, a
stable ``reason`` word, a message); the runner API into ``{"error": message}``. It is not part
of the error tree (``core.errors``): it never leaves the HTTP handler that raised it.
"""

from __future__ import annotations


class HttpRefusal(Exception):
    """Refuse the request with HTTP ``status``; ``message`` is for a person and names the field.

    ``reason`` is the sync protocol's machine word (``"too-large"``, ``"disabled"``, ...);
    the runner API, which has none, leaves it at ``"refused"``.
    """

    def __init__(self, status: int, message: str, *, reason: str = "refused") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
