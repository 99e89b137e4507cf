"""The manifests that link two workspaces: key Secrets, TLS Secrets and SyncConfigs.

``workspace-link keygen`` and ``workspace-link link`` write them, the examples show them and
the embedded demo can build the same SyncConfigs in memory: one builder keeps all of them
identical, and a test pins the examples to it.

Pure: names, PEM bytes and choices in, Kubernetes-shaped dicts out (plus their YAML text).
No file or network I/O, and nothing is logged: the bodies hold private keys.

Validation errors are ``errors.SpecError`` whose ``field`` is the ``LinkRequest`` attribute
(``b_url``); the CLI shows it as the option that set it (``--b-url``).

Naming, for a SyncConfig ``<config>`` (so both sides can share one keys namespace):

- ``<config>-private`` (entry ``private.pem``): this side's private key, referenced by
  ``ownPrivateKey``.
- ``<config>-remote`` (entry ``public.pem``): the peer's public key, referenced by
  ``remotePublicKey`` without a key, so a rotated key is added as a second entry.
- ``<config>-ca`` (entry ``ca.crt``): the CA that verifies the listener, on the dialer's side,
  referenced by ``caCertificate``; it sits with the key Secrets.
- the listener's TLS Secret (``kubernetes.io/tls``, default ``workspace-link-sync-tls``) is per
  operator release, not per link: the chart mounts it.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from workspace_link.core import certs, errors, keys, labels, protocol, resources

PRIVATE_KEY_ENTRY: Final = "private.pem"
PUBLIC_KEY_ENTRY: Final = "public.pem"
CA_ENTRY: Final = "ca.crt"
DEFAULT_LISTENER_TLS: Final = "workspace-link-sync-tls"
DEFAULT_NAME_A: Final = "link-to-b"
DEFAULT_NAME_B: Final = "link-to-a"
#: Label on every Secret these manifests create: which SyncConfig it serves, so an admin finds
#: a link's keys with ``kubectl get secrets -l workspacelink.io/link=<config>``.
LINK_LABEL: Final = f"{labels.GROUP}/link"
#: Not ``MANAGED_BY``: these Secrets are the admin's, and the operator's clean-up must never
#: take them for its own.
PART_OF: Final = "app.kubernetes.io/part-of"
PART_OF_VALUE: Final = "workspace-link"

_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ROLES: Final = resources.ROLES
#: Longest config name whose derived Secret names (``-private``, ``-remote``) stay valid.
_MAX_CONFIG_NAME = 253 - len("-private")


def validate_namespace(value: str, *, field: str) -> str:
    if not _LABEL.match(value):
        raise errors.SpecError(
            f"{value!r} is not a namespace name (lower-case letters, digits and '-', at most 63)",
            field=field,
        )
    return value


def validate_name(value: str, *, field: str, max_length: int = 253) -> str:
    if len(value) > max_length or not _SUBDOMAIN.match(value):
        raise errors.SpecError(
            f"{value!r} is not a valid name (lower-case letters, digits, '-' and '.', at most {max_length})",
            field=field,
        )
    return value


def validate_base_url(value: str, *, field: str) -> str:
    """``https://host[:port]`` (a trailing ``/`` is dropped); SpecError naming ``field`` otherwise."""
    if not value.startswith("https://"):
        raise errors.SpecError("must start with https://", field=field)
    parsed = urllib.parse.urlsplit(value)
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise errors.SpecError(
            "give only https://<host>[:<port>]; the path /api/latest/sync_config/<name>/sync is added",
            field=field,
        )
    if parsed.username or parsed.password:
        raise errors.SpecError("must not carry credentials", field=field)
    try:
        port = parsed.port
    except ValueError:
        raise errors.SpecError("has an invalid port", field=field) from None
    host = parsed.hostname
    if not host:
        raise errors.SpecError("has no host", field=field)
    certs.validate_host(host, field=field)
    netloc = f"[{host}]" if ":" in host else host
    return f"https://{netloc}" + (f":{port}" if port is not None else "")


def url_host(base_url: str) -> str:
    """The host of a validated base URL, as a certificate names it."""
    return urllib.parse.urlsplit(base_url).hostname or ""


def remote_url(base_url: str, peer_config: str) -> str:
    """The dialer's ``remoteUrl``: the listener's address plus the path of the peer's config."""
    return base_url.rstrip("/") + protocol.SYNC_PATH.format(name=peer_config)


def private_key_secret_name(config: str) -> str:
    return f"{config}-private"


def remote_key_secret_name(config: str) -> str:
    return f"{config}-remote"


def ca_secret_name(config: str) -> str:
    return f"{config}-ca"


