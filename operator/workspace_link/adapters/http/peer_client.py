"""The dialer's HTTP client: one signed POST per exchange, over TLS it can verify.

Why a module of its own: this is the one boundary where aiohttp, ssl and the signature library
meet the core. Everything that can go wrong on the wire is translated here, once, into the
project's error tree (chained with ``from``):

- network, TLS, timeouts, 5xx, an unverifiable or malformed 200 answer -> ``errors.PeerUnreachable``
  (transient: the link retries with backoff). A certificate that does not verify reads
  "TLS certificate verify failed: <what OpenSSL said>", words an admin can act on;
- a 4xx with the protocol's error body -> ``errors.PeerRefused`` with status, reason and message.

TLS: ``caCertificate`` (the PEM loaded by ``link_keys.load_keys``) is the only trust anchor
when given, else the system's; ``verifySsl: false`` turns verification off (the link says so
loudly in the SyncConfig status). Each request is signed as it leaves (a retry is signed
anew); responses are verified against the link's accepted remote keys and bound to the
request they answer. ``HTTPS_PROXY`` and ``NO_PROXY`` are honoured, read once per client:
aiohttp's ``trust_env`` would read them, and ``~/.netrc``, in a worker thread on every request,
and suspend the exchange there before it is written.

Why aiohttp and not httpx: it is the operator's client already (kopf, ``apiserver``), and on
the dispatch path it was the slower third of the exchange. httpx over anyio took 1.1 ms per
loopback TLS round trip against aiohttp's 0.3 ms, and yielded to the event loop between
signing and writing, and again between head and body: a start waited behind whatever else
the operator had ready (its label PATCH), 2 ms and more (bench/results.md).
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
import urllib.request
from collections.abc import Callable, Mapping

import aiohttp
import yarl

from workspace_link.core import errors, link_config, protocol, replay, settings, signatures, wire

#: Idle connections are closed well before a listener's own idle cut (``keepalive_timeout``,
#: 75 s by default): a connection the listener closes as it is reused fails its exchange.
KEEPALIVE_SECONDS = 15.0
READ_CHUNK = 64 * 1024


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
    """The certificate problem buried in a client error, in readable words, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            # aiohttp's wrapper is one too, without OpenSSL's words: they are on its cause.
            detail = getattr(current, "verify_message", None)
            if detail or current.__cause__ is None:
                return f"TLS certificate verify failed: {detail or current}"
        elif isinstance(current, ssl.SSLError):
            return f"TLS handshake failed: {current.reason or current}"
        current = current.__cause__ or current.__context__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS certificate verify failed: {text}"
    return None


def session(tls: ssl.SSLContext | bool) -> aiohttp.ClientSession:
    """The client session of one link (call it in the event loop that will use it)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=tls, keepalive_timeout=KEEPALIVE_SECONDS),
        # The signed digest covers the bytes as sent: no transfer decoding.
        auto_decompress=False,
    )


def proxy_for(url: yarl.URL) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``), unless ``NO_PROXY`` exempts its host."""
    if url.host is None or urllib.request.proxy_bypass(url.host):
        return None
    return urllib.request.getproxies().get(url.scheme)


def signed_headers(signer: signatures.Signer, url: yarl.URL, body: bytes) -> dict[str, str]:
    """A POST's headers, signed now (RFC 9421): also what the answer's signature binds to."""
    headers = {
        "Content-Type": protocol.CONTENT_TYPE,
        "Accept": protocol.CONTENT_TYPE,
        "Accept-Encoding": "identity",
    }
    headers.update(
        signatures.sign_request(signer, method="POST", path=url.raw_path, headers=headers, body=body)
    )
    return headers


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
        replay_cache: replay.ReplayCache | None = None,
    ) -> None:
        if config.remote_url is None:
            raise ValueError(f"SyncConfig {config.name} has no remoteUrl: it does not dial")
        self.config = config
        self._url = yarl.URL(config.remote_url, encoded=True)
        self._max_body = settings.max_body_bytes
        self._ssl = _ssl_context(config, keys)
        self._proxy = proxy_for(self._url)
        self._signer = signatures.Signer(keys.private_key, expires_in=settings.signature_max_age)
        self._verifier = signatures.Verifier.from_settings(
            settings,
            keys=signatures.KeyRing.for_link(config.name, keys.remote_keys.values()),
            link=config.name,
            replay=replay_cache or replay.ReplayCache(),
        )
        #: Opened on the first exchange: an aiohttp session belongs to a running event loop.
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = session(self._ssl)
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def exchange(self, envelope: protocol.Envelope, *, max_seconds: float) -> protocol.Envelope:
        """POST ``envelope``; return the verified, decoded answer. Raises ``errors.PeerError``."""
        body = wire.encode(envelope)
        within = aiohttp.ClientTimeout(total=max_seconds, connect=min(max_seconds, 30.0))
        try:
            for attempt in range(2):
                sent = signed_headers(self._signer, self._url, body)
                status, headers, content = await self._post(body, sent, within)
                if attempt == 0 and _signed_before_start(status, content):
                    # The listener started after this was signed (``created`` is whole seconds:
                    # maybe in the same second): it refuses what may be a replay. Signed anew
                    # in the next second, it is newer than a listener that started in this one.
                    now = time.time()
                    await asyncio.sleep(math.floor(now) + 1 - now)
                    continue
                break
        except TimeoutError as exc:
            raise errors.PeerUnreachable(f"{self._url}: request timed out after {max_seconds:g} s") from exc
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            tls = _tls_reason(exc)
            if tls is not None:
                raise errors.PeerUnreachable(f"{self._url}: {tls}") from exc
            raise errors.PeerUnreachable(f"{self._url}: request failed: {exc or type(exc).__name__}") from exc
        if status != 200:
            raise self._refusal(status, content)
        try:
            seen = signatures.verify_response(
                self._verifier, status=status, headers=headers, body=content, request_headers=sent
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

    async def _post(
        self, body: bytes, headers: dict[str, str], within: aiohttp.ClientTimeout
    ) -> tuple[int, Mapping[str, str], bytes]:
        async with self._open().post(
            self._url, data=body, headers=headers, timeout=within, allow_redirects=False, proxy=self._proxy
        ) as response:
            if response.content_length is not None and response.content_length > self._max_body:
                raise errors.PeerUnreachable(f"{self._url}: the answer exceeds {self._max_body} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                size += len(chunk)
                if size > self._max_body:
                    raise errors.PeerUnreachable(f"{self._url}: the answer exceeds {self._max_body} bytes")
                chunks.append(chunk)
            return response.status, response.headers, b"".join(chunks)

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
