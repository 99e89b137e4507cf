"""Case 1: a captured valid start resent after the listener restarted is refused; nothing runs twice."""

from __future__ import annotations

from fault_helpers import post, refusal, signed, start_envelope
from link_harness import Identity, Linked, past_watermark

from workspace_link.core import resources


async def test_a_start_replayed_after_a_restart_is_refused_and_creates_nothing(
    b_only: Linked, identities: dict[str, Identity]
) -> None:
    body = start_envelope(identities["a"], uid="replayed-after-restart")
    headers = signed(identities["a"], body)
    first = await post(b_only, body, headers)
    assert first.status_code == 200, first.text
    (created,) = await b_only.stores["b"].list(resources.EXECUTION)
    await b_only.b.wait_for_phase(resources.name(created), resources.TERMINAL)
    # A replay that got through would create it again, and run its script a second time.
    await b_only.stores["b"].delete(resources.EXECUTION, resources.name(created))
    await b_only.restart("b")
    again = await post(b_only, body, headers)
    assert refusal(again) == (401, "signed-before-start"), again.text
    assert "re-sign" in again.text.lower()
    assert await b_only.stores["b"].list(resources.EXECUTION) == []


async def test_a_request_signed_after_the_restart_is_served(
    b_only: Linked, identities: dict[str, Identity]
) -> None:
    await b_only.restart("b")
    body = start_envelope(identities["a"], uid="signed-after-restart")
    first = await post(b_only, body, signed(identities["a"], body))
    # ``created`` is whole seconds: signed in the restart's own second, it may predate the
    # restart and is refused, and the dialer signs again. Once that second is over, it passes.
    assert first.status_code == 200 or refusal(first) == (401, "signed-before-start"), first.text
    await past_watermark(b_only.b)
    again = await post(b_only, body, signed(identities["a"], body))
    assert again.status_code == 200, again.text


async def test_the_dialer_re_signs_at_once_after_a_listener_restart(linked: Linked) -> None:
    await linked.load_flows("a")
    await linked.link()
    await linked.run("before", "hello", remoteWorkspace="link-to-b", inputs={"name": "x"})
    await linked.finished("before")
    await linked.restart("b")
    await linked.run("after", "hello", remoteWorkspace="link-to-b", inputs={"name": "y"})
    body = await linked.finished("after")
    assert resources.phase(body) == "Succeeded"
