"""The emulator answers label selectors as the API server does, so a test sees what a cluster
would stream: the operator's Secret watch leaves out the runner Secrets on the server side."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from apiserver_emulator import ApiServerEmulator, parse_selector, selects
from kopf_helpers import NAMESPACE

from workspace_link.adapters.kube import handlers, kubestore
from workspace_link.core import labels

RUNNER = {labels.COMPONENT: labels.RUNNER_TOKEN_COMPONENT}


def test_equality_based_terms_select_as_upstream_and_set_based_ones_are_refused() -> None:
    terms = parse_selector("a=1,b==2,c!=3,d,!e")
    assert selects(terms, {"a": "1", "b": "2", "d": ""})
    assert selects(terms, {"a": "1", "b": "2", "c": "4", "d": "x"})
    assert not selects(terms, {"a": "1", "b": "2", "c": "3", "d": ""}), "c!=3"
    assert not selects(terms, {"a": "1", "b": "2"}), "d must exist"
    assert not selects(terms, {"a": "1", "b": "2", "d": "", "e": "x"}), "e must not"
    assert selects(parse_selector(handlers.SECRETS_SELECTOR), {}), "a missing label is not equal"
    assert not selects(parse_selector(handlers.SECRETS_SELECTOR), RUNNER)
    for bad in ("a in (1,2)", "a notin (1)", "a,b in (x)"):
        with pytest.raises(ValueError, match="set-based"):
            parse_selector(bad)


def _secret(name: str, secret_labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": secret_labels}, "data": {}}


async def test_a_selected_list_and_watch_stream_only_what_the_selector_selects(
    api_server: ApiServerEmulator, kube: kubestore.KubeStore
) -> None:
    base = str(api_server.url).rstrip("/") + f"/api/v1/namespaces/{NAMESPACE}/secrets"
    selector = {"labelSelector": handlers.SECRETS_SELECTOR}
    await kube.create("Secret", _secret("keys", {}))
    await kube.create("Secret", _secret("runner", RUNNER))
    async with aiohttp.ClientSession() as session:
        async with session.get(base, params=selector) as listed:
            assert [item["metadata"]["name"] for item in (await listed.json())["items"]] == ["keys"]
        async with session.get(base, params={"labelSelector": "a in (b)"}) as refused:
            assert refused.status == 400

        events: list[tuple[str, str]] = []
        async with session.get(base, params={**selector, "watch": "true"}) as watch:

            async def read() -> None:
                async for line in watch.content:
                    if line.strip():
                        event = json.loads(line)
                        events.append((event["type"], event["object"]["metadata"]["name"]))

            reader = asyncio.ensure_future(read())
            await kube.create("Secret", _secret("runner-2", RUNNER))
            keys = await kube.get("Secret", "keys")
            # Labelled a runner Secret, "keys" stops matching: the watch says it is gone.
            await kube.patch("Secret", "keys", {"metadata": {"labels": RUNNER}})
            await kube.patch("Secret", "runner", {"metadata": {"labels": {labels.COMPONENT: "other"}}})
            await asyncio.sleep(0.3)
            reader.cancel()
    assert keys["metadata"]["name"] == "keys"
    assert events == [("ADDED", "keys"), ("DELETED", "keys"), ("ADDED", "runner")]
