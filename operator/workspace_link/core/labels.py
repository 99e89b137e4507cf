"""Label and annotation keys, in one place.

Every object the operator creates carries ``MANAGED_BY`` and, where it applies, the origin
labels, so ownership and clean-up are label queries (``kubectl get jobs -l ...``), never a
scan of names. Label values must be valid label values (<= 63 chars, alphanumeric ends), so
uids and names go into labels only when they fit; long values go into annotations.
"""

import hashlib
import re
from typing import Final

GROUP: Final = "workspacelink.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

#: Set on everything the operator creates: Jobs, per-execution Secrets, received Executions.
MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "workspace-link"

#: The Execution a Job, pod or runner Secret belongs to (its name).
EXECUTION: Final = f"{GROUP}/execution"
#: The SyncConfig (link) an Execution arrived over, or was sent over.
ORIGIN_LINK: Final = f"{GROUP}/origin-link"
#: The peer's uid of the Execution this one was created from.
ORIGIN_UID: Final = f"{GROUP}/origin-uid"
#: The parent Execution's name, for cancel cascades and listing children.
PARENT: Final = f"{GROUP}/parent"
#: The SyncConfig an outgoing Execution is sent over (spec.remoteWorkspace, as a label for queries).
REMOTE_LINK: Final = f"{GROUP}/remote-link"
#: What a created object is: "runner-token", "job", "mirror", "received".
COMPONENT: Final = "app.kubernetes.io/component"
#: The ``COMPONENT`` of runner Secrets (one per execution; the operator's Secret watch skips them).
RUNNER_TOKEN_COMPONENT: Final = "runner-token"  # noqa: S105 - a label value, not a secret

#: Annotation: who started the origin execution in the peer workspace.
ORIGIN_STARTED_BY: Final = f"{GROUP}/origin-started-by"


def managed(**extra: str) -> dict[str, str]:
    """Labels for an object the operator creates."""
    return {MANAGED_BY: MANAGED_BY_VALUE, **extra}


_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def value(text: str) -> str:
    """``text`` as a label value: itself when valid, else a stable hash of it.

    Object names may be 253 characters, label values only 63, so a long name is labelled by
    its hash; selectors pass the name through this same function, so queries still match.
    """
    if _LABEL_VALUE.fullmatch(text):
        return text
    return "h-" + hashlib.sha256(text.encode()).hexdigest()[:40]
