"""RFC 9421 Appendix B vectors for rsa-pss-sha512, checked through the same library path we use.

Our profile adds a tag, a nonce and expires, so the published signatures cannot pass our
Verifier; instead the library's verifier, configured with the algorithm class our profile
uses, must accept B.2.1 and B.2.3 (B.2.3 covers @method, @path, content-type and
content-digest, the request components of our profile) and our digest must equal the RFC's.
"""

from __future__ import annotations

import dataclasses

import http_message_signatures as hms
import pytest
from cryptography.hazmat.primitives import serialization
from http_message_signatures import algorithms

from workspace_link.core import keys, signatures

# RFC 9421 B.1.2, test-key-rsa-pss (public part).
TEST_KEY_RSA_PSS_PUB = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""

# RFC 9421 B.2, test-request.
BODY = b'{"hello": "world"}'
CONTENT_DIGEST = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
)

B21_INPUT = 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
B21_SIGNATURE = (
    "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJ"
    "MkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZ"
    "sfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C"
    "8ssinQ98Xw9Q==:"
)
B23_INPUT = (
    'sig-b23=("date" "@method" "@path" "@query" "@authority" '
    '"content-type" "content-digest" "content-length")'
    ';created=1618884473;keyid="test-key-rsa-pss"'
)
B23_SIGNATURE = (
    "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb"
    "38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1x"
    "My7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZ"
    "KEgM4cUA==:"
)


@dataclasses.dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]


def rfc_request(signature_input: str, signature: str, *, method: str = "POST") -> Request:
    return Request(
        method=method,
        url="https://example.com/foo?param=Value&Pet=dog",
        headers={
            "Host": "example.com",
            "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
            "Content-Type": "application/json",
            "Content-Digest": CONTENT_DIGEST,
            "Content-Length": "18",
            "Signature-Input": signature_input,
            "Signature": signature,
        },
    )


def library_verifier() -> hms.HTTPMessageVerifier:
    return hms.HTTPMessageVerifier(
        signature_algorithm=algorithms.RSA_PSS_SHA512,
        key_resolver=hms.MappingKeyResolver(
            public_keys={"test-key-rsa-pss": TEST_KEY_RSA_PSS_PUB}, private_keys={}
        ),
    )


def test_b21_minimal_signature_verifies() -> None:
    results = library_verifier().verify(rfc_request(B21_INPUT, B21_SIGNATURE), max_age=None)
    assert results[0].nonce == "b3k2pp5k7z-50gnwp.yemd"


def test_b23_full_coverage_verifies_covering_our_request_components_and_digest() -> None:
    results = library_verifier().verify(
        rfc_request(B23_INPUT, B23_SIGNATURE),
        max_age=None,
        require_components=signatures.REQUEST_COMPONENTS,
        body=BODY,
    )
    assert results[0].covered_components['"@path"'] == "/foo"
    assert results[0].body == BODY


@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_b23_fails_for_another_method(method: str) -> None:
    with pytest.raises(hms.InvalidSignature):
        library_verifier().verify(rfc_request(B23_INPUT, B23_SIGNATURE, method=method), max_age=None)


def test_b23_fails_for_another_body() -> None:
    with pytest.raises(hms.InvalidSignature):
        library_verifier().verify(
            rfc_request(B23_INPUT, B23_SIGNATURE), max_age=None, body=b'{"hello": "World"}'
        )


def test_our_signer_produces_the_rfc_content_digest() -> None:
    signer = signatures.Signer(keys.generate_private_key(2048))
    added = signatures.sign_request(
        signer, method="POST", path="/foo", headers={"Content-Type": "application/json"}, body=BODY
    )
    assert added["Content-Digest"] == CONTENT_DIGEST


def test_the_rfc_key_loads_with_our_key_loader() -> None:
    loaded = keys.load_public_keys(TEST_KEY_RSA_PSS_PUB, source="RFC 9421 B.1.2")
    (key,) = loaded.values()
    assert key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo) == (
        TEST_KEY_RSA_PSS_PUB
    )
