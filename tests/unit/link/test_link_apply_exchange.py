"""Both ends of an exchange over in-memory stores, without HTTP: what a message does, once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from workspace_link.adapters.local import memstore
from workspace_link.core import errors, keys, labels, link_config, naming, protocol, resources, wire
from workspace_link.engine import exchange, workspace


class IdleExecutor:
    """Nothing runs in these tests: they are about messages, not runs."""

    async def start(self, execution: resources.Body, *, secret_name: str, resume: bool = False) -> str:
        return resources.name(execution)

    async def cancel(self, execution: resources.Body) -> None:
        return None

    async def cleanup(self, execution: resources.Body) -> None:
        return None


class Direct:
    """A client that hands the request straight to the listener's ``exchange.handle``."""

    def __init__(
        self, ws: workspace.Workspace, config: link_config.LinkConfig, keys: link_config.LinkKeys
    ) -> None:
        self.ws, self.config, self.keys = ws, config, keys
        self.requests: list[protocol.Envelope] = []
        self.drop_response = False

    async def exchange(self, envelope: protocol.Envelope, *, max_seconds: float) -> protocol.Envelope:
        self.requests.append(envelope)
        decoded = wire.decode(wire.encode(envelope))
        exchange.check_role(self.config, decoded.sender)
        response = await exchange.handle(self.ws, config=self.config, keys=self.keys, envelope=decoded)
        if self.drop_response:
            raise errors.PeerUnreachable("response lost")
        return wire.decode(wire.encode(response))


@pytest.fixture(scope="module")
def key_pair() -> tuple[link_config.LinkKeys, link_config.LinkKeys]:
    a = keys.generate_private_key(2048)
    b = keys.generate_private_key(2048)
    a_keys = link_config.LinkKeys(
        a, keys.key_id(a.public_key()), {keys.key_id(b.public_key()): b.public_key()}, None
    )
    b_keys = link_config.LinkKeys(
        b, keys.key_id(b.public_key()), {keys.key_id(a.public_key()): a.public_key()}, None
    )
    return a_keys, b_keys


def make_config(
    name: str, *, dialer: bool, send_all: bool = False, role: str | None = None
) -> link_config.LinkConfig:
    spec: dict[str, Any] = {
        "ownPrivateKey": {"secretName": "own"},
        "remotePublicKey": {"secretName": "peer"},
        "sendAllExecutions": send_all,
    }
    if dialer:
        spec["remoteUrl"] = "https://peer.example/api/latest/sync_config/x/sync"
    if role:
        spec["role"] = role
    return link_config.parse({"metadata": {"name": name, "generation": 1}, "spec": spec})


class Pair:
    def __init__(
        self, key_pair: tuple[link_config.LinkKeys, link_config.LinkKeys], *, send_all: bool = False
    ) -> None:
        self.a = workspace.Workspace("ws-a", memstore.MemStore("ws-a"), IdleExecutor())
        self.b = workspace.Workspace("ws-b", memstore.MemStore("ws-b"), IdleExecutor())
        self.a_config = make_config("to-b", dialer=True, send_all=send_all)
        self.b_config = make_config("from-a", dialer=False)
        self.a_keys, self.b_keys = key_pair
        self.client = Direct(self.b, self.b_config, self.b_keys)
        self.state = exchange.DialerState()

    async def once(self, hold: float = 0.0, send_messages: bool = True) -> exchange.ExchangeResult:
        return await exchange.once(
            self.a,
            config=self.a_config,
            keys=self.a_keys,
            client=self.client,
            hold=hold,
            state=self.state,
            send_messages=send_messages,
        )

    async def remote_execution(self, name: str = "parent-1") -> resources.Body:
        await self.a.store.create("Flow", {"metadata": {"name": "hello"}, "spec": {"script": "SCRIPT"}})
        created = await self.a.store.create(
            "Execution",
            {
                # As lifecycle leaves a remote execution: labelled with its link.
                "metadata": {"name": name, "labels": {labels.REMOTE_LINK: "to-b"}},
                "spec": {"flow": "hello", "inputs": {"x": 1}, "remoteWorkspace": "to-b"},
            },
        )
        status = {"phase": "Pending", "link": {"name": "to-b", "localVersion": 1, "acknowledgedVersion": 0}}
        return await self.a.store.replace_status("Execution", {**created, "status": status})

    async def received(self, origin: resources.Body) -> resources.Body:
        return await self.b.store.get(
            "Execution", naming.received_execution_name("from-a", resources.uid(origin))
        )


