"""The dialer's HTTP client: one signed POST per exchange, over TLS it can verify.

Why a module of its own: this is the one boundary where httpx, ssl and the signature library
meet the core. Everything that can go wrong on the wire is translated here, once, into the
project's error tree (chained with ``from``):

- network, TLS, timeouts, 5xx, an unverifiable or malformed 200 answer -> ``errors.PeerUnreachable``
  (transient: the link retries with backoff). A certificate that does not verify reads
  "TLS certificate verify failed: <what OpenSSL said>", words an admin can act on;
- a 4xx with the protocol's error body -> ``errors.PeerRefused`` with status, reason and message.

TLS: ``caCertificate`` (the PEM loaded by ``link_keys.load_keys``) is the only trust anchor
when given, else the system's; ``verifySsl: false`` turns verification off (the link says so
loudly in the SyncConfig status). Signing plugs into httpx as an ``httpx.Auth``; responses are
verified against the link's accepted remote keys and bound to the request they answer.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import Callable, Generator

import httpx

from workspace_link.core import errors, link_config, protocol, replay, settings, signatures, wire


class SigningAuth(httpx.Auth):
    """Adds Content-Digest, Signature-Input and Signature to every request (RFC 9421)."""

    requires_request_body = True

    def __init__(self, signer: signatures.Signer) -> None:
        self._signer = signer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        added = signatures.sign_request(
            self._signer,
            method=request.method,
            path=request.url.raw_path.decode("ascii"),
            headers=dict(request.headers),
            body=request.content,
        )
        request.headers.update(added)
        yield request


def _ssl_context(config: link_config.LinkConfig, keys: link_config.LinkKeys) -> ssl.SSLContext | bool:
    if not config.verify_ssl:
        return False
    if keys.ca_pem is None:
        return True
    try:
        return ssl.create_default_context(cadata=keys.ca_pem.decode("ascii", errors="replace"))
    except ssl.SSLError as exc:
        raise errors.KeyLoadError(
            f"caCertificate of SyncConfig {config.name}: not a usable CA ({exc})"
        ) from exc


def _tls_reason(exc: BaseException) -> str | None:
    """The certificate problem buried in an httpx error, in readable words, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            detail = current.verify_message or str(current)
            return f"TLS certificate verify failed: {detail}"
        if isinstance(current, ssl.SSLError):
            return f"TLS handshake failed: {current.reason or current}"
        current = current.__cause__ or current.__context__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS certificate verify failed: {text}"
    return None


def _signed_before_start(status: int, content: bytes) -> bool:
    if status != 401:
        return False
    try:
        return wire.decode_error(content)[1] == "signed-before-start"
    except errors.MessageError:
        return False


class PeerClient:
    """Talks to one listener for one SyncConfig. Build a new one when the config or keys change."""

    def __init__(
        self,
        *,
        config: link_config.LinkConfig,
        keys: link_config.LinkKeys,
        settings: settings.Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        replay_cache: replay.ReplayCache | None = None,
    ) -> None:
        if config.remote_url is None:
            raise ValueError(f"SyncConfig {config.name} has no remoteUrl: it does not dial")
        self.config = config
        self._url = config.remote_url
        self._max_body = settings.max_body_bytes
        signer = signatures.Signer(keys.private_key, expires_in=settings.signature_max_age)
        self._verifier = signatures.Verifier.from_settings(
            settings,
            keys=signatures.KeyRing.for_link(config.name, keys.remote_keys.values()),
            link=config.name,
            replay=replay_cache or replay.ReplayCache(),
        )
        self._client = httpx.AsyncClient(
            verify=_ssl_context(config, keys),
            transport=transport,
            auth=SigningAuth(signer),
            follow_redirects=False,
            timeout=settings.exchange_timeout,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def exchange(self, envelope: protocol.Envelope, *, max_seconds: float) -> protocol.Envelope:
        """POST ``envelope``; return the verified, decoded answer. Raises ``errors.PeerError``."""
        body = wire.encode(envelope)
        request = self._client.build_request(
            "POST",
            self._url,
            content=body,
            headers={
                "Content-Type": protocol.CONTENT_TYPE,
                "Accept": protocol.CONTENT_TYPE,
                # The signed digest covers the bytes as sent: no transfer compression.
                "Accept-Encoding": "identity",
            },
            timeout=httpx.Timeout(max_seconds, connect=min(max_seconds, 30.0)),
        )
        try:
            for attempt in range(2):
                response = await self._client.send(request, stream=True)
                try:
                    content = await self._read_limited(response)
                finally:
                    await response.aclose()
                if attempt == 0 and _signed_before_start(response.status_code, content):
                    # The listener started after this was signed (``created`` is whole seconds:
                    # maybe in the same second): it refuses what may be a replay. Signed anew
                    # in the next second, it is newer than a listener that started in this one.
                    now = time.time()
                    await asyncio.sleep(math.floor(now) + 1 - now)
                    continue
                break
        except httpx.HTTPError as exc:
            tls = _tls_reason(exc)
            if tls is not None:
                raise errors.PeerUnreachable(f"{self._url}: {tls}") from exc
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
            raise errors.PeerUnreachable(f"{self._url}: request {kind}: {exc or type(exc).__name__}") from exc
        except ssl.SSLError as exc:
            raise errors.PeerUnreachable(f"{self._url}: {_tls_reason(exc)}") from exc
        if response.status_code != 200:
            raise self._refusal(response.status_code, content)
        try:
            seen = signatures.verify_response(
                self._verifier,
                status=response.status_code,
                headers=dict(response.headers),
                body=content,
                request_headers=dict(response.request.headers),
            )
        except errors.SignatureError as exc:
            raise errors.PeerUnreachable(
                f"{self._url}: the answer's signature did not verify ({exc.reason}): {exc}"
            ) from exc
        try:
            answer = wire.decode(content, max_bytes=self._max_body)
        except errors.MessageError as exc:
            raise errors.PeerUnreachable(f"{self._url}: the answer is malformed: {exc}") from exc
        if answer.sender.key_id != seen.key_id:
            raise errors.PeerUnreachable(
                f"{self._url}: the answer names key {answer.sender.key_id} but is signed with {seen.key_id}"
            )
        return answer

    async def _read_limited(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise errors.PeerUnreachable(f"{self._url}: the answer exceeds {self._max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _refusal(self, status: int, content: bytes) -> errors.PeerError:
        try:
            _, reason, message = wire.decode_error(content)
        except errors.MessageError:
            reason, message = "http-error", content[:200].decode("utf-8", errors="replace").strip()
            message = message or f"HTTP {status} without an error body"
        text = f"{self._url}: refused with {status} {reason}: {message}"
        if 400 <= status < 500:
            return errors.PeerRefused(text, status=status, reason=reason)
        return errors.PeerUnreachable(text)


def factory(
    settings_: settings.Settings,
) -> Callable[[link_config.LinkConfig, link_config.LinkKeys], PeerClient]:
    """What ``link.run`` builds its transport with: one PeerClient per config and keys."""

    def build(config: link_config.LinkConfig, keys: link_config.LinkKeys) -> PeerClient:
        return PeerClient(config=config, keys=keys, settings=settings_)

    return build
