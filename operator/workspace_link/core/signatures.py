"""RFC 9421 signatures of sync requests and responses, as docs/protocol.md §6 fixes them.

Why this module exists: every exchange between two workspaces is authenticated by signing
the HTTP message itself (not the TLS channel, which an Ingress may terminate). The library
``http-message-signatures`` builds and checks signature bases; this module fixes the profile
(algorithm, covered components, parameters, tag), judges time and replays with an injected
clock, and turns every library failure into ``errors.SignatureError`` with a stable ``reason``
at this one boundary. Pure: no I/O; the HTTP shells pass method, path, headers and body in.

Profile: ``rsa-pss-sha512``; label ``wl``; a request covers ``@method @path content-digest
content-type``; a response covers ``@status content-digest content-type`` and the request's
signature (``"signature";req;key="wl"``), which binds it to the request it answers; parameters
``created expires nonce keyid alg tag="workspace-link/1"``; keyid = ``keys.key_id``.

API (headers are any ``Mapping[str, str]``, matched case-insensitively)::

    signer = signatures.Signer(private_key, expires_in=settings.signature_max_age)
    added = signatures.sign_request(signer, method=, path=, headers=, body=)   # -> dict to add
    verifier = signatures.Verifier.from_settings(settings, keys=ring, link=name, replay=cache)
    seen = signatures.verify_request(verifier, method=, path=, headers=, body=)  # -> VerifiedMessage
    head = signatures.verify_request_head(verifier, method=, path=, headers=)  # before the body
    seen = signatures.check_body(head, body)
    added = signatures.sign_response(signer, status=, headers=, body=, request_headers=)
    seen = signatures.verify_response(verifier, status=, headers=, body=, request_headers=)

``path`` is the raw (still percent-encoded) request target as sent and as received; a query is
allowed but not covered. ``request_headers`` are the headers of the request as sent (the
dialer) or received (the listener), including its ``Signature``.

Failure reasons (``SignatureError.reason``): ``missing`` (a signature or covered header is
absent), ``invalid`` (does not verify, malformed, incomplete coverage or parameters),
``digest-mismatch``, ``wrong-tag``, ``expired``, ``not-yet-valid`` (clock skew),
``replayed``, ``signed-before-start`` (a request created before the replay cache, i.e.
before this listener started: possibly a replay across a restart), ``unknown-key`` (keyid
not accepted for this link), ``wrong-link`` (verifies with a key the resolver attributes to
another link). The listener answers all with 401 except
``wrong-link`` (403); see docs/protocol.md §5.

Key rotation: a ``KeyRing`` accepts every key given for a link. Give it the keys of the other
links too and a request signed by one of them is reported as ``wrong-link`` after verifying,
instead of ``unknown-key``. Build a new ring (and Verifier) when a key Secret changes; keep the
``ReplayCache`` across rebuilds.
"""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import http_message_signatures as hms
from cryptography.hazmat.primitives.asymmetric import rsa
from http_message_signatures import algorithms

from workspace_link.core import errors, keys, protocol, replay, settings

ALGORITHM: Final = "rsa-pss-sha512"
TAG: Final = "workspace-link/1"
LABEL: Final = "wl"
REQUEST_COMPONENTS: Final = ("@method", "@path", "content-digest", "content-type")
RESPONSE_COMPONENTS: Final = ("@status", "content-digest", "content-type", f'"signature";req;key="{LABEL}"')

Clock = Callable[[], float]
# Responses name a request only to resolve its Signature header; the library still wants a
# syntactically complete request, so this stands in for method and URL, which are not covered.
_PLACEHOLDER_URL: Final = "https://peer.invalid/"
_URL_BASE: Final = "https://peer.invalid"
_DIGEST_COMPONENT: Final = '"content-digest"'


