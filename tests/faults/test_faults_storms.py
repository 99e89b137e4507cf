"""A replay storm across restarts, and kill -9 of a runner around a listener that lives.

kill -9 of a whole workspace is not tested here: the in-memory store dies with it, so there
is nothing to restart from. What a user can lose to a kill -9 is the run, so the runner is
killed, at each point a counting flow can be at, while the listener and both stores live.
"""

from __future__ import annotations

import collections
import os
import signal
import time
from pathlib import Path

import pytest
from fault_helpers import COUNTING_SCRIPT, post, refusal, runs, signed, start_envelope
from link_harness import Identity, Linked, past_watermark, wait_until

from workspace_link.core import resources

pytestmark = pytest.mark.slow

REQUESTS = 20
RESTARTS = 3


async def test_a_replay_storm_across_restarts_creates_nothing_twice(
    b_only: Linked, identities: dict[str, Identity]
) -> None:
    captured = []
    for i in range(REQUESTS):
        body = start_envelope(identities["a"], uid=f"storm-{i}")
        headers = signed(identities["a"], body)
        assert (await post(b_only, body, headers)).status_code == 200
        captured.append((body, headers))
    for _ in range(RESTARTS):
        for execution in await b_only.stores["b"].list(resources.EXECUTION):
            await b_only.b.wait_for_phase(resources.name(execution), resources.TERMINAL)
            await b_only.stores["b"].delete(resources.EXECUTION, resources.name(execution))
        await b_only.restart("b")
        await past_watermark(b_only.b)
        for body, headers in captured:
            response = await post(b_only, body, headers)
            assert refusal(response) == (401, "signed-before-start"), response.text
        assert await b_only.stores["b"].list(resources.EXECUTION) == []
    # A fresh signature is still served after the storm.
    body = start_envelope(identities["a"], uid="after-the-storm")
    assert (await post(b_only, body, signed(identities["a"], body))).status_code == 200


LINGERING = COUNTING_SCRIPT.replace(
    '    return this.success("counted")', "    import time\n    time.sleep(600)"
)


@pytest.mark.parametrize("moment", ["before-the-script", "after-the-script"])
async def test_kill_9_of_a_runner_fails_its_execution_once_on_both_sides(
    linked: Linked, tmp_path: Path, moment: str
) -> None:
    tally = tmp_path / "tally"
    await linked.stores["a"].create(
        resources.FLOW, {"metadata": {"name": "linger"}, "spec": {"script": LINGERING}}
    )
    await linked.link()
    await linked.run("victim", "linger", remoteWorkspace="link-to-b", inputs={"tally": str(tally), "id": "v"})

    async def runner_pid() -> int | None:
        for execution in await linked.stores["b"].list(resources.EXECUTION):
            pid = linked.b.executor.pid(resources.name(execution))
            if pid and (moment == "before-the-script" or runs(tally)):
                return pid
        return None

    pid = await wait_until(linked.b, runner_pid, timeout=60)
    os.kill(pid, signal.SIGKILL)
    body = await linked.finished("victim", timeout=60)
    status = resources.status(body)
    assert (status["phase"], status["reason"]) == ("Failed", "RunnerExited"), status
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and moment == "after-the-script" and not runs(tally):
        await linked.b.ws.changes.wait(linked.b.ws.changes.counter, 0.1)
    assert set(collections.Counter(runs(tally)).values()) <= {1}
    assert len(await linked.stores["b"].list(resources.EXECUTION)) == 1
