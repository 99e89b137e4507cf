"""The HTTP client a runner uses to reach its workspace's runner API.

Standard library only (``urllib``): the runner stays light and starts fast. Every call the
flow API makes is safe to repeat (a child create is idempotent by its call id, outputs merge,
an end is refused the second time), so connection failures and 503s are retried with capped
exponential backoff for ``retry_for`` seconds: the operator may be restarting. A repeated log
call can at worst duplicate a line of the log tail.

The token is sent only in the ``Authorization`` header and never appears in an exception.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from flow_api import exceptions

#: HTTP status of a call the workspace could not make now (a store conflict): retried.
_RETRY_STATUSES = frozenset({502, 503, 504})


class RunnerClient:
    def __init__(self, url: str, token: str, *, retry_for: float = 120.0, timeout: float = 60.0) -> None:
        self._url = url.rstrip("/")
        self._token = token
        self._retry_for = retry_for
        self._timeout = timeout

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Call the runner API; return its JSON answer or raise ``exceptions.RunnerApiError``."""
        data = None if body is None else json.dumps(body).encode()
        deadline = time.monotonic() + self._retry_for
        delay = 0.1
        while True:
            request = urllib.request.Request(self._url + path, data=data, method=method)  # noqa: S310
            request.add_header("Authorization", f"Bearer {self._token}")
            request.add_header("Accept", "application/json")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=timeout or self._timeout) as response:  # noqa: S310
                    return _decode(response.read())
            except urllib.error.HTTPError as exc:
                message = _error_text(exc)
                if exc.code not in _RETRY_STATUSES or time.monotonic() > deadline:
                    raise _error_class(exc.code)(exc.code, message) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    reason = getattr(exc, "reason", exc)
                    raise exceptions.RunnerApiError(0, f"runner API unreachable: {reason}") from None
            time.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, 5.0)

    def get(
        self, path: str, *, query: dict[str, str] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return self.request("GET", path + suffix, timeout=timeout)

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", path, body or {})


def _error_class(status: int) -> type[exceptions.RunnerApiError]:
    if status in (401, 403):
        return exceptions.PermissionDenied
    if status == 404:
        return exceptions.ResourceNotFoundError
    return exceptions.RunnerApiError


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = _decode(exc.read())
    except OSError:
        body = {}
    return str(body.get("error") or exc.reason)