@dataclass(frozen=True)
class VerifiedMessage:
    """What a verified signature vouches for."""

    key_id: str
    #: ``created`` of the signature (Unix seconds).
    created: int
    nonce: str
    #: The link (SyncConfig name) the key resolver attributes the key to.
    link: str


@dataclass(frozen=True)
class VerifiedHead:
    """A message whose signed headers verified; its body is still to be checked (``check_body``)."""

    message: VerifiedMessage
    #: The Content-Digest value the signature covers: the body must match it.
    content_digest: str
    what: str


def check_body(head: VerifiedHead, body: bytes) -> VerifiedMessage:
    """Check ``body`` against the Content-Digest the verified signature covers."""
    try:
        _Sha512Digest.verify(head.content_digest, bytes(body))
    except hms.HTTPMessageSignaturesException as exc:
        raise errors.SignatureError(
            f"the {head.what} body does not match its Content-Digest: {exc}", reason="digest-mismatch"
        ) from exc
    return head.message


class KeyResolver(Protocol):
    """Looks up accepted public keys by key id (injected into a Verifier)."""

    def resolve(self, key_id: str) -> tuple[str, rsa.RSAPublicKey] | None:
        """The link the key belongs to and the key, or None when the key id is not known."""

    def key_ids(self, link: str) -> Collection[str]:
        """The key ids accepted for ``link`` (for error messages an admin can compare)."""


class KeyRing:
    """Public keys by link: every key given for a link is accepted (rotation)."""

    def __init__(self, links: Mapping[str, Iterable[rsa.RSAPublicKey]]) -> None:
        self._by_id: dict[str, tuple[str, rsa.RSAPublicKey]] = {}
        self._ids: dict[str, tuple[str, ...]] = {}
        for link, link_keys in links.items():
            ids = []
            for key in link_keys:
                key_id = keys.key_id(key)
                self._by_id[key_id] = (link, key)
                ids.append(key_id)
            self._ids[link] = tuple(ids)

    @classmethod
    def for_link(cls, link: str, public_keys: Iterable[rsa.RSAPublicKey]) -> KeyRing:
        return cls({link: public_keys})

    def resolve(self, key_id: str) -> tuple[str, rsa.RSAPublicKey] | None:
        return self._by_id.get(key_id)

    def key_ids(self, link: str) -> Collection[str]:
        return self._ids.get(link, ())


# --- adapters to the library's message model ----------------------------------------------


