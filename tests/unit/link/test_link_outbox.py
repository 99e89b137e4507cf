"""The outbox is derived from the resources: what the peer has not acknowledged goes out."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workspace_link.core import labels, outbox, protocol, resources


def execution(name: str, *, created: str = "2024-01-01T00:00:00Z", **parts: Any) -> resources.Body:
    body: resources.Body = {
        "metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": created, "labels": {}},
        "spec": parts.pop("spec", {"flow": "hello", "inputs": {"n": 1}}),
        "status": parts.pop("status", {}),
    }
    body["metadata"]["labels"].update(parts.pop("labels", {}))
    assert not parts
    return body


FLOWS = {"hello": "def handler(system, this): pass"}


def controlling(executions: list[resources.Body], *, send_all: bool = False, limit: int = 100) -> list[Any]:
    return outbox.select(
        link="to-b", role="Controlling", send_all=send_all, executions=executions, flows=FLOWS, limit=limit
    )


def test_start_carries_the_flows_script_until_acknowledged() -> None:
    sent = execution("p", status={"link": {"name": "to-b", "localVersion": 1, "acknowledgedVersion": 0}})
    [message] = controlling([sent])
    assert message.kind == "start" and message.id == "start:uid-p:1"
    assert isinstance(message.payload, protocol.Start)
    assert message.payload.script == FLOWS["hello"] and message.payload.inputs == {"n": 1}
    sent["status"]["link"]["acknowledgedVersion"] = 1
    assert controlling([sent]) == []


def test_a_remote_execution_with_no_link_status_yet_sends_its_start() -> None:
    # What reconcile leaves: labelled for the link, nothing written to status before sending.
    fresh = execution("p", spec={"flow": "hello", "inputs": {}, "remoteWorkspace": "to-b"})
    [message] = controlling([fresh])
    assert message.kind == "start" and message.id == "start:uid-p:1"
    other = execution("q", spec={"flow": "hello", "remoteWorkspace": "to-c"})
    mirror = execution("m", spec={"flow": "hello", "remoteWorkspace": "to-b", "mirror": True})
    assert controlling([other, mirror]) == []


def test_cancel_follows_an_acknowledged_start_and_travels_with_an_unacknowledged_one() -> None:
    acked = execution("p", status={"link": {"name": "to-b", "localVersion": 2, "acknowledgedVersion": 1}})
    assert [m.kind for m in controlling([acked])] == ["cancel"]
    unacked = execution("q", status={"link": {"name": "to-b", "localVersion": 2, "acknowledgedVersion": 0}})
    assert [m.kind for m in controlling([unacked])] == ["start", "cancel"]


def test_other_links_and_missing_flows_send_nothing() -> None:
    other = execution("p", status={"link": {"name": "to-c", "localVersion": 1}})
    gone = execution("q", spec={"flow": "gone"}, status={"link": {"name": "to-b", "localVersion": 1}})
    assert controlling([other, gone]) == []


def test_mirrors_only_with_send_all_and_never_of_received_or_mirrored_executions() -> None:
    local = execution("local", status={"phase": "Succeeded", "version": 3})
    received = execution(
        "received",
        spec={"script": "x"},
        status={"version": 2, "origin": {"link": "to-b", "uid": "u"}},
        labels={labels.ORIGIN_LINK: "to-b"},
    )
    mirror = execution("mirror", spec={"mirror": {"link": "x"}}, status={"version": 5})
    sent = execution(
        "sent", status={"version": 4, "link": {"name": "to-b", "localVersion": 1, "acknowledgedVersion": 1}}
    )
    assert controlling([local, received, mirror, sent]) == []
    [message] = controlling([local, received, mirror, sent], send_all=True)
    assert message.kind == "mirror" and message.id == "mirror:uid-local:3"
    assert isinstance(message.payload, protocol.Mirror) and message.payload.script is None
    local["status"]["mirrors"] = {"to-b": 3}
    assert controlling([local], send_all=True) == []
    local["status"]["version"] = 4
    assert [m.id for m in controlling([local], send_all=True)] == ["mirror:uid-local:4"]


def test_controlled_side_reports_status_of_what_arrived_over_this_link() -> None:
    received = execution(
        "wl-x",
        spec={"script": "x"},
        status={
            "phase": "Running",
            "version": 2,
            "logTail": ["hi"],
            "origin": {"link": "to-a", "uid": "origin-1", "acknowledgedVersion": 1},
        },
    )
    local = execution("local", status={"version": 9})
    [message] = outbox.select(
        link="to-a", role="Controlled", send_all=True, executions=[local, received], flows={}, limit=10
    )
    assert message.id == "status:origin-1:2"
    assert isinstance(message.payload, protocol.Status)
    assert message.payload.remote_name == "wl-x" and message.payload.log_tail == ("hi",)


def test_oldest_first_bounded_by_count_and_size() -> None:
    bodies = [
        execution(
            f"e{i}",
            created=f"2024-01-01T00:00:{59 - i:02d}Z",
            status={"link": {"name": "to-b", "localVersion": 1}},
        )
        for i in range(5)
    ]
    assert [m.payload.origin_name for m in controlling(bodies, limit=3)] == ["e4", "e3", "e2"]
    small = outbox.select(
        link="to-b",
        role="Controlling",
        send_all=False,
        executions=bodies,
        flows=FLOWS,
        limit=10,
        max_bytes=10,
    )
    assert len(small) == 1  # one message always moves, even over the size budget


def test_an_ack_held_in_memory_keeps_a_live_status_from_going_out_again() -> None:
    received = execution(
        "wl-x",
        spec={"script": "x"},
        status={"phase": "Running", "version": 2, "origin": {"link": "to-a", "uid": "origin-1"}},
    )

    def select(held: dict[str, int]) -> list[protocol.Message]:
        return outbox.select(
            link="to-a",
            role="Controlled",
            send_all=False,
            executions=[received],
            flows={},
            limit=10,
            held=held,
        )

    assert [m.id for m in select({})] == ["status:origin-1:2"]
    assert select({"origin-1": 2}) == []
    assert [m.id for m in select({"origin-1": 1, "other": 9})] == ["status:origin-1:2"]


# -- settled: what the outbox may skip without looking --------------------------------------

_versions = st.integers(min_value=0, max_value=4)
_phases = st.sampled_from([resources.PENDING, resources.RUNNING, *sorted(resources.TERMINAL)])


@st.composite
def _any_execution(draw: st.DrawFn) -> resources.Body:
    """An execution as either side of a link may hold it: sent, received, mirrored or local."""
    spec: dict[str, Any] = {"flow": "hello", "inputs": {}}
    status: dict[str, Any] = {"phase": draw(_phases), "version": draw(_versions)}
    kind = draw(st.sampled_from(["sent", "sent-unacked-yet", "received", "mirror", "local"]))
    body_labels: dict[str, str] = {}
    if kind.startswith("sent"):
        spec["remoteWorkspace"] = draw(st.sampled_from(["to-b", "to-c"]))
        if kind == "sent":
            status["link"] = {
                "name": spec["remoteWorkspace"],
                "localVersion": draw(st.integers(min_value=1, max_value=2)),
                "acknowledgedVersion": draw(_versions),
                "remoteVersion": draw(_versions),
            }
    elif kind == "received":
        link = draw(st.sampled_from(["to-b", "to-c"]))
        body_labels[labels.ORIGIN_LINK] = link
        if draw(st.booleans()):
            status["origin"] = {"link": link, "uid": "peer-uid", "acknowledgedVersion": draw(_versions)}
    elif kind == "mirror":
        spec = {"mirror": True}
        status["origin"] = {"link": "to-b", "uid": "peer-uid"}
    if kind != "mirror" and draw(st.booleans()):
        status["mirrors"] = {draw(st.sampled_from(["to-b", "to-c"])): draw(_versions)}
    return execution("e", spec=spec, status=status, labels=body_labels)


@settings(max_examples=400, deadline=None)
@given(
    body=_any_execution(),
    role=st.sampled_from(["Controlling", "Controlled"]),
    link=st.sampled_from(["to-b", "to-c"]),
    held=st.dictionaries(st.just("peer-uid"), _versions),
    send_all=st.booleans(),
)
def test_a_settled_execution_has_nothing_to_send_on_any_link_but_the_mirror_it_owes(
    body: resources.Body, role: str, link: str, held: dict[str, int], send_all: bool
) -> None:
    """What ``read_outbox`` leaves out (settled, and no mirror owed) has nothing to send."""
    if not outbox.settled(body) or (send_all and outbox.mirror_owed(body, link)):
        return
    sent = outbox.select(
        link=link, role=role, send_all=send_all, executions=[body], flows=FLOWS, limit=10, held=held
    )
    assert sent == []


def test_what_is_settled_and_what_is_not() -> None:
    acked = {"name": "to-b", "localVersion": 1, "acknowledgedVersion": 1, "remoteVersion": 3}
    done = {"phase": resources.SUCCEEDED, "version": 3}
    sent = {"remoteWorkspace": "to-b", "flow": "hello"}
    assert outbox.settled(execution("ended-acked", spec=sent, status={**done, "link": acked}))
    assert not outbox.settled(
        execution("running", spec=sent, status={**done, "phase": "Running", "link": acked})
    )
    cancelled_unsent = {**acked, "localVersion": 2}
    assert not outbox.settled(execution("cancel-owed", spec=sent, status={**done, "link": cancelled_unsent}))
    assert not outbox.settled(execution("never-sent", spec=sent, status=done))
    final_unacked = {**done, "origin": {"link": "to-b", "uid": "u", "acknowledgedVersion": 2}}
    assert not outbox.settled(execution("final-owed", status=final_unacked))
    final_acked = {**done, "origin": {"link": "to-b", "uid": "u", "acknowledgedVersion": 3}}
    assert outbox.settled(execution("final-acked", status=final_acked))
    assert outbox.settled(execution("mirror", spec={"mirror": True}, status={"phase": "Running"}))
