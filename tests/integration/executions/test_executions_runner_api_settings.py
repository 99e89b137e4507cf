"""The runner API's settings endpoints over real HTTP, with real runner tokens: what a flow's
``system.setting(...)`` calls get back, and what the workspace's store holds afterwards."""

import asyncio
import base64
from typing import Any

import httpx
import pytest

from workspace_link.adapters.local import embedded
from workspace_link.core import bounds, errors, naming, resources


async def token_of(local: embedded.EmbeddedWorkspace, name: str) -> str:
    secret = await local.store.get(resources.SECRET, naming.runner_secret_name(name))
    return base64.b64decode(secret["data"]["token"]).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def settings_in_store(local: embedded.EmbeddedWorkspace) -> dict[str, dict[str, Any]]:
    """Every Setting's name -> its spec, as ``kubectl get settings -o yaml`` would show them."""
    return {resources.name(body): resources.spec(body) for body in await local.store.list(resources.SETTING)}


@pytest.fixture
async def running(local: embedded.EmbeddedWorkspace, run_flow, wait_until) -> dict[str, str]:
    """Two running executions of ``slow`` (they run until cancelled): name -> runner token."""
    names = ("exec-a", "exec-b")
    for name in names:
        await run_flow("slow", name, wait=False)

    async def started() -> bool:
        for name in names:
            body = await local.store.get(resources.EXECUTION, name)
            if "started" not in resources.status(body).get("logTail", []):
                return False
        return True

    await wait_until(started)
    return {name: await token_of(local, name) for name in names}


@pytest.fixture
async def http(local: embedded.EmbeddedWorkspace):
    async with httpx.AsyncClient(base_url=local.runner_url, timeout=30) as client:
        yield client


async def test_bad_names_and_values_are_refused_naming_the_field_and_change_nothing(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, running: dict[str, str]
) -> None:
    headers = bearer(running["exec-a"])
    saved = await http.put("/v1/settings/counter", headers=headers, json={"value": {"n": 1}})
    assert saved.status_code == 200 and saved.json()["value"] == {"n": 1}
    before = await settings_in_store(local)

    refusals: list[tuple[str, str, dict[str, Any] | bytes | None, int, str]] = [
        ("GET", "/v1/settings/tab%09inside", None, 400, "name: 'tab\\tinside' is not a setting name"),
        ("PUT", "/v1/settings/nul%00", {"value": 1}, 400, "is not a setting name"),
        ("PUT", f"/v1/settings/{'a' * 254}", {"value": 1}, 400, "name: "),
        ("POST", "/v1/settings/bell%07/append", {"value": 1}, 400, "is not a setting name"),
        ("POST", "/v1/settings/del%7F/lock", {}, 400, "is not a setting name"),
        ("PUT", "/v1/settings/counter", {}, 400, "value: is required"),
        ("PUT", "/v1/settings/counter", {"value": {"n": None}}, 400, "value: value.n is null"),
        (
            "PUT",
            "/v1/settings/counter",
            {"value": [{"deep": {"x": None}}]},
            400,
            "value: value[0].deep.x is null",
        ),
        (
            "PUT",
            "/v1/settings/counter",
            {"value": "x" * (bounds.MAX_INPUTS_BYTES + 1)},
            400,
            f"over the limit of {bounds.MAX_INPUTS_BYTES}",
        ),
        ("POST", "/v1/settings/counter/append", {"value": 2}, 400, "holds a dict, not a list"),
        ("POST", "/v1/settings/counter/append", {}, 400, "value: is required"),
        ("POST", "/v1/settings/counter/lock", {"wait": "soon"}, 400, "wait: must be a number of seconds"),
        ("POST", "/v1/settings/counter/lock", {"wait": 999}, 400, "wait: must be a number of seconds"),
        ("PUT", "/v1/settings/counter", b"{not json", 400, "body: malformed JSON"),
        ("PUT", "/v1/settings/counter", b"[1, 2]", 400, "body: must be a JSON object"),
        ("GET", "/v1/settings/nothing-here", None, 404, "name: Setting 'nothing-here' does not exist"),
    ]
    for method, path, body, status, said in refusals:
        if isinstance(body, bytes):
            answer = await http.request(
                method, path, headers={**headers, "Content-Type": "application/json"}, content=body
            )
        else:
            answer = await http.request(method, path, headers=headers, json=body)
        assert answer.status_code == status, (method, path[:40], answer.text)
        assert said in answer.json()["error"], (method, path[:40], answer.json())

    # Nothing was written by any of them: the store holds exactly what it held before.
    assert await settings_in_store(local) == before == {"counter": {"value": {"n": 1}}}