def _secret(
    *,
    name: str,
    namespace: str,
    data: Mapping[str, bytes],
    object_type: str = "Opaque",
    link: str | None = None,
) -> resources.Body:
    # ``data`` (base64), not ``stringData``: it is the stored form, so the embedded store and
    # the API server hand the operator the same body.
    meta_labels = {PART_OF: PART_OF_VALUE}
    if link:
        meta_labels[LINK_LABEL] = link
    return {
        "apiVersion": "v1",
        "kind": resources.SECRET,
        "metadata": {"name": name, "namespace": namespace, "labels": meta_labels},
        "type": object_type,
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in data.items()},
    }


def private_key_secret(
    *, name: str, namespace: str, private_pem: bytes, link: str | None = None
) -> resources.Body:
    return _secret(name=name, namespace=namespace, data={PRIVATE_KEY_ENTRY: private_pem}, link=link)


def public_key_secret(
    *, name: str, namespace: str, public_pem: bytes, link: str | None = None
) -> resources.Body:
    return _secret(name=name, namespace=namespace, data={PUBLIC_KEY_ENTRY: public_pem}, link=link)


def ca_secret(*, name: str, namespace: str, ca_pem: bytes, link: str | None = None) -> resources.Body:
    return _secret(name=name, namespace=namespace, data={CA_ENTRY: ca_pem}, link=link)


def tls_secret(*, name: str, namespace: str, serving: certs.IssuedCertificate) -> resources.Body:
    """The listener's ``kubernetes.io/tls`` Secret, with ``ca.crt`` beside it as cert-manager does."""
    return _secret(
        name=name,
        namespace=namespace,
        data={"tls.crt": serving.cert_pem, "tls.key": serving.key_pem, CA_ENTRY: serving.ca_pem},
        object_type="kubernetes.io/tls",
    )


