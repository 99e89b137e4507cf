"""Signed requests and responses verify; every kind of tampering fails with its own reason."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import http_message_signatures as hms
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from http_message_signatures import algorithms

from workspace_link.core import errors, keys, replay, settings, signatures

PATH = "/api/latest/sync_config/link-from-a/sync"
BODY = b'{"protocol":1,"messages":[]}'
NOW = 1_750_000_000.0
LINK = "link-from-a"


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key_a() -> rsa.RSAPrivateKey:
    return keys.generate_private_key(2048)


@pytest.fixture(scope="module")
def key_b() -> rsa.RSAPrivateKey:
    return keys.generate_private_key(2048)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_verifier(
    accepted: list[rsa.RSAPrivateKey], clock: FakeClock, **others: list[rsa.RSAPrivateKey]
) -> Any:
    ring = signatures.KeyRing(
        {
            LINK: [k.public_key() for k in accepted],
            **{n: [k.public_key() for k in ks] for n, ks in others.items()},
        }
    )
    return signatures.Verifier.from_settings(
        settings.Settings(), keys=ring, link=LINK, replay=replay.ReplayCache(clock=clock), clock=clock
    )


def signed_request(signer: signatures.Signer, *, body: bytes = BODY) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "test"}
    return {
        **headers,
        **signatures.sign_request(signer, method="POST", path=PATH, headers=headers, body=body),
    }


def reason_of(call: Any, **kwargs: Any) -> errors.SignatureError:
    with pytest.raises(errors.SignatureError) as info:
        call(**kwargs)
    return info.value


def request_refusal(
    headers: dict[str, str], key: rsa.RSAPrivateKey, clock: FakeClock
) -> errors.SignatureError:
    """Why a POST of BODY to PATH with ``headers`` is refused by a verifier holding ``key``."""
    return reason_of(
        signatures.verify_request,
        verifier=make_verifier([key], clock),
        method="POST",
        path=PATH,
        headers=headers,
        body=BODY,
    )


def test_a_signed_request_verifies(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = signed_request(signatures.Signer(key_a, clock=clock))
    seen = signatures.verify_request(
        make_verifier([key_a], clock), method="POST", path=PATH, headers=headers, body=BODY
    )
    assert seen.key_id == keys.key_id(key_a.public_key())
    assert seen.created == int(NOW)
    assert seen.link == LINK and seen.nonce


def test_the_signature_follows_the_profile(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = signed_request(signatures.Signer(key_a, clock=clock))
    sig_input = headers["Signature-Input"]
    assert sig_input.startswith('wl=("@method" "@path" "content-digest" "content-type");')
    for param in ("created=", "expires=", "nonce=", 'alg="rsa-pss-sha512"', 'tag="workspace-link/1"'):
        assert param in sig_input
    assert f'keyid="{keys.key_id(key_a.public_key())}"' in sig_input
    assert headers["Content-Digest"].startswith("sha-512=:")


def test_headers_are_matched_case_insensitively(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = {
        name.lower(): value for name, value in signed_request(signatures.Signer(key_a, clock=clock)).items()
    }
    signatures.verify_request(
        make_verifier([key_a], clock), method="POST", path=PATH, headers=headers, body=BODY
    )


def test_a_signed_response_verifies_against_its_request(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock()
    request = signed_request(signatures.Signer(key_a, clock=clock))
    response_body = b'{"protocol":1}'
    added = signatures.sign_response(
        signatures.Signer(key_b, clock=clock),
        status=200,
        headers={},
        body=response_body,
        request_headers=request,
    )
    assert added["Content-Type"] == "application/json"
    assert '"signature";req;key="wl"' in added["Signature-Input"]
    seen = signatures.verify_response(
        make_verifier([key_b], clock), status=200, headers=added, body=response_body, request_headers=request
    )
    assert seen.key_id == keys.key_id(key_b.public_key())


def _flip(data: bytes, index: int = 5) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.mark.parametrize(
    ("method", "path", "body", "reason"),
    [
        ("POST", PATH, _flip(BODY), "digest-mismatch"),
        ("POST", PATH.replace("link-from-a", "link-from-b"), BODY, "invalid"),
        ("PUT", PATH, BODY, "invalid"),
        ("post", PATH, BODY, "invalid"),
    ],
    ids=["body", "path", "method", "lower-case method"],
)
def test_a_tampered_request_is_refused(
    key_a: rsa.RSAPrivateKey, clock: FakeClock, method: str, path: str, body: bytes, reason: str
) -> None:
    headers = signed_request(signatures.Signer(key_a, clock=clock))
    error = reason_of(
        signatures.verify_request,
        verifier=make_verifier([key_a], clock),
        method=method,
        path=path,
        headers=headers,
        body=body,
    )
    assert error.reason == reason


def test_a_tampered_content_type_is_refused(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = {**signed_request(signatures.Signer(key_a, clock=clock)), "Content-Type": "text/plain"}
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "invalid"


def test_a_digest_swapped_with_the_body_still_fails_the_signature(
    key_a: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    other = b'{"protocol":1,"messages":[{"evil":1}]}'
    headers = signed_request(signatures.Signer(key_a, clock=clock))
    headers["Content-Digest"] = signed_request(signatures.Signer(key_a, clock=clock), body=other)[
        "Content-Digest"
    ]
    error = reason_of(
        signatures.verify_request,
        verifier=make_verifier([key_a], clock),
        method="POST",
        path=PATH,
        headers=headers,
        body=other,
    )
    assert error.reason == "invalid"


@pytest.mark.parametrize(
    ("change", "reason"),
    [("status", "invalid"), ("body", "digest-mismatch"), ("request", "invalid")],
)
def test_a_tampered_response_is_refused(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, change: str, reason: str
) -> None:
    clock = FakeClock()
    request = signed_request(signatures.Signer(key_a, clock=clock))
    body = b'{"protocol":1}'
    added = signatures.sign_response(
        signatures.Signer(key_b, clock=clock), status=200, headers={}, body=body, request_headers=request
    )
    status = 201 if change == "status" else 200
    if change == "body":
        body = _flip(body)
    if change == "request":  # a recorded response replayed as the answer to another request
        request = signed_request(signatures.Signer(key_a, clock=clock))
    error = reason_of(
        signatures.verify_response,
        verifier=make_verifier([key_b], clock),
        status=status,
        headers=added,
        body=body,
        request_headers=request,
    )
    assert error.reason == reason


def test_a_request_signed_with_another_key_is_refused_as_unknown(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    headers = signed_request(signatures.Signer(key_b, clock=clock))
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "unknown-key"
    assert keys.key_id(key_b.public_key()) in str(error)
    assert keys.key_id(key_a.public_key()) in str(error)  # what is accepted, to compare with the peer
    assert LINK in str(error)


def test_a_keyid_claiming_an_accepted_key_does_not_make_another_key_verify(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    headers = signed_request(signatures.Signer(key_b, clock=clock))
    headers["Signature-Input"] = headers["Signature-Input"].replace(
        keys.key_id(key_b.public_key()), keys.key_id(key_a.public_key())
    )
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "invalid"


def test_a_key_of_another_link_is_refused_as_wrong_link_when_the_ring_knows_it(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    headers = signed_request(signatures.Signer(key_b, clock=clock))
    verifier = make_verifier([key_a], clock, **{"link-from-c": [key_b]})
    error = reason_of(
        signatures.verify_request, verifier=verifier, method="POST", path=PATH, headers=headers, body=BODY
    )
    assert error.reason == "wrong-link"
    assert "link-from-c" in str(error) and LINK in str(error)


def test_a_key_of_another_link_is_unknown_to_a_verifier_holding_only_this_links_keys(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    headers = signed_request(signatures.Signer(key_b, clock=clock))
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "unknown-key"
    assert "right link" in str(error)


def test_rotation_accepts_the_old_and_the_new_key(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    verifier = make_verifier([key_a, key_b], clock)
    for key in (key_a, key_b):
        headers = signed_request(signatures.Signer(key, clock=clock))
        seen = signatures.verify_request(verifier, method="POST", path=PATH, headers=headers, body=BODY)
        assert seen.key_id == keys.key_id(key.public_key())


@pytest.mark.parametrize(
    ("signed_at", "reason"),
    [
        (NOW - 1000, "expired"),  # past expires and the maximum age
        (NOW + 120, "not-yet-valid"),  # beyond the 30 s skew
    ],
    ids=["expired", "future"],
)
def test_a_signature_outside_its_window_is_refused(
    key_a: rsa.RSAPrivateKey, signed_at: float, reason: str, clock: FakeClock
) -> None:
    headers = signed_request(signatures.Signer(key_a, clock=FakeClock(signed_at)))
    error = request_refusal(headers, key_a, clock)
    assert error.reason == reason
    if reason == "not-yet-valid":
        assert "clock skew" in str(error)


def test_a_signature_older_than_the_maximum_age_is_expired_even_if_it_says_otherwise(
    key_a: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    long_lived = signatures.Signer(key_a, expires_in=3600, clock=FakeClock(NOW - 600))
    error = reason_of(
        signatures.verify_request,
        verifier=make_verifier([key_a], clock),
        method="POST",
        path=PATH,
        headers=signed_request(long_lived),
        body=BODY,
    )
    assert error.reason == "expired"
    assert "maximum age" in str(error)


def test_a_clock_difference_within_the_skew_is_tolerated(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = signed_request(signatures.Signer(key_a, clock=FakeClock(NOW + 20)))
    signatures.verify_request(
        make_verifier([key_a], clock), method="POST", path=PATH, headers=headers, body=BODY
    )


def test_a_replayed_request_is_refused_then_expires(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    verifier = make_verifier([key_a], clock)
    headers = signed_request(signatures.Signer(key_a, clock=clock))
    signatures.verify_request(verifier, method="POST", path=PATH, headers=headers, body=BODY)
    error = reason_of(
        signatures.verify_request, verifier=verifier, method="POST", path=PATH, headers=headers, body=BODY
    )
    assert error.reason == "replayed"
    clock.now += settings.Settings().signature_max_age + settings.Settings().clock_skew + 1
    error = reason_of(
        signatures.verify_request, verifier=verifier, method="POST", path=PATH, headers=headers, body=BODY
    )
    assert error.reason == "expired"


@pytest.mark.parametrize("header", ["Signature", "Signature-Input", "Content-Digest", "Content-Type"])
def test_a_request_missing_a_signature_header_is_refused(
    key_a: rsa.RSAPrivateKey, clock: FakeClock, header: str
) -> None:
    headers = signed_request(signatures.Signer(key_a, clock=clock))
    del headers[header]
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "missing"
    assert header in str(error)


def test_an_unsigned_request_is_refused_as_missing(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    error = reason_of(
        signatures.verify_request,
        verifier=make_verifier([key_a], clock),
        method="POST",
        path=PATH,
        headers={"Content-Type": "application/json"},
        body=BODY,
    )
    assert error.reason == "missing"


@dataclasses.dataclass
class LibraryRequest:
    method: str
    url: str
    headers: dict[str, str]


def _library_signed(
    key: rsa.RSAPrivateKey, *, tag: str, components: tuple[str, ...], clock: FakeClock
) -> dict[str, str]:
    """A request signed directly with the library, outside our profile."""

    message = LibraryRequest(
        method="POST", url="https://peer.invalid" + PATH, headers={"Content-Type": "application/json"}
    )
    key_id = keys.key_id(key.public_key())
    created = datetime.datetime.fromtimestamp(clock.now, tz=datetime.UTC)
    signer = hms.HTTPMessageSigner(
        signature_algorithm=algorithms.RSA_PSS_SHA512,
        key_resolver=hms.MappingKeyResolver(public_keys={}, private_keys={key_id: key}),
    )
    signer.sign(
        message,
        key_id=key_id,
        created=created,
        expires=created + datetime.timedelta(seconds=300),
        nonce="n-1",
        label="wl",
        tag=tag,
        covered_component_ids=components,
        body=BODY,
    )
    return dict(message.headers)


def test_a_signature_with_another_tag_is_refused(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = _library_signed(key_a, tag="other-app/1", components=signatures.REQUEST_COMPONENTS, clock=clock)
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "wrong-tag"


def test_a_signature_covering_less_than_the_profile_is_refused(
    key_a: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    headers = _library_signed(
        key_a, tag=signatures.TAG, components=("@method", "content-digest"), clock=clock
    )
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "invalid"
    assert "covered" in str(error)


def test_the_library_signature_in_our_profile_verifies(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = _library_signed(
        key_a, tag=signatures.TAG, components=signatures.REQUEST_COMPONENTS, clock=clock
    )
    signatures.verify_request(
        make_verifier([key_a], clock), method="POST", path=PATH, headers=headers, body=BODY
    )


def test_a_garbled_signature_header_is_invalid(key_a: rsa.RSAPrivateKey, clock: FakeClock) -> None:
    headers = {**signed_request(signatures.Signer(key_a, clock=clock)), "Signature": "wl=not base64"}
    error = request_refusal(headers, key_a, clock)
    assert error.reason == "invalid"


def test_errors_never_contain_key_material(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    headers = signed_request(signatures.Signer(key_b, clock=clock))
    error = request_refusal(headers, key_a, clock)
    for key in (key_a, key_b):
        pem_body = keys.public_key_pem(key.public_key()).decode().splitlines()[1]
        assert pem_body not in str(error)