async def test_an_engine_style_name_is_kept_and_held_by_a_valid_object(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, running: dict[str, str]
) -> None:
    headers = bearer(running["exec-a"])
    put = await http.put("/v1/settings/notification_emails", headers=headers, json={"value": ["ops@x"]})
    assert put.status_code == 200, put.text
    appended = await http.post(
        "/v1/settings/notification_emails/append", headers=headers, json={"value": "dev@x"}
    )
    got = await http.get("/v1/settings/notification_emails", headers=headers)
    assert appended.json()["value"] == got.json()["value"] == ["ops@x", "dev@x"]
    assert got.json()["name"] == "notification_emails"
    # A near namesake is another setting, never the same object.
    await http.put("/v1/settings/notification-emails", headers=headers, json={"value": 0})
    stored = await settings_in_store(local)
    (engine_object,) = [name for name in stored if name != "notification-emails"]
    assert engine_object.startswith("notification-emails-")
    assert stored[engine_object] == {"name": "notification_emails", "value": ["ops@x", "dev@x"]}
    assert stored["notification-emails"] == {"value": 0}
    spaced = await http.put("/v1/settings/Mail%20list%3F", headers=headers, json={"value": 1})
    assert spaced.json()["name"] == "Mail list?"


async def test_a_token_of_an_execution_that_ended_is_refused(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, running: dict[str, str], wait_until
) -> None:
    token = running["exec-a"]
    assert (await http.put("/v1/settings/kept", headers=bearer(token), json={"value": 1})).status_code == 200
    ended = await http.post("/v1/end", headers=bearer(token), json={"phase": "Succeeded"})
    assert ended.status_code == 200

    async def terminal() -> bool:
        return resources.is_terminal(await local.store.get(resources.EXECUTION, "exec-a"))

    await wait_until(terminal)
    calls = [
        ("GET", "/v1/settings/kept", None),
        ("PUT", "/v1/settings/kept", {"value": 2}),
        ("POST", "/v1/settings/kept/append", {"value": 2}),
        ("POST", "/v1/settings/kept/lock", {}),
        ("POST", "/v1/settings/kept/unlock", None),
    ]
    for method, path, body in calls:
        answer = await http.request(method, path, headers=bearer(token), json=body)
        # While its runner Secret still exists the token is known but closed (409); once the
        # Secret is cleaned up it opens no door at all (403). Either way: refused, and said why.
        assert (answer.status_code, answer.json()["error"]) in {
            (409, "execution 'exec-a' has ended: its runner token is no longer valid"),
            (403, "Authorization: the token is not valid for any execution"),
        }, (method, path, answer.text)
    assert await settings_in_store(local) == {"kept": {"value": 1}}


