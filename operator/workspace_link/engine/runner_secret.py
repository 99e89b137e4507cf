"""The per-execution runner Secret: the runner's credentials for the runner API.

One Secret per local execution (``naming.runner_secret_name``), owned by the Execution, with
``token`` (``<execution-name>.<random>``, which the runner API checks in constant time) and
``url`` (where the runner API listens). The runner reads both from the Secret's files; the
executor mounts it (docs/architecture.md, "Runner API").

The workspace keeps a digest of each live execution's token (``runner_credentials.Tokens``),
learnt here when the Secret is created or first read, so the runner API checks a token without
reading its Secret: on a cluster, one API request saved per runner call (issue #11). The Secret
stays the source of truth: a token with no digest (after a restart) is checked against it.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final

from workspace_link.core import errors, labels, naming, resources, runner_credentials
from workspace_link.engine import workspace

#: The component label of the per-execution runner Secret.
RUNNER_TOKEN_COMPONENT: Final = labels.RUNNER_TOKEN_COMPONENT


async def ensure_runner_secret(ws: workspace.Workspace, body: resources.Body) -> str:
    """Create the execution's runner Secret (``token``, ``url``) unless it exists; return its name."""
    name = resources.name(body)
    secret_name = naming.runner_secret_name(name)
    extra = {labels.COMPONENT: RUNNER_TOKEN_COMPONENT}
    extra[labels.EXECUTION] = labels.value(name)
    token = f"{name}.{secrets.token_urlsafe(32)}"
    url = base64.b64encode(ws.settings.runner_api_url.encode()).decode()
    secret = {
        "apiVersion": "v1",
        "kind": resources.SECRET,
        "metadata": {
            "name": secret_name,
            "labels": labels.managed(**extra),
            # Not blocking: a foreground deletion of the Execution need not wait for a token
            # Secret (``executions.cleanup`` deletes it, the garbage collector otherwise).
            "ownerReferences": [resources.owner_reference(body, controller=True, block_owner_deletion=False)],
        },
        "type": "Opaque",
        # ``data`` (base64), as the API server returns it, so both stores read the same shape.
        "data": {
            runner_credentials.TOKEN: base64.b64encode(token.encode()).decode(),
            runner_credentials.URL: url,
        },
    }
    try:
        await ws.store.create(resources.SECRET, secret)
        ws.runner_tokens.remember(name, token)
        ws.changes.notify()
    except errors.AlreadyExists:
        # A retried reconcile: the token handed out before stays valid. The runner API's
        # address may have moved (a changed setting; an embedded restart's new port).
        existing = await ws.store.get(resources.SECRET, secret_name)
        ws.runner_tokens.remember(name, secret_value(existing, runner_credentials.TOKEN))
        if secret_value(existing, runner_credentials.URL) != ws.settings.runner_api_url:
            await ws.store.patch(resources.SECRET, secret_name, {"data": {runner_credentials.URL: url}})
    return secret_name


def secret_value(secret: resources.Body, key: str) -> str:
    """Decode one key of a Secret's ``data``. Raises ``errors.KeyLoadError`` (never shows content)."""
    try:
        return base64.b64decode(str((secret.get("data") or {})[key])).decode()
    except (KeyError, ValueError) as exc:
        raise errors.KeyLoadError(f"Secret {resources.name(secret)!r} has no usable key {key!r}") from exc