async def test_start_creates_the_execution_with_its_script_once(key_pair: Any) -> None:
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    result = await pair.once()
    assert result.sent == 1 and result.applied_acks == 1
    received = await pair.received(origin)
    assert received["spec"]["script"] == "SCRIPT" and received["spec"]["inputs"] == {"x": 1}
    assert received["status"]["origin"]["uid"] == resources.uid(origin)
    assert received["status"]["origin"]["workspace"] == "ws-a"
    assert resources.labels(received)[labels.ORIGIN_UID] == resources.uid(origin)
    assert await pair.b.store.list("Flow") == []
    link = (await pair.a.store.get("Execution", "parent-1"))["status"]["link"]
    assert link["acknowledgedVersion"] == 1

    # The same start again (a lost response) is a duplicate: still one execution, acked.
    pair.client.drop_response = True
    await pair.a.store.replace_status(
        "Execution", {**(await pair.a.store.get("Execution", "parent-1")), "status": origin["status"]}
    )
    with pytest.raises(errors.PeerUnreachable):
        await pair.once()
    pair.client.drop_response = False
    await pair.once()
    assert len(await pair.b.store.list("Execution")) == 1


async def test_a_start_sent_before_any_status_write_is_acknowledged_into_a_whole_link_status(
    key_pair: Any,
) -> None:
    pair = Pair(key_pair)
    await pair.a.store.create("Flow", {"metadata": {"name": "hello"}, "spec": {"script": "SCRIPT"}})
    # As reconcile leaves it now: labelled, no status at all.
    origin = await pair.a.store.create(
        "Execution",
        {
            "metadata": {"name": "fresh", "labels": {labels.REMOTE_LINK: "to-b"}},
            "spec": {"flow": "hello", "inputs": {}, "remoteWorkspace": "to-b"},
        },
    )
    result = await pair.once()
    assert result.sent == 1
    assert (await pair.received(origin))["spec"]["script"] == "SCRIPT"
    link = (await pair.a.store.get("Execution", "fresh"))["status"]["link"]
    assert link["name"] == "to-b" and link["localVersion"] == 1 and link["acknowledgedVersion"] == 1
    assert (await pair.once()).sent == 0  # acknowledged: never sent again
    assert len(await pair.b.store.list("Execution")) == 1


async def test_status_flows_back_newer_only_and_is_acknowledged(key_pair: Any) -> None:
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    await pair.once()
    received = await pair.received(origin)
    status = {
        **received["status"],
        "phase": "Succeeded",
        "outputs": {"v": 42},
        "version": 3,
        "reason": "Completed",
    }
    await pair.b.store.replace_status("Execution", {**received, "status": status})
    result = await pair.once()
    assert result.received == 1
    local = await pair.a.store.get("Execution", "parent-1")
    assert local["status"]["phase"] == "Succeeded" and local["status"]["outputs"] == {"v": 42}
    assert local["status"]["link"]["remoteVersion"] == 3
    assert local["status"]["link"]["remoteName"] == resources.name(received)
    # The ack travels with the next request; then B has nothing more to send.
    await pair.once()
    assert (await pair.received(origin))["status"]["origin"]["acknowledgedVersion"] == 3
    assert (await pair.once()).received == 0


async def test_a_terminal_local_phase_is_final(key_pair: Any) -> None:
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    await pair.once()
    local = await pair.a.store.get("Execution", "parent-1")
    await pair.a.store.replace_status(
        "Execution", {**local, "status": {**local["status"], "phase": "Failed", "reason": "PeerLost"}}
    )
    received = await pair.received(origin)
    await pair.b.store.replace_status(
        "Execution", {**received, "status": {**received["status"], "phase": "Succeeded", "version": 4}}
    )
    await pair.once()
    local = await pair.a.store.get("Execution", "parent-1")
    assert local["status"]["phase"] == "Failed" and local["status"]["link"]["remoteVersion"] == 4


