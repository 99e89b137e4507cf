"""A SyncConfig's spec, validated into a ``LinkConfig``, and the keys it references.

Why a module of its own: every part of the link (reconcile, dialer, listener, GC) needs the same
reading of the spec (defaults, the effective role, who dials) and the same keys; reading them in
one place keeps the two sides of a link agreeing with themselves. Parsing is pure and names the
field that is wrong. ``load_keys`` reads Secrets through the store it is given and caches the
*parsed* keys by the Secret's uid and resourceVersion, so a changed Secret (key rotation) is
picked up on the next exchange without a restart while an unchanged one is not re-parsed.
Errors name the Secret and key, never their content.
"""

from __future__ import annotations

import base64
import binascii
import collections
import math
import re
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa

from workspace_link import errors, keys, resources, store

DEFAULT_PRIVATE_KEY: Final = "private.pem"
_CA_KINDS: Final = (resources.SECRET, resources.CONFIG_MAP)
_ROLES: Final = (resources.ROLE_CONTROLLING, resources.ROLE_CONTROLLED)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


@dataclass(frozen=True)
class KeyRef:
    """A key of a Secret. ``key`` None (remote public key only) = every entry of the Secret."""

    secret_name: str
    key: str | None


@dataclass(frozen=True)
class CaRef:
    kind: str  # "Secret" or "ConfigMap"
    name: str
    key: str


@dataclass(frozen=True)
class LinkConfig:
    """One side of a link, as its SyncConfig spec says, with defaults applied."""

    name: str
    namespace: str
    enabled: bool
    remote_url: str | None
    #: This side opens every exchange (it has ``remoteUrl``).
    dialer: bool
    #: The effective role: explicit, else Controlling when dialing, Controlled when listening.
    role: str
    verify_ssl: bool
    ca: CaRef | None
    own_private_key: KeyRef
    remote_public_key: KeyRef
    send_all: bool
    #: Seconds between exchanges; None = exchange on change plus a held long-poll.
    interval: float | None
    generation: int

    @property
    def mode(self) -> str:
        return "Dialer" if self.dialer else "Listener"

    @property
    def secret_names(self) -> frozenset[str]:
        """The Secrets this side reads (keys, and the CA when it is a Secret): a change to one
        of them may be a rotation."""
        names = {self.own_private_key.secret_name, self.remote_public_key.secret_name}
        if self.ca is not None and self.ca.kind == resources.SECRET:
            names.add(self.ca.name)
        return frozenset(names)

    @property
    def peer_role(self) -> str:
        return (
            resources.ROLE_CONTROLLED
            if self.role == resources.ROLE_CONTROLLING
            else resources.ROLE_CONTROLLING
        )


@dataclass(frozen=True)
class LinkKeys:
    """What signing and verifying need. ``repr`` never shows key material."""

    private_key: rsa.RSAPrivateKey
    key_id: str
    remote_keys: dict[str, rsa.RSAPublicKey]
    ca_pem: bytes | None

    def __repr__(self) -> str:
        remote = sorted(self.remote_keys)
        return f"LinkKeys(key_id={self.key_id!r}, remote_keys={remote!r}, ca={self.ca_pem is not None})"


# -- parsing ---------------------------------------------------------------------------------


def _bool(spec: dict[str, Any], name: str, default: bool) -> bool:
    value = spec.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise errors.SpecError(f"must be true or false, got {value!r}", field=f"spec.{name}")
    return value


def _string(value: Any, field: str, *, pattern: re.Pattern[str] = _NAME) -> str:
    if not isinstance(value, str) or not value:
        raise errors.SpecError("is required and must be a non-empty string", field=field)
    if not pattern.match(value):
        raise errors.SpecError(f"{value!r} is not a valid name", field=field)
    return value


