"""Case 4: a signed start whose inputs nest hundreds of levels gets the protocol's 400, not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fault_helpers import post, refusal, signed, start_envelope
from link_harness import Identity, Linked

from workspace_link.core import bounds, resources


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize("depth", [600, 960])
async def test_deeply_nested_inputs_are_refused_naming_the_field(
    b_only: Linked, identities: dict[str, Identity], depth: int
) -> None:
    # Spliced in as text: the encoder (Python's json) itself cannot write 960 levels.
    body = start_envelope(identities["a"], uid=f"deep-{depth}", inputs={"k": "DEEP"})
    body = body.replace(b'"DEEP"', b'{"k":' * (depth - 2) + b"{}" + b"}" * (depth - 2))
    assert len(body) < 8 * 1024
    response = await post(b_only, body, signed(identities["a"], body))
    assert refusal(response) == (400, "malformed"), response.text
    # Deep enough and the parser itself gives up: then the field named is the body.
    assert "messages[0].payload.inputs" in response.text or '"message":"body: ' in response.text
    assert f"{bounds.MAX_JSON_DEPTH} levels" in response.text
    assert await b_only.stores["b"].list(resources.EXECUTION) == []


async def test_inputs_at_the_depth_limit_are_accepted(
    b_only: Linked, identities: dict[str, Identity]
) -> None:
    body = start_envelope(identities["a"], uid="deep-ok", inputs=nested(bounds.MAX_JSON_DEPTH))
    response = await post(b_only, body, signed(identities["a"], body))
    assert response.status_code == 200, response.text
    assert len(await b_only.stores["b"].list(resources.EXECUTION)) == 1
