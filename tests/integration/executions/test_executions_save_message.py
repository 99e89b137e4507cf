"""``this.save(message=...)`` is the execution's status message at once: what a flow author
reads in ``kubectl get executions -o wide`` (the Message column) and a waiting parent reads in
``child.get('message')`` while the flow runs, and the message it ends with unless its end
gives one."""

import base64

import httpx

from workspace_link.adapters.local import embedded
from workspace_link.core import labels, naming, resources


async def test_the_saved_message_shows_while_the_flow_runs_and_is_the_one_it_ends_with(
    local: embedded.EmbeddedWorkspace, run_flow, wait_until
) -> None:
    await run_flow("message_while_running", "talker", wait=False)

    async def child_of_talker() -> resources.Body | None:
        children = await local.store.list(resources.EXECUTION, labels={labels.PARENT: "talker"})
        return children[0] if children else None

    async def says_what_it_waits_for() -> bool:
        body = await local.store.get(resources.EXECUTION, "talker")
        status = resources.status(body)
        return (
            status.get("phase") == resources.RUNNING and status.get("message") == "waiting for the slow child"
        )

    await wait_until(says_what_it_waits_for)
    await wait_until(child_of_talker)
    # Still running (its child runs until cancelled): the message is there before any end.
    assert resources.phase(await local.store.get(resources.EXECUTION, "talker")) == resources.RUNNING

    child = await child_of_talker()
    assert child is not None
    await local.store.patch(resources.EXECUTION, resources.name(child), {"spec": {"cancel": True}})
    final = await local.wait_for_phase("talker", resources.TERMINAL, timeout=30)
    status = resources.status(final)
    assert status["phase"] == resources.SUCCEEDED
    # It ended without a message of its own: the last one it saved is the end's.
    assert status["message"] == "the child ended ENDED_CANCELLED"
    assert status["outputs"] == {"child": "ENDED_CANCELLED"}


async def test_a_message_alone_is_saved_and_a_bad_one_is_refused_naming_the_field(
    local: embedded.EmbeddedWorkspace, run_flow, wait_until
) -> None:
    await run_flow("slow", "quiet", wait=False)

    async def started() -> bool:
        body = await local.store.get(resources.EXECUTION, "quiet")
        return "started" in resources.status(body).get("logTail", [])

    await wait_until(started)
    secret = await local.store.get(resources.SECRET, naming.runner_secret_name("quiet"))
    headers = {"Authorization": f"Bearer {base64.b64decode(secret['data']['token']).decode()}"}
    async with httpx.AsyncClient(base_url=local.runner_url, timeout=10) as http:
        first = await http.post("/v1/outputs", headers=headers, json={"outputs": {"kept": 1}})
        assert first.status_code == 200
        alone = await http.post("/v1/outputs", headers=headers, json={"message": "half way"})
        assert (alone.status_code, alone.json()) == (200, {"outputs": {"kept": 1}})
        bad = await http.post("/v1/outputs", headers=headers, json={"message": 42})
        assert (bad.status_code, bad.json()["error"]) == (400, "message: must be a string")
    status = resources.status(await local.store.get(resources.EXECUTION, "quiet"))
    assert (status["phase"], status["message"], status["outputs"]) == (
        resources.RUNNING,
        "half way",
        {"kept": 1},
    )
