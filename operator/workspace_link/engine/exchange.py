"""One exchange, from either end: the listener's ``handle`` and the dialer's ``once``.

An exchange is one signed POST and its signed answer (docs/protocol.md §1). Both ends do the
same three things with what they receive — apply the messages (``inbox``), record the acks,
and derive what they still have to send from the resources (``read_outbox``) — so the two modes
and the two directions share one implementation. Transport (HTTP, TLS, signatures) stays in the
adapters (``adapters.http.listener``, ``adapters.http.peer_client``); this module sees decoded
envelopes only.

The listener's long-poll hold: when the request brings nothing to apply and the listener has
nothing to send, it waits on ``ws.changes`` for at most ``min(hold, settings.long_poll_hold)``
seconds, recomputing its outbox after every change, and answers as soon as there is something.

The dialer keeps the acks it owes the listener in memory (``DialerState``) until the next
request carries them; losing them (a restart) only makes the listener send those messages
again, which are then recognised as duplicates and acknowledged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from workspace_link.core import bounds, errors, labels, link_config, outbox, protocol, resources
from workspace_link.engine import executions, inbox, workspace


class Client(Protocol):
    """What the dialer needs from the transport (``peer_client.PeerClient``)."""

    async def exchange(self, envelope: protocol.Envelope, *, max_seconds: float) -> protocol.Envelope:
        """Send one signed request and return the verified, decoded response (within ``max_seconds``)."""
        ...


def check_role(config: link_config.LinkConfig, peer: protocol.Sender) -> None:
    if peer.role == config.role:
        raise errors.RoleMismatch(config=config.name, role=config.role, peer_config=peer.config)


def sender(
    ws: workspace.Workspace, config: link_config.LinkConfig, keys: link_config.LinkKeys
) -> protocol.Sender:
    return protocol.Sender(
        config=config.name,
        role=resources.ROLE_CONTROLLING
        if config.role == resources.ROLE_CONTROLLING
        else resources.ROLE_CONTROLLED,
        workspace=ws.namespace,
        key_id=keys.key_id,
    )


async def read_outbox(ws: workspace.Workspace, config: link_config.LinkConfig) -> list[protocol.Message]:
    """What this side of ``config`` still has to send: the executions (and the scripts of their
    Flows) read from the store now, and ``outbox.select`` picks the messages out of them. It
    only reads them (``Workspace.view``: no copies), and only those with something left to
    send: not settled (``outbox.settled``), or, for ``sendAllExecutions``, not mirrored yet."""
    if config.send_all and config.role == resources.ROLE_CONTROLLING:
        found = await executions.owed_by_send_all(ws, config.name)
    elif config.role == resources.ROLE_CONTROLLING:
        found = await executions.outgoing(ws, config.name, unsettled=True)
    else:
        found = await ws.view(
            resources.EXECUTION,
            labels={labels.ORIGIN_LINK: labels.value(config.name)},
            where=executions.UNSETTLED,
        )
    flows: dict[str, str] = {}
    if config.role == resources.ROLE_CONTROLLING:
        wanted = {
            str(resources.spec(body).get("flow"))
            for body in found
            if resources.link_status(body).get("name") == config.name and resources.spec(body).get("flow")
        }
        for name in sorted(wanted):
            try:
                flows[name] = str(
                    resources.spec(await ws.store.get(resources.FLOW, name)).get("script") or ""
                )
            except errors.NotFound:
                continue
    return outbox.select(
        link=config.name,
        role=config.role,
        send_all=config.send_all,
        executions=found,
        flows=flows,
        limit=min(ws.settings.exchange_batch, bounds.MAX_MESSAGES),
        held=ws.held_acks.of(config.name),
    )


# -- listener --------------------------------------------------------------------------------


async def handle(
    ws: workspace.Workspace,
    *,
    config: link_config.LinkConfig,
    keys: link_config.LinkKeys,
    envelope: protocol.Envelope,
) -> protocol.Envelope:
    """Answer one verified, decoded request for ``config`` (the listener side).

    The caller has checked the signature and the role (``check_role``).
    """
    # One request of a link applies at a time: two carrying the same ack or message (the
    # dialer's sender and poller) then write it once, the second finding it done.
    lock = ws.applying.setdefault(config.name, asyncio.Lock())
    applying = bool(envelope.messages or envelope.acks)
    if applying:
        async with lock:
            acks = await inbox.apply_messages(
                ws, link=config.name, role=config.role, peer=envelope.sender, messages=envelope.messages
            )
            await inbox.apply_acks(ws, link=config.name, role=config.role, acks=envelope.acks)
        if not lock.locked():
            ws.changes.notify()  # a held long-poll of this link may answer now
    else:
        acks = []
    hold = max(0.0, min(envelope.hold, ws.settings.long_poll_hold))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + hold
    while True:
        since = ws.changes.counter
        messages = await read_outbox(ws, config)
        if acks or envelope.messages:
            break
        # A held long-poll leaves what another request of this link is applying to that
        # request's own answer: the dialer then gets, e.g., its start's ack and the status it
        # caused together, and records both in one write.
        if messages and not lock.locked():
            break
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await ws.changes.wait(since, remaining)
    return protocol.Envelope(sender=sender(ws, config, keys), messages=tuple(messages), acks=tuple(acks))


# -- dialer ----------------------------------------------------------------------------------


@dataclass
class DialerState:
    """The acks the dialer owes the listener; sent with the next request (any task's)."""

    owed: dict[tuple[protocol.MessageKind, str], int] = field(default_factory=dict)
    #: Held while one answer is applied: the sender's and the poller's answers may carry the
    #: same message, and applied one after the other the second finds it done (no write, no
    #: conflict) instead of racing the first.
    applying: asyncio.Lock = field(default_factory=asyncio.Lock)

    def add(self, acks: list[protocol.Ack]) -> None:
        for ack in acks:
            key = (ack.kind, ack.origin_uid)
            self.owed[key] = max(self.owed.get(key, 0), ack.version)

    def take(self) -> list[protocol.Ack]:
        taken = [
            protocol.Ack(kind=kind, origin_uid=uid, version=version)
            for (kind, uid), version in self.owed.items()
        ][: bounds.MAX_ACKS]
        for ack in taken:
            del self.owed[ack.kind, ack.origin_uid]
        return taken

    def __bool__(self) -> bool:
        return bool(self.owed)


@dataclass(frozen=True)
class ExchangeResult:
    sent: int  # messages sent
    received: int  # messages received
    applied_acks: int  # our messages the peer acknowledged (objects whose ack moved)
    acks_received: int
    acks_sent: int
    peer: protocol.Sender

    @property
    def progressed(self) -> bool:
        return bool(self.received or self.applied_acks or self.acks_sent)


async def once(
    ws: workspace.Workspace,
    *,
    config: link_config.LinkConfig,
    keys: link_config.LinkKeys,
    client: Client,
    hold: float,
    state: DialerState,
    send_messages: bool = True,
    outbox: list[protocol.Message] | None = None,
) -> ExchangeResult:
    """One exchange from the dialer: send the outbox and owed acks, apply the answer.

    ``send_messages`` False sends only acks (the long-poll task leaves messages to the sender
    task, so the two do not carry the same messages at once). ``outbox``: what the caller has
    just computed with ``read_outbox``, so the store is not listed twice. Raises
    ``errors.PeerError``.
    """
    if not send_messages:
        messages: list[protocol.Message] = []
    else:
        messages = outbox if outbox is not None else await read_outbox(ws, config)
    acks = state.take()
    request = protocol.Envelope(
        sender=sender(ws, config, keys),
        messages=tuple(messages),
        acks=tuple(acks),
        hold=min(max(hold, 0.0), bounds.MAX_HOLD_SECONDS - 1),
    )
    try:
        response = await client.exchange(request, max_seconds=request.hold + ws.settings.exchange_timeout)
        check_role(config, response.sender)
    except BaseException:
        state.add(acks)  # not delivered: owed again
        raise
    async with state.applying:
        folded: set[str] = set()
        owed = await inbox.apply_messages(
            ws,
            link=config.name,
            role=config.role,
            peer=response.sender,
            messages=response.messages,
            acks=response.acks,
            folded=folded,
        )
        state.add(owed)
        moved = await inbox.apply_acks(
            ws, link=config.name, role=config.role, acks=response.acks, folded=folded
        )
    return ExchangeResult(
        sent=len(messages),
        received=len(response.messages),
        applied_acks=moved,
        acks_received=len(response.acks),
        acks_sent=len(acks),
        peer=response.sender,
    )
