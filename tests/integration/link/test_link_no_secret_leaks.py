"""Keys and runner tokens never reach a status, an event, a log line or a runner's output.

After a real linked run (and a refused request, and a key Secret that fails to load), every
status and event in both stores, every log record of the process and every runner log file is
searched for the private keys (PEM and base64 body) and every runner token.
"""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest
from link_harness import Linked, put_secret, wait_until

from workspace_link.core import resources
from workspace_link.engine import runner_secret


async def test_no_key_or_token_appears_in_statuses_events_or_logs(
    linked: Linked, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await linked.load_flows("a")
    await linked.link()
    await linked.run("main-1", "main")
    await linked.finished("main-1")
    # A refused request and a broken key Secret produce errors, conditions and events too.
    async with httpx.AsyncClient(verify=False) as client:
        await client.post(linked.b.sync_url_for("link-to-a"), content=b"{}")
    await put_secret(linked.stores["a"], "link-to-b-private", {"private.pem": b"not a key"})

    async def keys_failed() -> bool:
        config = await linked.stores["a"].get(resources.SYNC_CONFIG, "link-to-b")
        return any(c["status"] == "False" for c in resources.status(config).get("conditions", []))

    await wait_until(linked.a, keys_failed)

    needles: set[str] = set()
    for identity in linked.ids.values():
        needles.add(identity.private_pem.decode())
        body = "".join(identity.private_pem.decode().strip().splitlines()[1:-1])
        needles.update({body, body[:64], body[-64:]})
    for side in ("a", "b"):
        for secret in await linked.stores[side].list(resources.SECRET):
            if "token" in (secret.get("data") or {}):
                token = runner_secret.secret_value(secret, "token")
                needles.update({token, token.split(".", 1)[1], base64.b64encode(token.encode()).decode()})
    assert len(needles) > 6

    haystacks: dict[str, str] = {"logs": caplog.text}
    for side in ("a", "b"):
        store = linked.stores[side]
        for kind in (resources.SYNC_CONFIG, resources.EXECUTION):
            for body in await store.list(kind):
                haystacks[f"{side} {kind} {resources.name(body)} status"] = json.dumps(body.get("status"))
        haystacks[f"{side} events"] = json.dumps(store.events)  # type: ignore[attr-defined]
        for log in linked.sides[side].executor.log_dir.glob("*.log"):
            haystacks[f"{side} runner log {log.name}"] = log.read_text(errors="replace")
    assert any("Succeeded" in text for text in haystacks.values())
    for where, text in haystacks.items():
        for needle in needles:
            assert needle not in text, f"secret material found in {where}"