def sync_config(
    *,
    name: str,
    namespace: str,
    own_key_secret: str,
    remote_key_secret: str,
    remote_url: str | None = None,
    ca_secret: str | None = None,
    role: str | None = None,
    sync_interval: int | None = None,
    send_all_executions: bool = False,
) -> resources.Body:
    """A SyncConfig body; fields left at their CRD default are written out so a reader sees them."""
    spec: dict[str, Any] = {"enabled": True}
    if remote_url is not None:
        spec["remoteUrl"] = remote_url
        spec["verifySsl"] = True
    if ca_secret is not None:
        spec["caCertificate"] = {"kind": resources.SECRET, "name": ca_secret, "key": CA_ENTRY}
    spec["ownPrivateKey"] = {"secretName": own_key_secret, "key": PRIVATE_KEY_ENTRY}
    spec["remotePublicKey"] = {"secretName": remote_key_secret}
    spec["sendAllExecutions"] = send_all_executions
    if sync_interval is not None:
        spec["syncInterval"] = sync_interval
    if role is not None:
        spec["role"] = role
    api_version, _ = resources.API[resources.SYNC_CONFIG]
    return {
        "apiVersion": api_version,
        "kind": resources.SYNC_CONFIG,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


@dataclass(frozen=True)
class LinkRequest:
    """What ``workspace-link link`` is asked for. Side A dials side B (B listens at ``b_url``)."""

    a_namespace: str
    b_namespace: str
    #: ``https://host[:port]`` of B's listener (its Service or Ingress).
    b_url: str
    name_a: str = DEFAULT_NAME_A
    name_b: str = DEFAULT_NAME_B
    #: A's role; B gets the other one. None = unset on both (the dialer, A, controls).
    role: str | None = None
    #: A's seconds between exchanges (only the dialer has a rhythm); None = on change.
    sync_interval: int | None = None
    #: Set on the controlling side's config.
    send_all_executions: bool = False
    #: Where each side's key Secrets (and A's CA Secret) live; None = the workspace's namespace.
    a_keys_namespace: str | None = None
    b_keys_namespace: str | None = None
    #: The listener's TLS Secret (only with a serving certificate), in ``tls_namespace`` or B's.
    tls_secret_name: str = DEFAULT_LISTENER_TLS
    tls_namespace: str | None = None
    listener_hosts: tuple[str, ...] = field(default=())

    def validated(self) -> LinkRequest:
        """The same request, normalised; SpecError naming the attribute on the first problem."""
        validate_namespace(self.a_namespace, field="a_namespace")
        validate_namespace(self.b_namespace, field="b_namespace")
        url = validate_base_url(self.b_url, field="b_url")
        validate_name(self.name_a, field="name_a", max_length=_MAX_CONFIG_NAME)
        validate_name(self.name_b, field="name_b", max_length=_MAX_CONFIG_NAME)
        if self.role is not None and self.role not in _ROLES:
            raise errors.SpecError(f"must be one of {', '.join(_ROLES)}, got {self.role!r}", field="role")
        if self.sync_interval is not None and not 1 <= self.sync_interval <= 86400:
            raise errors.SpecError(
                f"must be between 1 and 86400 seconds, got {self.sync_interval}", field="sync_interval"
            )
        for attr in ("a_keys_namespace", "b_keys_namespace", "tls_namespace"):
            value = getattr(self, attr)
            if value is not None:
                validate_namespace(value, field=attr)
        validate_name(self.tls_secret_name, field="tls_secret_name")
        hosts = tuple(
            dict.fromkeys(certs.validate_host(h, field="listener_host") for h in self.listener_hosts)
        )
        if hosts and url_host(url) not in hosts:
            raise errors.SpecError(
                f"must include {url_host(url)!r}, the host of --b-url, or the dialer cannot verify it",
                field="listener_host",
            )
        if (self.a_keys_namespace or self.a_namespace, self.name_a) == (
            self.b_keys_namespace or self.b_namespace,
            self.name_b,
        ):
            raise errors.SpecError(
                "must differ from --name-a when both sides keep their keys in one namespace", field="name_b"
            )
        return dataclasses.replace(self, b_url=url, listener_hosts=hosts)

    @property
    def b_role(self) -> str | None:
        if self.role is None:
            return None
        return (
            resources.ROLE_CONTROLLED
            if self.role == resources.ROLE_CONTROLLING
            else resources.ROLE_CONTROLLING
        )

    @property
    def a_controls(self) -> bool:
        return self.role in (None, resources.ROLE_CONTROLLING)


@dataclass(frozen=True)
class LinkManifests:
    """Both sides' objects, in the order they must be applied (Secrets before SyncConfigs)."""

    a: tuple[resources.Body, ...]
    b: tuple[resources.Body, ...]


def _key_secrets(
    link: str, namespace: str, *, own_private: bytes, peer_public: bytes
) -> list[resources.Body]:
    """One side's two key Secrets: its own private key and the peer's public key."""
    return [
        private_key_secret(
            name=private_key_secret_name(link), namespace=namespace, private_pem=own_private, link=link
        ),
        public_key_secret(
            name=remote_key_secret_name(link), namespace=namespace, public_pem=peer_public, link=link
        ),
    ]


def link_manifests(
    request: LinkRequest,
    *,
    a_key: rsa.RSAPrivateKey,
    b_key: rsa.RSAPrivateKey,
    serving: certs.IssuedCertificate | None = None,
) -> LinkManifests:
    """Everything both sides apply to be linked. ``request`` must be ``validated()``."""
    a_keys_ns = request.a_keys_namespace or request.a_namespace
    b_keys_ns = request.b_keys_namespace or request.b_namespace
    a_private, b_private = keys.private_key_pem(a_key), keys.private_key_pem(b_key)
    a_public, b_public = keys.public_key_pem(a_key.public_key()), keys.public_key_pem(b_key.public_key())

    a_objects = _key_secrets(request.name_a, a_keys_ns, own_private=a_private, peer_public=b_public)
    b_objects = _key_secrets(request.name_b, b_keys_ns, own_private=b_private, peer_public=a_public)
    a_ca: str | None = None
    if serving is not None:
        a_ca = ca_secret_name(request.name_a)
        a_objects.append(
            ca_secret(name=a_ca, namespace=a_keys_ns, ca_pem=serving.ca_pem, link=request.name_a)
        )
        b_objects.append(
            tls_secret(
                name=request.tls_secret_name,
                namespace=request.tls_namespace or request.b_namespace,
                serving=serving,
            )
        )
    a_objects.append(
        sync_config(
            name=request.name_a,
            namespace=request.a_namespace,
            own_key_secret=private_key_secret_name(request.name_a),
            remote_key_secret=remote_key_secret_name(request.name_a),
            remote_url=remote_url(request.b_url, request.name_b),
            ca_secret=a_ca,
            role=request.role,
            sync_interval=request.sync_interval,
            send_all_executions=request.send_all_executions and request.a_controls,
        )
    )
    b_objects.append(
        sync_config(
            name=request.name_b,
            namespace=request.b_namespace,
            own_key_secret=private_key_secret_name(request.name_b),
            remote_key_secret=remote_key_secret_name(request.name_b),
            role=request.b_role,
            send_all_executions=request.send_all_executions and not request.a_controls,
        )
    )
    return LinkManifests(a=tuple(a_objects), b=tuple(b_objects))


def to_yaml(bodies: Sequence[resources.Body], *, header: str = "") -> str:
    """A multi-document YAML file; ``header`` lines become ``#`` comments at its top."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + yaml.safe_dump_all(list(bodies), sort_keys=False, explicit_start=True, width=1 << 16)