async def test_a_name_owned_by_something_else_is_refused_and_not_acked(key_pair: Any) -> None:
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    squatter = naming.received_execution_name("from-a", resources.uid(origin))
    await pair.b.store.create("Execution", {"metadata": {"name": squatter}, "spec": {"script": "mine"}})
    await pair.b.store.create("SyncConfig", {"metadata": {"name": "from-a"}, "spec": {}})
    result = await pair.once()
    assert result.applied_acks == 0
    assert (await pair.b.store.get("Execution", squatter))["spec"]["script"] == "mine"
    assert any(e["reason"] == "MessageRefused" for e in pair.b.store.events)  # type: ignore[attr-defined]


async def test_cancel_reaches_the_received_execution_and_a_lone_cancel_blocks_a_late_start(
    key_pair: Any,
) -> None:
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    await pair.once()
    local = await pair.a.store.get("Execution", "parent-1")
    local["status"]["link"]["localVersion"] = 2
    await pair.a.store.replace_status("Execution", local)
    assert (await pair.once()).applied_acks == 1
    assert (await pair.received(origin))["spec"]["cancel"] is True

    # A cancel that arrives before its start leaves a cancelled execution; the start is then a duplicate.
    cancel = protocol.make_message(protocol.Cancel(origin_uid="early-uid", version=2))
    start = protocol.make_message(
        protocol.Start(origin_uid="early-uid", origin_name="early", script="S", inputs={}, version=1)
    )
    for message in (cancel, start):
        envelope = protocol.Envelope(
            sender=exchange.sender(pair.a, pair.a_config, pair.a_keys), messages=(message,)
        )
        response = await exchange.handle(pair.b, config=pair.b_config, keys=pair.b_keys, envelope=envelope)
        assert [a.kind for a in response.acks] == [message.kind]
    early = await pair.b.store.get("Execution", naming.received_execution_name("from-a", "early-uid"))
    assert early["spec"]["cancel"] is True and early["spec"]["script"].startswith("#")


async def test_mirrors_follow_changes_and_are_acknowledged(key_pair: Any) -> None:
    pair = Pair(key_pair, send_all=True)
    past = await pair.a.store.create("Execution", {"metadata": {"name": "past"}, "spec": {"flow": "hello"}})
    past = await pair.a.store.replace_status(
        "Execution", {**past, "status": {"phase": "Succeeded", "version": 2}}
    )
    await pair.once()
    name = naming.mirror_execution_name("from-a", resources.uid(past))
    mirror = await pair.b.store.get("Execution", name)
    assert mirror["spec"]["mirror"]["originName"] == "past" and mirror["status"]["phase"] == "Succeeded"
    assert (await pair.a.store.get("Execution", "past"))["status"]["mirrors"] == {"to-b": 2}
    assert (await pair.once()).sent == 0
    past = await pair.a.store.get("Execution", "past")
    await pair.a.store.replace_status(
        "Execution", {**past, "status": {**past["status"], "message": "x", "version": 3}}
    )
    await pair.once()
    assert (await pair.b.store.get("Execution", name))["status"]["message"] == "x"
    # A mirror is not mirrored back, and nothing in B is sent as a status for it.
    assert await exchange.read_outbox(pair.b, pair.b_config) == []