async def test_two_raw_requests_racing_for_one_lock_only_one_wins(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, running: dict[str, str]
) -> None:
    # Several rounds, each on a fresh setting (created by the lock request itself), so the
    # race is at the create as well as at the update.
    for round_ in range(5):
        path = f"/v1/settings/race-{round_}/lock"
        answers = await asyncio.gather(
            *(http.post(path, headers=bearer(token), json={"wait": 0}) for token in running.values())
        )
        assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
        results = {name: answer.json() for name, answer in zip(running, answers, strict=True)}
        winners = [name for name, result in results.items() if result["acquired"]]
        assert len(winners) == 1, results
        (winner,) = winners
        # Both were told who holds it, and the store says the same.
        assert {result["holder"] for result in results.values()} == {winner}
        body = await local.store.get(resources.SETTING, f"race-{round_}")
        assert resources.spec(body)["lock"]["holder"] == winner

    # Racing on an existing, unlocked setting too.
    await http.put("/v1/settings/shared", headers=bearer(running["exec-a"]), json={"value": [1]})
    answers = await asyncio.gather(
        *(http.post("/v1/settings/shared/lock", headers=bearer(t), json={}) for t in running.values())
    )
    assert sorted(answer.json()["acquired"] for answer in answers) == [False, True]
    spec = resources.spec(await local.store.get(resources.SETTING, "shared"))
    assert spec["value"] == [1] and spec["lock"]["holder"] in running


async def test_a_release_by_an_execution_that_does_not_hold_the_lock_is_refused(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, running: dict[str, str]
) -> None:
    a, b = bearer(running["exec-a"]), bearer(running["exec-b"])
    nobody = await http.post("/v1/settings/door/unlock", headers=a)
    assert nobody.status_code == 400
    assert nobody.json()["error"] == "lock: Setting 'door' is locked by no execution, not by this one"

    assert (await http.post("/v1/settings/door/lock", headers=a, json={})).json()["acquired"] is True
    stolen = await http.post("/v1/settings/door/unlock", headers=b)
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "lock: Setting 'door' is locked by execution exec-a, not by this one"
    assert resources.spec(await local.store.get(resources.SETTING, "door"))["lock"]["holder"] == "exec-a"

    # The holder may release it; then it is free for the other.
    assert (await http.post("/v1/settings/door/unlock", headers=a)).status_code == 200
    assert "lock" not in resources.spec(await local.store.get(resources.SETTING, "door"))
    assert (await http.post("/v1/settings/door/lock", headers=b, json={})).json() == {
        "acquired": True,
        "holder": "exec-b",
    }


async def test_a_lock_whose_holder_ended_is_free(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, running: dict[str, str], wait_until
) -> None:
    a, b = bearer(running["exec-a"]), bearer(running["exec-b"])
    assert (await http.post("/v1/settings/stale/lock", headers=a, json={})).json()["acquired"] is True
    held = await http.post("/v1/settings/stale/lock", headers=b, json={"wait": 0})
    assert held.json() == {"acquired": False, "holder": "exec-a"}

    # exec-b waits for the lock while exec-a, still holding it, is cancelled: the holder's end
    # frees the lock (nobody released it) and the waiting request gets it.
    waiting = asyncio.ensure_future(http.post("/v1/settings/stale/lock", headers=b, json={"wait": 15}))
    await local.store.patch(resources.EXECUTION, "exec-a", {"spec": {"cancel": True}})

    async def cancelled() -> bool:
        return resources.phase(await local.store.get(resources.EXECUTION, "exec-a")) == resources.CANCELLED

    await wait_until(cancelled)
    answer = await asyncio.wait_for(waiting, 20)
    assert answer.json() == {"acquired": True, "holder": "exec-b"}
    assert resources.spec(await local.store.get(resources.SETTING, "stale"))["lock"]["holder"] == "exec-b"


async def test_a_lock_whose_holder_was_deleted_is_free(
    local: embedded.EmbeddedWorkspace, http: httpx.AsyncClient, running: dict[str, str], wait_until
) -> None:
    b = bearer(running["exec-b"])
    # A holder that no longer exists at all (deleted behind the operator's back).
    await local.store.create(
        resources.SETTING, {"metadata": {"name": "orphan"}, "spec": {"lock": {"holder": "gone-long-ago"}}}
    )
    with pytest.raises(errors.NotFound):
        await local.store.get(resources.EXECUTION, "gone-long-ago")
    answer = await http.post("/v1/settings/orphan/lock", headers=b, json={"wait": 0})
    assert answer.json() == {"acquired": True, "holder": "exec-b"}
