"""The runner API over real HTTP: a token opens one execution's door and no other."""

import base64

import httpx
import pytest

from workspace_link.adapters.local import embedded
from workspace_link.core import bounds, errors, naming, resources


async def token_of(local: embedded.EmbeddedWorkspace, name: str) -> str:
    secret = await local.store.get(resources.SECRET, naming.runner_secret_name(name))
    return base64.b64decode(secret["data"]["token"]).decode()


@pytest.fixture
async def two_running(local: embedded.EmbeddedWorkspace, run_flow, wait_until) -> tuple[str, str]:
    for name in ("exec-a", "exec-b"):
        await run_flow("slow", name, wait=False)

    async def both_started() -> bool:
        for name in ("exec-a", "exec-b"):
            body = await local.store.get(resources.EXECUTION, name)
            if "started" not in resources.status(body).get("logTail", []):
                return False
        return True

    await wait_until(both_started)
    return await token_of(local, "exec-a"), await token_of(local, "exec-b")


@pytest.fixture
async def http(local: embedded.EmbeddedWorkspace):
    async with httpx.AsyncClient(base_url=local.runner_url, timeout=10) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_reads_its_own_execution(http: httpx.AsyncClient, two_running) -> None:
    token_a, _ = two_running
    answer = await http.get("/v1/execution", headers=bearer(token_a))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["name"], body["workspace"], body["flow"]) == ("exec-a", "ns-a", "slow")
    assert "def handler" in body["script"]


async def test_a_request_without_a_token_is_refused_401(http: httpx.AsyncClient, two_running) -> None:
    answer = await http.get("/v1/execution")
    assert answer.status_code == 401
    assert "bearer token is required" in answer.json()["error"]
    malformed = await http.get("/v1/execution", headers=bearer("no-dot-here"))
    assert malformed.status_code == 401


async def test_a_token_for_one_execution_is_refused_for_another_403(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, two_running
) -> None:
    token_a, _ = two_running
    random_a = token_a.rpartition(".")[2]
    answer = await http.post("/v1/log", headers=bearer(f"exec-b.{random_a}"), json={"lines": ["forged"]})
    assert answer.status_code == 403
    assert "forged" not in resources.status(await local.store.get(resources.EXECUTION, "exec-b")).get(
        "logTail", []
    )
    assert random_a not in answer.text

    # exec-b is not a child of exec-a: a runner may only look at and cancel its own children.
    peek = await http.get("/v1/children/exec-b", headers=bearer(token_a))
    assert peek.status_code == 403
    assert "not a child of this execution" in peek.json()["error"]
    cancel = await http.post("/v1/children/exec-b/cancel", headers=bearer(token_a))
    assert cancel.status_code == 403
    assert not resources.spec(await local.store.get(resources.EXECUTION, "exec-b")).get("cancel")


async def test_bad_bodies_are_refused_naming_the_field(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, two_running
) -> None:
    token_a, _ = two_running
    headers = {**bearer(token_a), "Content-Type": "application/json"}
    malformed = await http.post("/v1/log", headers=headers, content=b"{not json")
    assert (malformed.status_code, malformed.json()["error"]) == (400, "body: malformed JSON")
    lines = await http.post("/v1/log", headers=headers, json={"lines": "one"})
    assert lines.status_code == 400 and lines.json()["error"].startswith("lines:")
    too_big = await http.post(
        "/v1/outputs", headers=headers, json={"outputs": {"x": "y" * (bounds.MAX_OUTPUTS_BYTES + 1)}}
    )
    assert too_big.status_code == 413 and too_big.json()["error"].startswith("outputs:")
    phase = await http.post("/v1/end", headers=headers, json={"phase": "Running"})
    assert phase.status_code == 400 and phase.json()["error"].startswith("phase:")
    wait = await http.get("/v1/children/x?wait=999", headers=headers)
    assert wait.status_code == 400 and wait.json()["error"].startswith("wait:")
    huge = await http.post("/v1/log", headers=headers, content=b'{"lines": ["' + b"x" * 2_000_000 + b'"]}')
    assert huge.status_code == 413 and huge.json()["error"].startswith("body:")
    status = resources.status(await local.store.get(resources.EXECUTION, "exec-a"))
    assert status["phase"] == "Running" and not status.get("outputs")


@pytest.mark.parametrize(
    ("failure", "status", "said"),
    [
        (errors.StoreUnavailable("the API server failed to get Execution 'exec-a' (HTTP 503)"), 503, "retry"),
        (errors.StoreRefused('User "system:serviceaccount:ns:op" cannot get it'), 500, "operator's log"),
    ],
)
async def test_a_store_failure_is_a_json_answer_the_runner_can_act_on(
    local: embedded.EmbeddedWorkspace,
    http: httpx.AsyncClient,
    two_running,
    monkeypatch: pytest.MonkeyPatch,
    failure: errors.StoreError,
    status: int,
    said: str,
) -> None:
    """Unavailable: 503, which the runner's client retries. Refused: 500, without the cluster's details."""
    token_a, _ = two_running
    # The store the runner API reads through (the watch-fed cache over the memstore): the
    # failure is what the API server would answer to a read the cache cannot serve.
    real_get = local.ws.store.get

    async def failing_get(kind: str, name: str) -> resources.Body:
        if kind == resources.EXECUTION and name == "exec-a":
            raise failure
        return await real_get(kind, name)

    monkeypatch.setattr(local.ws.store, "get", failing_get)
    answer = await http.get("/v1/execution", headers=bearer(token_a))

    assert answer.status_code == status
    assert said in answer.json()["error"]
    assert "serviceaccount" not in answer.text
