"""The project's error tree, organised by what the caller can do about it.

::

    WorkspaceLinkError                 base of everything a peer, a spec or the store can cause
    ├── SpecError                      a resource or input is malformed: fix it, retrying won't help
    │   └── MessageError               a protocol body is malformed (names the field)
    │       └── UnsupportedProtocol    the body speaks another protocol version (-> 422)
    ├── SignatureError                 a signature is missing, invalid, expired, replayed, ...
    │   (``reason`` is a short machine word: "missing", "expired", "replayed", "unknown-key", ...)
    ├── PeerError                      talking to the peer failed
    │   ├── PeerUnreachable            transient: network, TLS, timeout, 5xx -> retry with backoff
    │   └── PeerRefused                the peer answered 4xx with a reason -> fix config, then retry
    ├── StoreError                     the store refused an operation
    │   ├── NotFound
    │   ├── AlreadyExists
    │   └── Conflict                   stale resourceVersion: re-read, decide again
    ├── RunLost                        a Running execution's Job is gone; it is failed, not run twice
    └── KeyLoadError                   a referenced Secret/key is missing or unparsable
                                       (names the Secret and key, never the content)

Third-party errors (httpx, cryptography, kubernetes, aiohttp) are translated at one boundary
each and chained with ``from``. Misuse (a bug in our code) raises ``TypeError`` /
``RuntimeError`` / ``ValueError``, never a subclass of this tree, so a bug is never swallowed
as a peer error.
"""


class WorkspaceLinkError(Exception):
    """Base of every error a peer, a resource or the store can cause."""


class SpecError(WorkspaceLinkError):
    """A resource, an input or a setting is malformed. ``field`` names where."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class MessageError(SpecError):
    """A protocol body is malformed; the message names the JSON field."""


class UnsupportedProtocol(MessageError):
    """A body names a protocol version this side does not speak; the message names both."""

    def __init__(self, *, received: object, supported: int) -> None:
        super().__init__(
            f"protocol version {received!r} is not supported;"
            f" this workspace speaks protocol version {supported}",
            field="protocol",
        )
        self.received = received
        self.supported = supported


class SignatureError(WorkspaceLinkError):
    """A signature did not verify. ``reason`` is a stable short word for metrics and refusals."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PeerError(WorkspaceLinkError):
    """An exchange with the peer failed."""


class PeerUnreachable(PeerError):
    """Transient: the network, TLS, a timeout or a 5xx. Retry with backoff."""


class PeerRefused(PeerError):
    """The peer answered with a 4xx and a reason. Retrying without a fix will not help."""

    def __init__(self, message: str, *, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class StoreError(WorkspaceLinkError):
    """The store refused an operation."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    """A write was conditional on a resourceVersion that is no longer current."""


class KeyLoadError(WorkspaceLinkError):
    """A referenced Secret or key is missing or unusable. Names the Secret and key, never content."""


class RunLost(WorkspaceLinkError):
    """A Running execution's run (its Job) no longer exists and must not be started again."""
