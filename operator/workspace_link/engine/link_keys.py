"""The keys a SyncConfig references, read from its Secrets and parsed once per Secret version.

``load_keys`` reads Secrets through the store it is given and caches the *parsed* keys by the
Secret's uid and resourceVersion, so a changed Secret (key rotation) is picked up on the next
exchange without a restart while an unchanged one is not re-parsed. Errors name the Secret and
key, never their content.
"""

from __future__ import annotations

import base64
import binascii
import collections
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa

from workspace_link.core import errors, keys, link_config, resources
from workspace_link.engine import store

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


async def _private_key(source: store.Store, ref: link_config.KeyRef) -> rsa.RSAPrivateKey:
    body = await _read(source, resources.SECRET, ref.secret_name)
    key = ref.key or link_config.DEFAULT_PRIVATE_KEY
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


async def _public_keys(source: store.Store, ref: link_config.KeyRef) -> dict[str, rsa.RSAPublicKey]:
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


async def _ca(source: store.Store, ref: link_config.CaRef) -> bytes:
    body = await _read(source, ref.kind, ref.name)
    where = _describe(ref.kind, ref.name, source.namespace, None)
    entries = _entries(body, kind=ref.kind, source=where)
    if ref.key not in entries:
        raise errors.KeyLoadError(f"{where} has no key {ref.key}")
    pem = entries[ref.key]
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise errors.KeyLoadError(f"{where}, key {ref.key}: no PEM certificate found")
    return pem


async def load_keys(secrets_store: store.Store, config: link_config.LinkConfig) -> link_config.LinkKeys:
    """Load the own private key, the accepted remote public keys and the CA certificate.

    Everything is read from ``secrets_store`` (the workspace's keys namespace; the CA reference
    is resolved there too). Raises ``errors.KeyLoadError`` naming the Secret and key.
    """
    private = await _private_key(secrets_store, config.own_private_key)
    remote = await _public_keys(secrets_store, config.remote_public_key)
    ca = await _ca(secrets_store, config.ca) if config.ca is not None else None
    return link_config.LinkKeys(
        private_key=private, key_id=keys.key_id(private.public_key()), remote_keys=remote, ca_pem=ca
    )


async def load_remote_keys(
    secrets_store: store.Store, config: link_config.LinkConfig
) -> dict[str, rsa.RSAPublicKey]:
    """Only the accepted remote public keys (the listener uses them to recognise another link's key)."""
    return await _public_keys(secrets_store, config.remote_public_key)