def _key_ref(spec: dict[str, Any], name: str, *, default_key: str | None) -> KeyRef:
    ref = spec.get(name)
    if not isinstance(ref, dict):
        raise errors.SpecError("is required: {secretName, key}", field=f"spec.{name}")
    secret = _string(ref.get("secretName"), f"spec.{name}.secretName")
    key = ref.get("key", default_key)
    if key is not None:
        key = _string(key, f"spec.{name}.key", pattern=_DATA_KEY)
    return KeyRef(secret_name=secret, key=key)


def _ca_ref(spec: dict[str, Any]) -> CaRef | None:
    ref = spec.get("caCertificate")
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise errors.SpecError("must be {kind, name, key}", field="spec.caCertificate")
    kind = ref.get("kind", resources.SECRET)
    if kind not in _CA_KINDS:
        raise errors.SpecError(f"must be Secret or ConfigMap, got {kind!r}", field="spec.caCertificate.kind")
    return CaRef(
        kind=kind,
        name=_string(ref.get("name"), "spec.caCertificate.name"),
        key=_string(ref.get("key"), "spec.caCertificate.key", pattern=_DATA_KEY),
    )


def parse(body: resources.Body) -> LinkConfig:
    """Validate a SyncConfig body. Raises ``errors.SpecError`` naming the field."""
    meta = body.get("metadata") or {}
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise errors.SpecError("is required", field="spec")
    remote_url = spec.get("remoteUrl")
    if remote_url is not None and (
        not isinstance(remote_url, str) or not remote_url.startswith("https://") or len(remote_url) < 9
    ):
        raise errors.SpecError(f"must be an https:// URL, got {remote_url!r}", field="spec.remoteUrl")
    dialer = remote_url is not None
    role = spec.get("role")
    if role is None:
        role = resources.ROLE_CONTROLLING if dialer else resources.ROLE_CONTROLLED
    elif role not in _ROLES:
        raise errors.SpecError(f"must be Controlling or Controlled, got {role!r}", field="spec.role")
    interval = spec.get("syncInterval")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not math.isfinite(interval):
            raise errors.SpecError(
                f"must be a number of seconds, got {interval!r}", field="spec.syncInterval"
            )
        if interval < 1:
            raise errors.SpecError(f"must be at least 1 second, got {interval}", field="spec.syncInterval")
        interval = float(interval)
    return LinkConfig(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        enabled=_bool(spec, "enabled", True),
        remote_url=remote_url,
        dialer=dialer,
        role=role,
        verify_ssl=_bool(spec, "verifySsl", True),
        ca=_ca_ref(spec),
        own_private_key=_key_ref(spec, "ownPrivateKey", default_key=DEFAULT_PRIVATE_KEY),
        remote_public_key=_key_ref(spec, "remotePublicKey", default_key=None),
        send_all=_bool(spec, "sendAllExecutions", False),
        interval=interval,
        generation=int(meta.get("generation") or 0),
    )


# -- keys ------------------------------------------------------------------------------------

#: Parsed keys by (Secret uid, resourceVersion, what was parsed). Small: a few entries per link.
_CACHE: collections.OrderedDict[tuple[str, ...], Any] = collections.OrderedDict()
_CACHE_SIZE: Final = 512


def _cached(key: tuple[str, ...]) -> Any:
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    return None


def _remember(key: tuple[str, ...], value: Any) -> None:
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def _describe(kind: str, name: str, namespace: str, key: str | None) -> str:
    where = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    return f"{where}, key {key}" if key else where


async def _read(source: store.Store, kind: str, name: str) -> resources.Body:
    try:
        return await source.get(kind, name)
    except errors.NotFound:
        raise errors.KeyLoadError(f"{_describe(kind, name, source.namespace, None)} not found") from None


