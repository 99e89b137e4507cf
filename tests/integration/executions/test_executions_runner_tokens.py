"""The runner API checks a token against the digest its workspace learnt, not a read per call.

On a cluster every read of a runner Secret is an API request, and a runner makes several calls
(its script, logs, outputs, children, its end): issue #11. The workspace learns each token's
digest when it creates the Secret (``runner_credentials.Tokens``) and forgets it once the
execution has ended. Real runner processes, the runner API over real HTTP; the backing store's
reads are counted (the cache never holds runner Secrets, so each read would reach it).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from workspace_link.adapters.local import embedded
from workspace_link.core import naming, resources, runner_credentials


@pytest.fixture
async def http(local: embedded.EmbeddedWorkspace) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=local.runner_url, timeout=10) as client:
        yield client


@pytest.fixture
def secret_reads(local: embedded.EmbeddedWorkspace, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the Secrets read from the backing store from now on (the reads still happen)."""
    reads: list[str] = []
    backing = local.ws.store.backing  # type: ignore[attr-defined]
    real_get = backing.get

    async def counting_get(kind: str, name: str) -> resources.Body:
        if kind == resources.SECRET:
            reads.append(name)
        return await real_get(kind, name)

    monkeypatch.setattr(backing, "get", counting_get)
    return reads


async def _running(local: embedded.EmbeddedWorkspace, run_flow, wait_until, name: str) -> str:
    """Start the slow flow as ``name``; once its runner logged, return its token (read here)."""
    await run_flow("slow", name, wait=False)

    async def started() -> bool:
        body = await local.store.get(resources.EXECUTION, name)
        return "started" in resources.status(body).get("logTail", [])

    await wait_until(started)
    secret = await local.ws.store.backing.get(resources.SECRET, naming.runner_secret_name(name))  # type: ignore[attr-defined]
    return base64.b64decode(secret["data"]["token"]).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_runner_calls_are_checked_without_reading_the_runner_secret(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, run_flow, wait_until, secret_reads: list[str]
) -> None:
    token = await _running(local, run_flow, wait_until, "calls")
    secret_reads.clear()  # the test's own read of the token above

    for _ in range(3):
        assert (await http.get("/v1/execution", headers=bearer(token))).status_code == 200
    wrong = await http.get("/v1/execution", headers=bearer(token[:-4] + "AAAA"))

    assert wrong.status_code == 403
    assert secret_reads == []


async def test_after_a_restart_a_token_is_checked_against_its_secret_once(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, run_flow, wait_until, secret_reads: list[str]
) -> None:
    token = await _running(local, run_flow, wait_until, "restarted")
    # What a new operator process knows: no digest at all.
    local.ws.runner_tokens = runner_credentials.Tokens()
    secret_reads.clear()

    forged = await http.get("/v1/execution", headers=bearer(token[:-4] + "AAAA"))
    first = await http.get("/v1/execution", headers=bearer(token))
    again = await http.get("/v1/execution", headers=bearer(token))

    assert (forged.status_code, first.status_code, again.status_code) == (403, 200, 200)
    secret = naming.runner_secret_name("restarted")
    # The forged call read the Secret and learnt the true digest; no read after that.
    assert secret_reads == [secret]
    assert local.ws.runner_tokens.matches("restarted", token) is True


async def test_an_ended_execution_leaves_no_digest_and_its_token_opens_nothing(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, run_flow, wait_until
) -> None:
    token = await _running(local, run_flow, wait_until, "ending")
    assert local.ws.runner_tokens.matches("ending", token) is True

    ended = await http.post("/v1/end", headers=bearer(token), json={"phase": "Succeeded"})
    assert ended.status_code == 200
    await local.wait_for_phase("ending", resources.TERMINAL, timeout=30)

    assert local.ws.runner_tokens.matches("ending", token) is None
    late = await http.get("/v1/execution", headers=bearer(token))
    assert late.status_code == 409
    assert "has ended" in late.json()["error"]
    assert local.ws.runner_tokens.matches("ending", token) is None