class _Fields:
    """Header field lines in order, looked up case-insensitively (the library's header interface)."""

    def __init__(self, lines: Iterable[tuple[str, str]] = ()) -> None:
        self._lines = list(lines)

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> _Fields:
        # items() of a multi-dict (aiohttp, httpx) yields every field line, which is what we want.
        return cls((str(name), str(value)) for name, value in headers.items())

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._lines)

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self._lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        self._lines = [(n, v) for n, v in self._lines if n.lower() != name.lower()]

    def get(self, name: str) -> str | None:
        values = [v for n, v in self._lines if n.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass
class _Request:
    method: str
    url: str
    headers: _Fields


@dataclass
class _Response:
    status_code: int
    headers: _Fields
    request: _Request


class _Sha512Digest(hms.ContentDigest):
    algorithm = "sha-512"


class _LibrarySigner(hms.HTTPMessageSigner):
    content_digest_class = _Sha512Digest


class _UnknownKey(hms.InvalidSignature):
    """Raised inside the library's verify(); it re-raises InvalidSignature subclasses as they are."""

    def __init__(self, key_id: str) -> None:
        super().__init__(key_id)
        self.key_id = key_id


class _LibraryKeys(hms.HTTPSignatureKeyResolver):
    def __init__(self, resolver: KeyResolver) -> None:
        self._resolver = resolver

    def resolve_public_key(self, key_id: str) -> rsa.RSAPublicKey:
        found = self._resolver.resolve(key_id)
        if found is None:
            raise _UnknownKey(key_id)
        return found[1]

    def resolve_private_key(self, key_id: str) -> rsa.RSAPrivateKey:
        raise TypeError("a verifier holds no private keys")


class _LibraryVerifier(hms.HTTPMessageVerifier):
    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        # Deliberately empty: Verifier judges created/expires after the signature verified,
        # against its injected clock and its configured skew, with reasons of its own.
        return None


class _PrivateKeyHolder(hms.HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, key: rsa.RSAPrivateKey) -> None:
        self._key_id = key_id
        self._key = key

    def resolve_public_key(self, key_id: str) -> None:
        return None

    def resolve_private_key(self, key_id: str) -> rsa.RSAPrivateKey:
        if key_id != self._key_id:
            raise KeyError(key_id)
        return self._key


def _new_nonce() -> str:
    return secrets.token_urlsafe(16)


# --- signing --------------------------------------------------------------------------------


class Signer:
    """Signs with one private key; ``expires_in`` seconds of validity (the peer's max age)."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        *,
        expires_in: float = settings.Settings.signature_max_age,
        clock: Clock = time.time,
        nonces: Callable[[], str] = _new_nonce,
    ) -> None:
        if expires_in < 1:
            raise ValueError(f"expires_in must be at least 1 second, got {expires_in}")
        self.key_id = keys.key_id(private_key.public_key())
        self._expires_in = int(expires_in)
        self._clock = clock
        self._nonces = nonces
        self._library = _LibrarySigner(
            signature_algorithm=algorithms.RSA_PSS_SHA512,
            key_resolver=_PrivateKeyHolder(self.key_id, private_key),
        )

    def _sign(self, message: _Request | _Response, *, components: tuple[str, ...], body: bytes) -> None:
        created = int(self._clock())
        as_time = datetime.datetime.fromtimestamp
        try:
            self._library.sign(
                message,
                key_id=self.key_id,
                created=as_time(created, tz=datetime.UTC),
                expires=as_time(created + self._expires_in, tz=datetime.UTC),
                nonce=self._nonces(),
                label=LABEL,
                tag=TAG,
                covered_component_ids=components,
                body=bytes(body),
            )
        except hms.HTTPMessageSignaturesException as exc:
            # Only our own inputs reach here (a path that is not a URL path, a request
            # without our signature): a bug in the caller, not a peer problem.
            raise ValueError(f"cannot sign this message: {exc}") from exc


def _prepare_headers(headers: Mapping[str, str]) -> tuple[_Fields, dict[str, str]]:
    """The caller's headers minus any earlier signature or digest, and Content-Type if absent."""
    fields = _Fields.of(headers)
    for name in ("signature", "signature-input", "content-digest"):
        del fields[name]
    added: dict[str, str] = {}
    if "content-type" not in fields:
        fields["Content-Type"] = added["Content-Type"] = protocol.CONTENT_TYPE
    return fields, added


def _added(fields: _Fields, added: dict[str, str]) -> dict[str, str]:
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        value = fields.get(name)
        if value is None:
            raise RuntimeError(f"the signature library did not set {name}")
        added[name] = value
    return added


def _request_url(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path[:80]!r}")
    return _URL_BASE + path


def sign_request(
    signer: Signer, *, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> dict[str, str]:
    """Sign a request; return the headers to add (Content-Digest, Signature-Input, Signature,
    and Content-Type when ``headers`` has none)."""
    fields, added = _prepare_headers(headers)
    message = _Request(method=method.upper(), url=_request_url(path), headers=fields)
    signer._sign(message, components=REQUEST_COMPONENTS, body=body)
    return _added(fields, added)


def sign_response(
    signer: Signer,
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    request_headers: Mapping[str, str],
) -> dict[str, str]:
    """Sign a response to a request signed with label ``wl``; return the headers to add."""
    fields, added = _prepare_headers(headers)
    request = _Request(method="POST", url=_PLACEHOLDER_URL, headers=_Fields.of(request_headers))
    message = _Response(status_code=status, headers=fields, request=request)
    signer._sign(message, components=RESPONSE_COMPONENTS, body=body)
    return _added(fields, added)


# --- verifying ------------------------------------------------------------------------------


class Verifier:
    """Verifies messages of one link with the profile above.

    The configuration decides everything the message could otherwise choose: the algorithm,
    the tag, the covered components, the maximum age and the clock skew.
    """

    def __init__(
        self,
        *,
        keys: KeyResolver,
        link: str,
        replay: replay.ReplayCache,
        max_age: float = settings.Settings.signature_max_age,
        clock_skew: float = settings.Settings.clock_skew,
        clock: Clock = time.time,
    ) -> None:
        if max_age <= 0 or clock_skew < 0:
            raise ValueError(f"max_age must be > 0 and clock_skew >= 0, got {max_age} and {clock_skew}")
        self.link = link
        self._keys = keys
        self._replay = replay
        self._max_age = max_age
        self._skew = clock_skew
        self._clock = clock
        self._library = _LibraryVerifier(
            signature_algorithm=algorithms.RSA_PSS_SHA512, key_resolver=_LibraryKeys(keys)
        )

    @classmethod
    def from_settings(
        cls,
        config: settings.Settings,
        *,
        keys: KeyResolver,
        link: str,
        replay: replay.ReplayCache,
        clock: Clock = time.time,
    ) -> Verifier:
        return cls(
            keys=keys,
            link=link,
            replay=replay,
            max_age=config.signature_max_age,
            clock_skew=config.clock_skew,
            clock=clock,
        )

    def _verify_head(
        self, message: _Request | _Response, *, components: tuple[str, ...], watermark: bool
    ) -> VerifiedHead:
        """Everything but the body: the signature over the covered headers (which include
        Content-Digest), its parameters, time, owner and nonce. The nonce is spent here, so
        a copy racing the original is refused even while the original's body is in flight."""
        what = "response" if isinstance(message, _Response) else "request"
        for header in ("Signature-Input", "Signature", "Content-Digest", "Content-Type"):
            if header not in message.headers:
                raise errors.SignatureError(f"the {what} has no {header} header", reason="missing")
        try:
            results = self._library.verify(message, max_age=None, require_components=components)
        except _UnknownKey as exc:
            raise self._unknown_key(exc.key_id) from exc
        except hms.HTTPMessageSignaturesException as exc:
            detail = f": {exc}" if str(exc) else ""
            raise errors.SignatureError(
                f"the {what} signature does not verify{detail}", reason="invalid"
            ) from exc
        if len(results) != 1:
            raise errors.SignatureError(
                f"the {what} carries {len(results)} signatures, expected one", reason="invalid"
            )
        result = results[0]
        params = result.parameters
        tag = params.get("tag")
        if tag != TAG:
            shown = f"{tag!r}"[:80] if tag is not None else "no tag"
            raise errors.SignatureError(
                f"the {what} signature has {shown}, expected tag {TAG!r}", reason="wrong-tag"
            )
        created, expires, nonce, key_id = (params.get(p) for p in ("created", "expires", "nonce", "keyid"))
        if not isinstance(created, int) or not isinstance(expires, int):
            raise errors.SignatureError(f"the {what} signature lacks created or expires", reason="invalid")
        if not isinstance(nonce, str) or not nonce or not isinstance(key_id, str):
            raise errors.SignatureError(f"the {what} signature lacks a nonce", reason="invalid")
        until = self._check_time(created=created, expires=expires, what=what)
        found = self._keys.resolve(key_id)
        if found is None:  # the resolver changed between verify() and now
            raise self._unknown_key(key_id)
        owner = found[0]
        if owner != self.link:
            raise errors.SignatureError(
                f"the {what} is signed with key {key_id} of SyncConfig {owner!r}, not of {self.link!r}",
                reason="wrong-link",
            )
        if watermark and created < self._replay.since:
            raise errors.SignatureError(
                f"the {what} signature was created at {created}, before this listener began "
                f"remembering nonces at {self._replay.since:.0f} (it restarted): it may be a replay. "
                "Re-sign the request and send it again; if this repeats, the sender's clock is behind",
                reason="signed-before-start",
            )
        if not self._replay.check_and_remember(f"{key_id} {nonce}", until=until, created=created):
            raise errors.SignatureError(
                f"the {what} signature's nonce was already used: a replayed message", reason="replayed"
            )
        return VerifiedHead(
            message=VerifiedMessage(key_id=key_id, created=created, nonce=nonce, link=owner),
            content_digest=result.covered_components[_DIGEST_COMPONENT],
            what=what,
        )

    def _check_time(self, *, created: int, expires: int, what: str) -> float:
        """Refuse signatures outside their window; return when the nonce may be forgotten."""
        now = self._clock()
        if created > now + self._skew:
            raise errors.SignatureError(
                f"the {what} signature was created {created - now:.0f} s in the future, more than the "
                f"allowed clock skew of {self._skew:.0f} s: check the clocks of both workspaces",
                reason="not-yet-valid",
            )
        if expires < created:
            raise errors.SignatureError(
                f"the {what} signature expires before it was created", reason="invalid"
            )
        if now > expires + self._skew:
            raise errors.SignatureError(
                f"the {what} signature expired {now - expires:.0f} s ago "
                f"(clock skew allowed: {self._skew:.0f} s)",
                reason="expired",
            )
        if now > created + self._max_age + self._skew:
            raise errors.SignatureError(
                f"the {what} signature is {now - created:.0f} s old, older than the maximum age of "
                f"{self._max_age:.0f} s (clock skew allowed: {self._skew:.0f} s)",
                reason="expired",
            )
        return min(expires, created + self._max_age) + self._skew

    def _unknown_key(self, key_id: str) -> errors.SignatureError:
        accepted = sorted(self._keys.key_ids(self.link))
        listed = ", ".join(accepted) if accepted else "none"
        return errors.SignatureError(
            f"key {key_id[:80]} is not a public key of SyncConfig {self.link!r} (accepted: {listed}); "
            "check its remotePublicKey Secret, or whether the peer uses the right link",
            reason="unknown-key",
        )


def verify_request_head(
    verifier: Verifier, *, method: str, path: str, headers: Mapping[str, str]
) -> VerifiedHead:
    """Verify a received request's signature before its body is read (the signature covers
    Content-Digest, which ``check_body`` then holds the body to). Raises
    ``errors.SignatureError``; ``signed-before-start`` when it predates the replay cache."""
    if not path.startswith("/"):
        raise errors.SignatureError(f"request path {path[:80]!r} is not an absolute path", reason="invalid")
    message = _Request(method=method, url=_URL_BASE + path, headers=_Fields.of(headers))
    return verifier._verify_head(message, components=REQUEST_COMPONENTS, watermark=True)


def verify_request(
    verifier: Verifier, *, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> VerifiedMessage:
    """Verify a received request; raise ``errors.SignatureError`` with a reason otherwise."""
    head = verify_request_head(verifier, method=method, path=path, headers=headers)
    return check_body(head, body)


def verify_response(
    verifier: Verifier,
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    request_headers: Mapping[str, str],
) -> VerifiedMessage:
    """Verify a response to the request sent with ``request_headers``."""
    request = _Request(method="POST", url=_PLACEHOLDER_URL, headers=_Fields.of(request_headers))
    message = _Response(status_code=status, headers=_Fields.of(headers), request=request)
    # No watermark: a response is bound to the request it answers, so an old one is of no use
    # to a replayer, and the listener's clock may run behind the dialer's.
    head = verifier._verify_head(message, components=RESPONSE_COMPONENTS, watermark=False)
    return check_body(head, body)