def _entries(body: resources.Body, *, kind: str, source: str) -> dict[str, bytes]:
    """A Secret's or ConfigMap's entries as bytes. Secret ``data`` is base64 (as the API returns it)."""
    entries: dict[str, bytes] = {}
    for key, value in (body.get("stringData") or {}).items():
        entries[key] = str(value).encode()
    if kind == resources.SECRET:
        for key, value in (body.get("data") or {}).items():
            try:
                entries[key] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise errors.KeyLoadError(f"{source}, key {key}: not valid base64") from exc
    else:
        for key, value in (body.get("data") or {}).items():
            entries[key] = str(value).encode()
    return entries


def _cache_key(body: resources.Body, *parts: str) -> tuple[str, ...]:
    meta = body.get("metadata") or {}
    return (str(meta.get("uid", "")), str(meta.get("resourceVersion", "")), *parts)


async def _private_key(source: store.Store, ref: KeyRef) -> rsa.RSAPrivateKey:
    body = await _read(source, resources.SECRET, ref.secret_name)
    key = ref.key or DEFAULT_PRIVATE_KEY
    cache_key = _cache_key(body, "private", key)
    found = _cached(cache_key)
    if isinstance(found, rsa.RSAPrivateKey):
        return found
    where = _describe(resources.SECRET, ref.secret_name, source.namespace, None)
    entries = _entries(body, kind=resources.SECRET, source=where)
    if key not in entries:
        raise errors.KeyLoadError(f"{where} has no key {key}")
    parsed = keys.load_private_key(entries[key], source=f"{where}, key {key}")
    _remember(cache_key, parsed)
    return parsed


async def _public_keys(source: store.Store, ref: KeyRef) -> dict[str, rsa.RSAPublicKey]:
    body = await _read(source, resources.SECRET, ref.secret_name)
    cache_key = _cache_key(body, "public", ref.key or "*")
    found = _cached(cache_key)
    if isinstance(found, dict):
        return dict(found)
    where = _describe(resources.SECRET, ref.secret_name, source.namespace, None)
    entries = _entries(body, kind=resources.SECRET, source=where)
    if ref.key is not None:
        if ref.key not in entries:
            raise errors.KeyLoadError(f"{where} has no key {ref.key}")
        selected = {ref.key: entries[ref.key]}
    else:
        selected = entries
        if not selected:
            raise errors.KeyLoadError(f"{where} is empty: no public key to accept")
    parsed: dict[str, rsa.RSAPublicKey] = {}
    for key, pem in sorted(selected.items()):
        parsed.update(keys.load_public_keys(pem, source=f"{where}, key {key}"))
    _remember(cache_key, parsed)
    return dict(parsed)


async def _ca(source: store.Store, ref: CaRef) -> bytes:
    body = await _read(source, ref.kind, ref.name)
    where = _describe(ref.kind, ref.name, source.namespace, None)
    entries = _entries(body, kind=ref.kind, source=where)
    if ref.key not in entries:
        raise errors.KeyLoadError(f"{where} has no key {ref.key}")
    pem = entries[ref.key]
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise errors.KeyLoadError(f"{where}, key {ref.key}: no PEM certificate found")
    return pem


async def load_keys(secrets_store: store.Store, config: LinkConfig) -> LinkKeys:
    """Load the own private key, the accepted remote public keys and the CA certificate.

    Everything is read from ``secrets_store`` (the workspace's keys namespace; the CA reference
    is resolved there too). Raises ``errors.KeyLoadError`` naming the Secret and key.
    """
    private = await _private_key(secrets_store, config.own_private_key)
    remote = await _public_keys(secrets_store, config.remote_public_key)
    ca = await _ca(secrets_store, config.ca) if config.ca is not None else None
    return LinkKeys(
        private_key=private, key_id=keys.key_id(private.public_key()), remote_keys=remote, ca_pem=ca
    )


async def load_remote_keys(secrets_store: store.Store, config: LinkConfig) -> dict[str, rsa.RSAPublicKey]:
    """Only the accepted remote public keys (the listener uses them to recognise another link's key)."""
    return await _public_keys(secrets_store, config.remote_public_key)
