"""A SyncConfig's spec, validated into a ``LinkConfig``; the ``LinkKeys`` it references, once loaded.

Why a module of its own: every part of the link (reconcile, dialer, listener, lost-peer check)
needs the same reading of the spec (defaults, the effective role, who dials); reading it in one
place keeps the two sides of a link agreeing with themselves. Parsing is pure and names the
field that is wrong. Loading the keys from Secrets is ``engine.link_keys``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa

from workspace_link.core import errors, resources

DEFAULT_PRIVATE_KEY: Final = "private.pem"
_CA_KINDS: Final = (resources.SECRET, resources.CONFIG_MAP)
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
    elif role not in resources.ROLES:
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
