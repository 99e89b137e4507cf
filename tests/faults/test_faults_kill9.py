"""Issue #12: ``kill -9`` of either operator at each step of an exchange, on the operator path.

Both operators of one link run on the API server emulator (``operator_pair``), each in its own
process; the emulator is the store, so it outlives an operator's death as the API server does.
Each case holds one request an operator makes for a remote execution (those listed in
``test_kopf_request_budget``: every one a write; A writes no status before the start is
sent, so its first status write is the start's ack), either before the
emulator applies it (then it is dropped: its sender is dead) or after it is applied but
before it is answered, and meanwhile ``SIGKILL``s one operator: the sender, or the other side
(which then answers, or is answered by, a dead peer). The killed operator is started again,
the runner's end is played, and what a user would notice is checked by listing the store: A's
execution Succeeded; exactly one execution, one runner Secret and one runner Job for it in B,
each created once and never rewritten or deleted; no request an operator made answered 5xx
(the dropped ones apart), nor the runner's end; and a fresh remote execution completes
afterwards.

One pair serves the whole module (a case restarts one operator, not both); every case leaves
both running and quiet for the next.

A sends the start while its label write is in flight (``workspace.Unlabelled``), so B is
killed during that write too: it may be receiving the start meanwhile.

Left out: the other side killed where it is idle (A during B's ack of Succeeded) or where
another case kills it in the same request (A during B's Secret and Job creates: the same
exchange as ``b-create`` and ``b-claim``).

B holds A's ack of its Running status in memory (docs/protocol.md §4): no write to hold there;
a B killed while Running sends that status again, once, and A applies nothing of it.

The runner API reads the runner Secret only when B has no digest of its token
(``runner_credentials.Tokens``), that is after B was restarted: every case that kills B before
the runner's end has that end's token checked against the Secret read by the new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, Literal

import operator_pair as op
import pytest
import pytest_asyncio

from workspace_link.adapters.kube import kubestore
from workspace_link.core import execution_state, job_manifest, labels, naming, resources

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

#: Seconds any one wait of a case may take before it fails naming the step.
STEP_TIMEOUT: Final = 30.0
#: Short backoff, so a dialer finds a restarted peer within a second or two.
ENV: Final = {"WL_BACKOFF_INITIAL": "0.2", "WL_BACKOFF_MAX": "2"}


@dataclasses.dataclass(frozen=True)
class Names:
    """One remote execution: its name in A, its uid, and what B names after it."""

    a: str
    uid: str

    @property
    def b(self) -> str:
        return naming.received_execution_name(op.B_CONFIG, self.uid)

    @property
    def secret(self) -> str:
        return naming.runner_secret_name(self.b)

    @property
    def job(self) -> str:
        return naming.job_name(self.b)


def _status(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("status") or {})


def _acked(part: str, version: Callable[[dict[str, Any]], int]) -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        status = _status(body)
        return int((status.get(part) or {}).get("acknowledgedVersion") or 0) >= version(status)

    return check


@dataclasses.dataclass(frozen=True)
class Step:
    """One write of an exchange: whose (``side``) and how the emulator recognises it."""

    id: str
    side: Literal["a", "b"]
    namespace: str
    method: str
    resource: str
    name: Callable[[Names], str]
    body: Callable[[dict[str, Any]], bool] | None = None
    #: Made while the runner ends the execution (armed once B shows Running).
    at_end: bool = False


def _phase(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: _status(body).get("phase") == phase


STEPS: Final = {
    step.id: step
    for step in (
        Step("a-label", "a", op.A_NAMESPACE, "PATCH", "executions", lambda n: n.a),
        Step(
            "a-start-acked",
            "a",
            op.A_NAMESPACE,
            "PUT",
            "executions/status",
            lambda n: n.a,
            _acked("link", lambda _status: 1),
        ),
        Step(
            "a-succeeded",
            "a",
            op.A_NAMESPACE,
            "PUT",
            "executions/status",
            lambda n: n.a,
            _phase(resources.SUCCEEDED),
            at_end=True,
        ),
        Step("b-create", "b", op.B_NAMESPACE, "POST", "executions", lambda n: n.b),
        Step("b-secret", "b", op.B_NAMESPACE, "POST", "secrets", lambda n: n.secret),
        Step("b-job", "b", op.B_NAMESPACE, "POST", "jobs", lambda n: n.job),
        Step(
            "b-claim",
            "b",
            op.B_NAMESPACE,
            "PUT",
            "executions/status",
            lambda n: n.b,
            _phase(resources.RUNNING),
        ),
        Step(
            "b-succeeded",
            "b",
            op.B_NAMESPACE,
            "PUT",
            "executions/status",
            lambda n: n.b,
            _phase(resources.SUCCEEDED),
            at_end=True,
        ),
        Step(
            "b-succeeded-acked",
            "b",
            op.B_NAMESPACE,
            "PUT",
            "executions/status",
            lambda n: n.b,
            lambda body: (
                _phase(resources.SUCCEEDED)(body)
                and _acked("origin", lambda status: int(status.get("version") or 1))(body)
            ),
            at_end=True,
        ),
    )
}

Where = Literal["before", "after"]
#: (step, held before or after it is applied, the operator killed meanwhile).
CASES: Final[list[tuple[str, Where, Literal["a", "b"]]]] = [
    *((step, where, STEPS[step].side) for step in STEPS for where in ("before", "after")),
    # The other side dies while the request is held: B answers a dead A...
    ("b-create", "before", "a"),
    ("b-create", "after", "a"),
    ("b-claim", "after", "a"),
    ("b-succeeded", "after", "a"),
    # ...or B dies while A writes the label of what it is sending...
    ("a-label", "before", "b"),
    ("a-label", "after", "b"),
    # ...or A records what a dead B answered.
    ("a-start-acked", "after", "b"),
    ("a-succeeded", "before", "b"),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pair() -> AsyncIterator[op.LinkedOperators]:
    async with op.LinkedOperators(env=ENV) as linked:
        yield linked
        _within_the_role(linked.emulator)


def _within_the_role(emulator: op.CountingEmulator) -> None:
    """As the kopf folder's conftest checks: nothing the chart's Role would refuse."""
    granted = {(g, r, v) for g, r, verbs in kubestore.REQUIRED_PERMISSIONS for v in verbs}
    seen = set(getattr(emulator, "seen", []))
    assert seen - granted == set(), (
        f"the operators used permissions their Role lacks: {sorted(seen - granted)}"
    )


async def _within(what: str, awaitable: Any) -> Any:
    try:
        return await asyncio.wait_for(awaitable, STEP_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"timed out after {STEP_TIMEOUT:.0f} s: {what}") from None


async def _end_as_the_runner(pair: op.LinkedOperators, names: Names, answers: list[int], case: str) -> None:
    try:
        await pair.end_in_b_retried(names.b, answers)
    except AssertionError as exc:
        raise AssertionError(f"{case}: {exc}") from None


def _phase_in(pair: op.LinkedOperators, namespace: str, name: str, phase: str) -> Callable[[], Any]:
    return lambda: pair.phase_at(namespace, name, phase)


async def _remote_execution(
    pair: op.LinkedOperators, name: str, *, hold: Callable[[Names], op.Hold | None] | None = None
) -> tuple[Names, op.Hold | None]:
    """Create ``name`` in A; ``hold`` is armed the moment the create is applied (before either
    operator can see it), with the names B will use."""
    armed: list[op.Hold | None] = []

    def on_write(write: op.Write) -> None:
        meta = write.body.get("metadata") or {}
        if (write.namespace, write.method, write.resource, meta.get("name")) == (
            op.A_NAMESPACE,
            "POST",
            "executions",
            name,
        ):
            pair.emulator.write_listeners.remove(on_write)
            armed.append(hold(Names(name, str(meta["uid"]))) if hold else None)

    pair.emulator.write_listeners.append(on_write)
    _, body = await pair.create_remote(name)
    return Names(name, resources.uid(body)), armed[0] if armed else None


def _made_or_unmade(record: op.ApiRequest) -> bool:
    """A create the emulator applied, any delete, or (Jobs, Secrets) any other applied write."""
    if record.method == "DELETE":
        return True
    applied = record.status is not None and record.status < 300
    if record.resource == "executions":
        return record.method == "POST" and applied
    return record.method != "GET" and applied


async def _store_shows_one_run(pair: op.LinkedOperators, names: Names, since: int, step: str) -> None:
    """What the store holds for ``names`` once it ended, and how each object came to be."""
    a_store, b_store = pair.kube[op.A_NAMESPACE], pair.kube[op.B_NAMESPACE]
    in_a = await a_store.get(resources.EXECUTION, names.a)
    assert resources.phase(in_a) == resources.SUCCEEDED, f"{step}: A's execution: {resources.status(in_a)}"
    in_b = [
        body
        for body in await b_store.list(resources.EXECUTION)
        if resources.labels(body).get(labels.ORIGIN_UID) == labels.value(names.uid)
    ]
    assert [resources.name(body) for body in in_b] == [names.b], f"{step}: executions in B for it: {in_b}"
    (b_body,) = in_b
    status = resources.status(b_body)
    assert (status.get("phase"), status.get("reason")) == (
        resources.SUCCEEDED,
        execution_state.DEFAULT_REASON[resources.SUCCEEDED],
    ), f"{step}: B's execution: {status}"
    jobs = [
        job
        for job in await b_store.list(kubestore.JOB)
        if job_manifest.owner_name(job, resources.EXECUTION) == names.b
    ]
    assert [resources.name(job) for job in jobs] == [names.job], f"{step}: runner Jobs in B: {jobs}"
    assert job_manifest.owner_uid(jobs[0], resources.EXECUTION) == resources.uid(b_body)
    secrets = [
        secret
        for secret in await b_store.list(resources.SECRET)
        if resources.labels(secret).get(labels.EXECUTION) == labels.value(names.b)
    ]
    assert [resources.name(s) for s in secrets] == [names.secret], f"{step}: runner Secrets in B: {secrets}"
    # A name is taken once, so the store alone cannot tell a second Job from the first: the
    # emulator's records can (a create applied twice, one deleted and made again, or a runner
    # Secret rewritten: a runner reads its token once, when it starts).
    made = [
        (r.method, r.resource, r.name)
        for r in pair.emulator.requests[since:]
        if r.namespace == op.B_NAMESPACE
        and (r.resource, r.name) in (("executions", names.b), ("jobs", names.job), ("secrets", names.secret))
        and _made_or_unmade(r)
    ]
    assert sorted(made) == sorted(
        [("POST", "executions", names.b), ("POST", "jobs", names.job), ("POST", "secrets", names.secret)]
    ), f"{step}: creates, rewrites and deletes in B: {made}"


_count = itertools.count()


@pytest.mark.parametrize(
    ("step_id", "where", "killed"), CASES, ids=[f"{s}-{w}-kill-{k}" for s, w, k in CASES]
)
async def test_kill9_at_a_step_loses_nothing_and_runs_nothing_twice(
    pair: op.LinkedOperators, step_id: str, where: Where, killed: Literal["a", "b"]
) -> None:
    step = STEPS[step_id]
    case = f"{step_id}, held {where} it is applied, {killed.upper()} killed"
    victim = pair.a if killed == "a" else pair.b
    assert victim is not None and pair.a is not None and pair.b is not None
    since = len(pair.emulator.requests)
    number = next(_count)
    runner_answers: list[int] = []

    def hold_for(names: Names) -> op.Hold:
        return pair.emulator.hold(
            op.Hold(step.namespace, step.method, step.resource, where, name=step.name(names), body=step.body)
        )

    async def kill_while_held(hold: op.Hold) -> None:
        await _within(f"{case}: the request to hold ({hold.describe()})", hold.reached.wait())
        await victim.kill()
        hold.release(drop=where == "before" and killed == step.side)
        await _within(f"{case}: {killed.upper()} to start again", victim.start())

    holds: list[op.Hold] = []
    try:
        names, hold = await _remote_execution(pair, f"kill-{number}", hold=None if step.at_end else hold_for)
        if hold is not None:
            holds.append(hold)
            await kill_while_held(hold)
        await _within(
            f"{case}: Running in B",
            pair.wait_for(_phase_in(pair, op.B_NAMESPACE, names.b, resources.RUNNING), what="Running in B"),
        )
        if step.at_end:
            holds.append(hold_for(names))
            runner = asyncio.ensure_future(_end_as_the_runner(pair, names, runner_answers, case))
            try:
                await kill_while_held(holds[-1])
                await _within(f"{case}: the runner's end to be taken", runner)
            finally:
                runner.cancel()
        else:
            await _within(f"{case}: the runner's end", _end_as_the_runner(pair, names, runner_answers, case))
        await _within(
            f"{case}: Succeeded in A",
            pair.wait_for(
                _phase_in(pair, op.A_NAMESPACE, names.a, resources.SUCCEEDED), what="Succeeded in A"
            ),
        )
        await pair.quiet(0.5)
        await _store_shows_one_run(pair, names, since, case)

        # The link is served afterwards: a fresh execution goes the whole way.
        fresh, _ = await _remote_execution(pair, f"kill-{number}-after")
        await _within(
            f"{case}: the next execution Running in B",
            pair.wait_for(_phase_in(pair, op.B_NAMESPACE, fresh.b, resources.RUNNING), what="Running in B"),
        )
        await _within(
            f"{case}: the next execution's end", _end_as_the_runner(pair, fresh, runner_answers, case)
        )
        await _within(
            f"{case}: the next execution Succeeded in A",
            pair.wait_for(_phase_in(pair, op.A_NAMESPACE, fresh.a, resources.SUCCEEDED), what="Succeeded"),
        )
        await pair.quiet(0.5)
        await _store_shows_one_run(pair, fresh, since, f"{case} (the next execution)")

        assert [h for h in holds if h.held is None] == [], f"{case}: a hold was never reached"
        failed = [
            f"{r.namespace} {r.key} {r.name}: {r.status}"
            for r in pair.emulator.requests[since:]
            if r.status is not None and r.status >= 500 and not r.dropped
        ]
        assert failed == [], f"{case}: the emulator answered 5xx: {failed}"
        assert all(status < 500 for status in runner_answers), f"{case}: the runner API: {runner_answers}"
    finally:
        # Whatever happened, the next case starts with both running and nothing held.
        for hold in holds:
            with contextlib.suppress(ValueError):
                pair.emulator.holds.remove(hold)
            hold.release()
        for process in (pair.a, pair.b):
            if not process.running:
                await process.start()
