"""The project's error tree, organised by what the caller can do about it.

::

    WorkspaceLinkError                 base of everything a peer, a spec or the store can cause
    ├── SpecError                      a resource or input is malformed: fix it, retrying won't help
    │   ├── MessageError               a protocol body is malformed (names the field)
    │   │   └── UnsupportedProtocol    the body speaks another protocol version (-> 422)
    │   └── OutputsTooLarge            merged outputs over the bound (field ``outputs``)
    ├── SignatureError                 a signature is missing, invalid, expired, replayed, ...
    │   (``reason`` is a short machine word: "missing", "expired", "replayed", "unknown-key", ...)
    ├── PeerError                      talking to the peer failed
    │   ├── PeerUnreachable            transient: network, TLS, timeout, 5xx -> retry with backoff
    │   └── PeerRefused                the peer answered 4xx with a reason -> fix config, then retry
    │       └── RoleMismatch           both sides claim one role: an admin fixes one SyncConfig
    ├── StoreError                     the store refused an operation
    │   ├── NotFound                   the object is not there
    │   ├── AlreadyExists              the name is taken
    │   ├── Conflict                   stale resourceVersion: re-read, decide again
    │   ├── StoreUnavailable           transient: 429, 5xx, a timeout -> retry with backoff
    │   └── StoreRefused               permanent until an admin acts: RBAC 403, a missing CRD,
    │                                  a terminating namespace, quota, rejected credentials
    ├── InvalidTransition              the execution's phase does not allow the change (it ended)
    ├── MessageRefused                 a peer's message this side will not apply (name squatted)
    ├── RunLost                        a Running execution's Job is gone; it is failed, not run twice
    └── KeyLoadError                   a referenced Secret/key is missing or unparsable
                                       (names the Secret and key, never the content)

Every subclass of the tree lives in this module. At the kopf edge
(``adapters.kube.handlers``), ``StoreUnavailable``, ``Conflict``, ``PeerUnreachable`` and
``KeyLoadError`` become ``kopf.TemporaryError`` (retried after a delay); ``SpecError``,
``SignatureError``, ``PeerRefused``, ``StoreRefused`` and the rest become
``kopf.PermanentError`` (a retry without a change cannot help; the status and an event say why).

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
    """The object (or the key in it) is not there."""


class AlreadyExists(StoreError):
    """A create found the name taken."""


class Conflict(StoreError):
    """A write was conditional on a resourceVersion that is no longer current."""


class StoreUnavailable(StoreError):
    """Transient: the store is overloaded (429), failing (5xx) or did not answer. Retry with backoff."""


class StoreRefused(StoreError):
    """Permanent until someone acts: RBAC, a missing CRD or namespace, quota, admission, credentials."""


class InvalidTransition(WorkspaceLinkError):
    """The execution is not in a phase that allows this change (most often: already ended)."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"the execution is already {current}; it cannot become {wanted}")
        self.current = current
        self.wanted = wanted


class OutputsTooLarge(SpecError):
    """The merged outputs would exceed ``bounds.MAX_OUTPUTS_BYTES`` (field ``outputs``)."""


class RoleMismatch(PeerRefused):
    """Both sides of a link claim the same role; the admin must fix one SyncConfig."""

    def __init__(self, *, config: str, role: str, peer_config: str) -> None:
        super().__init__(
            f"role mismatch: SyncConfig {config} and the peer's SyncConfig {peer_config} are both {role};"
            " one side must be Controlling and the other Controlled (spec.role)",
            status=409,
            reason="role-mismatch",
        )


class MessageRefused(WorkspaceLinkError):
    """A message from the peer this side will not apply; it is not acknowledged (logs and events say why)."""


class KeyLoadError(WorkspaceLinkError):
    """A referenced Secret or key is missing or unusable. Names the Secret and key, never content."""


class RunLost(WorkspaceLinkError):
    """A Running execution's run (its Job) no longer exists and must not be started again."""
