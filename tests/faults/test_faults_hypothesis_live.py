"""Hypothesis-made requests against the LIVE sync endpoint: every one is a real HTTPS POST to B.

Arbitrary bytes, JSON-ish documents, random signature header sets and mutations of a valid
signed start: each answer is a 4xx with the protocol's error body, never 2xx or 5xx, and B's
store holds no Execution afterwards. B is built once per test; hypothesis runs its examples
inside it (pytest-asyncio drives an async ``@given`` test on the fixture's loop).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fault_helpers import post, signed, start_envelope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from link_harness import Identity, Linked

from workspace_link.core import protocol, resources, wire

pytestmark = pytest.mark.slow

EXAMPLES = 60
LIVE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SIGNATURE_HEADERS = ("Signature", "Signature-Input", "Content-Digest", "Content-Type")

#: Header values h11 will send: printable ASCII, no leading/trailing space.
header_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=200)
#: Values shaped like the real ones, so parsing gets past the first character now and then.
shaped = st.one_of(
    header_text,
    st.builds(lambda s: f"wl=:{s}:", header_text),
    st.builds(lambda s: f"sha-512=:{s}:", header_text),
    st.builds(
        lambda n, k: f'wl=("@method" "@path" "content-digest" "content-type");created={n};keyid="{k}"',
        st.integers(min_value=-(2**63), max_value=2**63),
        header_text,
    ),
    st.just(protocol.CONTENT_TYPE),
)
header_sets = st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), shaped, max_size=4)
json_ish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


async def refused_and_nothing_created(pair: Linked, response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    status, reason, _ = wire.decode_error(response.content)
    assert status == response.status_code, response.text
    assert reason, response.text
    assert await pair.stores["b"].list(resources.EXECUTION) == []


@LIVE
@given(body=st.binary(max_size=4096), headers=header_sets)
async def test_arbitrary_bytes_with_random_headers_are_refused(
    b_only: Linked, body: bytes, headers: dict[str, str]
) -> None:
    await refused_and_nothing_created(b_only, await post(b_only, body, headers))


@LIVE
@given(doc=json_ish, headers=header_sets, sign=st.booleans())
async def test_json_ish_bodies_are_refused_signed_or_not(
    b_only: Linked, identities: dict[str, Identity], doc: Any, headers: dict[str, str], sign: bool
) -> None:
    body = json.dumps(doc).encode()
    # Signed with A's real key, the body is authenticated and then fails to decode: still a 4xx.
    await refused_and_nothing_created(
        b_only, await post(b_only, body, signed(identities["a"], body) if sign else headers)
    )


def _flip(body: bytes, index: int, bit: int) -> bytes:
    index %= len(body)
    return body[:index] + bytes([body[index] ^ (1 << bit)]) + body[index + 1 :]


mutations = st.one_of(
    st.tuples(st.just("flip-body"), st.integers(min_value=0), st.integers(min_value=0, max_value=7)),
    st.tuples(st.just("replace-header"), st.sampled_from(SIGNATURE_HEADERS), shaped),
    st.tuples(st.just("drop-header"), st.sampled_from(SIGNATURE_HEADERS[:3]), st.none()),
    st.tuples(st.just("flip-signature"), st.integers(min_value=4), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("other-key"), st.none(), st.none()),
    st.tuples(st.just("other-path"), st.sampled_from(["link-to-c", "link-to-b", "x"]), st.none()),
)


@LIVE
@given(mutation=mutations, uid=st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True))
async def test_mutations_of_a_valid_signed_start_are_refused(
    b_only: Linked, identities: dict[str, Identity], mutation: tuple[str, Any, Any], uid: str
) -> None:
    kind, first, second = mutation
    body = start_envelope(identities["a"], uid=f"mutated-{uid}")
    headers = signed(identities["a"], body)
    if kind == "flip-body":
        body = _flip(body, first, second)
    elif kind == "replace-header":
        if headers[first] == second:
            second += "x"
        headers[first] = second
    elif kind == "drop-header":
        del headers[first]
    elif kind == "flip-signature":
        value = headers["Signature"]  # wl=:<base64>:; swap one base64 character for another
        index = 4 + (first - 4) % (len(value) - 5)
        alphabet = "ABCDEF" if value[index] not in "ABCDEF" else "ghijkl"
        headers["Signature"] = value[:index] + alphabet[second] + value[index + 1 :]
    elif kind == "other-key":
        headers = signed(identities["other"], body)
    elif kind == "other-path":
        headers = signed(identities["a"], body, path=protocol.SYNC_PATH.format(name=first))
    await refused_and_nothing_created(b_only, await post(b_only, body, headers))


async def test_the_unmutated_signed_start_is_served(b_only: Linked, identities: dict[str, Identity]) -> None:
    # The control: the same construction, unmutated, is what B accepts.
    body = start_envelope(identities["a"], uid="the-control")
    response = await post(b_only, body, signed(identities["a"], body))
    assert response.status_code == 200, response.text
    assert len(await b_only.stores["b"].list(resources.EXECUTION)) == 1
