"""RSA keys: generation, PEM (de)serialisation and key ids. Pure; cryptography does the work.

keyid = ``sha256:`` + base64url (unpadded) of the SHA-256 of the public key's SPKI DER
(docs/protocol.md §6, the signature profile). Errors name the *source*
(``Secret keys/link-a-private, key private.pem``), never the key material.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workspace_link.core import errors

DEFAULT_BITS = 3072
MIN_BITS = 2048
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


def generate_private_key(bits: int = DEFAULT_BITS) -> rsa.RSAPrivateKey:
    if bits < MIN_BITS:
        raise errors.SpecError(f"must be at least {MIN_BITS}, got {bits}", field="bits")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(der).digest()
    return "sha256:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def load_private_key(pem: bytes, *, source: str) -> rsa.RSAPrivateKey:
    """Load one RSA private key; ``source`` says where it came from, for the error."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise errors.KeyLoadError(f"{source}: not an unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise errors.KeyLoadError(f"{source}: not an RSA private key")
    if key.key_size < MIN_BITS:
        raise errors.KeyLoadError(f"{source}: RSA key of {key.key_size} bits, at least {MIN_BITS} needed")
    return key


def load_public_keys(pem: bytes, *, source: str) -> dict[str, rsa.RSAPublicKey]:
    """Every RSA public key in ``pem`` (several PEM blocks = rotation), by key id."""
    found: dict[str, rsa.RSAPublicKey] = {}
    for match in _PEM_BLOCK.finditer(pem):
        try:
            key = serialization.load_pem_public_key(match.group(0))
        except (ValueError, TypeError) as exc:
            raise errors.KeyLoadError(f"{source}: a PEM block is not a valid public key") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise errors.KeyLoadError(f"{source}: a PEM block is not an RSA public key")
        found[key_id(key)] = key
    if not found:
        raise errors.KeyLoadError(f"{source}: no PEM public key found")
    return found
