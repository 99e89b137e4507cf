"""How a runner gets its credentials: two files in one directory, never arguments or env values.

The per-execution runner Secret holds the keys ``TOKEN`` and ``URL``. A Job mounts the Secret
as a read-only volume at ``JOB_DIR`` (each key becomes a file of that name); the process
executor writes the same two files into a private temp dir. Either way ``DIR_ENV`` names the
directory and the runner (``workspace_link.runner``) reads the files there. Only the path sits
in the environment: ``ps`` and ``kubectl describe`` show env and arguments, not file contents.

``Tokens``: what the runner API checks a presented token against, without a read of its Secret.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

#: The Secret key and file name of the bearer token (``<execution-name>.<random>``).
TOKEN: Final = "token"  # noqa: S105 - the name of the key, not a secret
#: The Secret key and file name of the runner API's URL.
URL: Final = "url"
#: The environment variable naming the directory that holds both files.
DIR_ENV: Final = "WL_RUNNER_CREDENTIALS"
#: Where a Job mounts the runner Secret (and where the runner looks when DIR_ENV is unset).
JOB_DIR: Final = "/var/run/workspace-link"


class Tokens:
    """SHA-256 digests of the runner tokens of live executions, by execution name.

    A digest, not the token: nothing here could be handed to a runner API. The tokens are
    ``secrets.token_urlsafe(32)`` (256 random bits), so a plain hash is enough. An entry lives
    as long as its execution does (``Workspace.observe`` forgets it once the execution has
    ended or is deleted): one per live execution.
    """

    def __init__(self) -> None:
        self._digests: dict[str, bytes] = {}

    def remember(self, execution: str, token: str) -> None:
        self._digests[execution] = _digest(token)

    def matches(self, execution: str, token: str) -> bool | None:
        """Whether ``token`` is ``execution``'s; None when no digest is known (read the Secret)."""
        known = self._digests.get(execution)
        if known is None:
            return None
        return hmac.compare_digest(known, _digest(token))

    def forget(self, execution: str) -> None:
        self._digests.pop(execution, None)

    def __len__(self) -> int:
        return len(self._digests)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