async def test_the_listener_holds_until_its_store_changes(key_pair: Any) -> None:
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    await pair.once()
    poll = asyncio.create_task(pair.once(hold=20, send_messages=False))
    while len(pair.client.requests) < 2:
        await asyncio.sleep(0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not poll.done()
    received = await pair.received(origin)
    # Claimed (Running, version 2) on receipt and already reported: the next change is newer.
    version = int(received["status"]["version"]) + 1
    await pair.b.store.replace_status(
        "Execution",
        {
            **received,
            "status": {**received["status"], "phase": "Running", "message": "busy", "version": version},
        },
    )
    pair.b.changes.notify()
    result = await poll
    assert result.received == 1
    assert (await pair.a.store.get("Execution", "parent-1"))["status"]["phase"] == "Running"


async def test_both_sides_controlling_is_a_role_mismatch(key_pair: Any) -> None:
    pair = Pair(key_pair)
    pair.client.config = make_config("from-a", dialer=False, role="Controlling")
    with pytest.raises(errors.RoleMismatch) as caught:
        await pair.once()
    assert caught.value.status == 409 and "Controlling" in str(caught.value)


class GatedStore(memstore.MemStore):
    """B's store, holding each create of an Execution until ``wanted`` are in flight at once
    (or 2 s passed): applied one after the other, at most one ever is."""

    def __init__(self, namespace: str, wanted: int) -> None:
        super().__init__(namespace)
        self.wanted, self.in_flight, self.peak = wanted, 0, 0
        self.full = asyncio.Event()

    async def create(self, kind: str, body: resources.Body) -> resources.Body:
        if kind == resources.EXECUTION:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.in_flight >= self.wanted:
                self.full.set()
            try:
                await asyncio.wait_for(self.full.wait(), 2.0)
            except TimeoutError:
                pass
            finally:
                self.in_flight -= 1
        return await super().create(kind, body)


async def test_the_starts_of_one_batch_are_applied_side_by_side(key_pair: Any) -> None:
    # On the API server every create is a round trip: a batch applied one message at a time
    # was what held a burst back (issue #11).
    pair = Pair(key_pair)
    gated = GatedStore("ws-b", wanted=5)
    pair.b = workspace.Workspace("ws-b", gated, IdleExecutor())
    pair.client = Direct(pair.b, pair.b_config, pair.b_keys)
    origins = [await pair.remote_execution()]
    for i in range(1, 5):  # the Flow exists now: the others are copies of the first
        meta = {"name": f"copy-{i}", "labels": {labels.REMOTE_LINK: "to-b"}}
        created = await pair.a.store.create("Execution", {"metadata": meta, "spec": origins[0]["spec"]})
        origins.append(
            await pair.a.store.replace_status("Execution", {**created, "status": origins[0]["status"]})
        )
    result = await pair.once()
    assert result.sent == 5 and result.applied_acks == 5
    assert gated.peak == 5
    assert len(await pair.b.store.list(resources.EXECUTION)) == 5
    for origin in origins:
        assert (await pair.received(origin))["status"]["origin"]["uid"] == resources.uid(origin)


async def test_a_live_status_ack_is_held_in_memory_and_a_restart_costs_one_resend(key_pair: Any) -> None:
    """docs/protocol.md §4: B writes no ack of a Running status; restarted, it sends it once more
    and A, which has that version already, applies nothing."""
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    await pair.once()  # the start; B's answer carries its claim: Running, version 2
    received = await pair.received(origin)
    logged = {**received["status"], "version": 3, "logTail": ["started"]}
    await pair.b.store.replace_status("Execution", {**received, "status": logged})
    assert (await pair.once()).received == 1  # carries A's ack of version 2, brings version 3
    await pair.once()  # carries A's ack of version 3
    written = await pair.received(origin)

    assert written["status"]["phase"] == "Running"
    assert written["status"]["origin"]["acknowledgedVersion"] == 0  # nothing written for either
    assert pair.b.held_acks.of("from-a") == {resources.uid(origin): 3}
    assert (await pair.once()).received == 0

    # A new process: nothing held. The status goes out once; A has it, applies nothing, acks.
    pair.b.held_acks = workspace.HeldAcks()
    a_before = await pair.a.store.get("Execution", "parent-1")
    assert (await pair.once()).received == 1
    a_after = await pair.a.store.get("Execution", "parent-1")
    assert a_after["status"] == a_before["status"]
    await pair.once()
    assert (await pair.once()).received == 0
    # The resend wrote nothing in B either.
    assert (await pair.received(origin))["metadata"] == written["metadata"]


async def test_an_ack_of_a_final_status_is_written_and_nothing_is_held(key_pair: Any) -> None:
    pair = Pair(key_pair)
    origin = await pair.remote_execution()
    await pair.once()  # the start; B's answer carries its claim: Running, version 2
    await pair.once()  # A's ack of version 2: held
    received = await pair.received(origin)
    done = {**received["status"], "phase": "Succeeded", "version": 3}
    await pair.b.store.replace_status("Execution", {**received, "status": done})
    await pair.once()
    await pair.once()

    assert (await pair.received(origin))["status"]["origin"]["acknowledgedVersion"] == 3
    assert len(pair.b.held_acks) == 0
    pair.b.held_acks = workspace.HeldAcks()  # a restart resends nothing of a finished execution
    assert (await pair.once()).received == 0
