"""A throwaway CA and one serving certificate for a listener, for kind and clusters without cert-manager.

The listener serves the sync endpoint over TLS from a Secret; the dialer verifies it against
the CA its SyncConfig's ``caCertificate`` points at (docs/architecture.md, SyncConfig). Where
no cert-manager or corporate CA exists, ``workspace-link link --issue-ca`` makes both with
this module.

"Throwaway" is the point: the CA's private key is discarded as soon as the serving certificate
is signed, so it cannot sign anything else, and nothing here has to be stored or rotated
beyond the two PEMs and the serving key. A new certificate means a new CA (run the command
again and apply both sides).

Pure: builds certificates in memory with ``cryptography``'s x509 builder; no file I/O. ECDSA
P-256 keeps generation instant and is accepted by every TLS stack we talk to.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workspace_link.core import errors

DEFAULT_DAYS = 365
MAX_DAYS = 3650
#: Backdating the start of validity keeps a peer whose clock runs a little behind from
#: refusing a certificate issued seconds ago.
_BACKDATE = datetime.timedelta(minutes=5)
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)
#: X.509 limits a common name to 64 characters; the SAN carries the names that matter.
_CN_MAX = 64


@dataclass(frozen=True)
class IssuedCertificate:
    """What ``issue_serving_certificate`` returns: the certificate, its key and the CA that verifies it (PEM).

    In memory only; a listener serves it from files (``adapters.http.servingcert``).
    """

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    hosts: tuple[str, ...]
    not_after: datetime.datetime


def validate_host(host: str, *, field: str) -> str:
    """A DNS name (lower-cased) or an IP address a certificate can name; SpecError otherwise."""
    candidate = host.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    if not _DNS_NAME.match(candidate):
        raise errors.SpecError(
            f"{host!r} is not a DNS name or IP address (wildcards are not issued)", field=field
        )
    return candidate


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signing only; a CA also signs certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def issue_serving_certificate(
    hosts: Sequence[str],
    *,
    days: int = DEFAULT_DAYS,
    now: datetime.datetime | None = None,
    ca_name: str = "workspace-link throwaway CA",
) -> IssuedCertificate:
    """Issue a fresh CA and a serving certificate for ``hosts``; the CA's key is not kept."""
    if not hosts:
        raise errors.SpecError("at least one host is needed", field="listener_host")
    if not 1 <= days <= MAX_DAYS:
        raise errors.SpecError(f"must be between 1 and {MAX_DAYS}, got {days}", field="ca_days")
    names = tuple(dict.fromkeys(validate_host(h, field="listener_host") for h in hosts))
    start = (now or datetime.datetime.now(datetime.UTC)) - _BACKDATE
    end = start + _BACKDATE + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "workspace-link"),
            x509.NameAttribute(NameOID.COMMON_NAME, ca_name[:_CN_MAX]),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(ca=True),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "workspace-link")]
    if len(names[0]) <= _CN_MAX:
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, names[0]))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(ca=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedCertificate(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        hosts=names,
        not_after=end,
    )
