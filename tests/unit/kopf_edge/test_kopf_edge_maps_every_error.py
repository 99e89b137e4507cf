"""Every error of the project's tree becomes a kopf retry decision at the handlers' edge."""

from __future__ import annotations

import inspect

import kopf
import pytest

from workspace_link.adapters.kube import handlers
from workspace_link.core import errors


def _members(cls: type[errors.WorkspaceLinkError]) -> list[type[errors.WorkspaceLinkError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_members(sub))
    return found


def _instance(cls: type[errors.WorkspaceLinkError]) -> errors.WorkspaceLinkError:
    """One instance, whatever keyword arguments the class's constructor asks for."""
    params = inspect.signature(cls.__init__).parameters
    kwargs = {
        name: 409 if name == "status" else "x"
        for name, p in params.items()
        if name != "self" and p.default is inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY
    }
    positional = [
        "x"
        for name, p in params.items()
        if name != "self" and p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    if cls is errors.UnsupportedProtocol:
        return cls(received=2, supported=1)
    return cls(*positional, **kwargs)


TREE = _members(errors.WorkspaceLinkError)


def test_the_tree_is_whole_in_one_module() -> None:
    assert len(TREE) >= 19
    assert {cls.__module__ for cls in TREE} == {"workspace_link.core.errors"}


@pytest.mark.parametrize("cls", TREE, ids=lambda c: c.__name__)
def test_every_error_becomes_a_kopf_decision(cls: type[errors.WorkspaceLinkError]) -> None:
    with pytest.raises((kopf.TemporaryError, kopf.PermanentError)) as caught, handlers.at_the_edge():
        raise _instance(cls)
    assert isinstance(caught.value.__cause__, cls)


KEYS = handlers.KEYS_DELAY


@pytest.mark.parametrize(
    ("error", "decision", "delay"),
    [
        (errors.Conflict("stale"), kopf.TemporaryError, handlers.CONFLICT_DELAY),
        (errors.StoreUnavailable("503"), kopf.TemporaryError, handlers.TRANSIENT_DELAY),
        (errors.PeerUnreachable("timeout"), kopf.TemporaryError, handlers.TRANSIENT_DELAY),
        (errors.KeyLoadError("Secret k not found"), kopf.TemporaryError, KEYS),
        (errors.StoreRefused("forbidden"), kopf.TemporaryError, KEYS),
        (
            errors.PeerRefused("no", status=401, reason="unknown-key"),
            kopf.TemporaryError,
            handlers.KEYS_DELAY,
        ),
        (errors.SpecError("bad", field="spec.x"), kopf.PermanentError, None),
        (errors.SignatureError("bad", reason="expired"), kopf.PermanentError, None),
        (errors.RunLost("gone"), kopf.PermanentError, None),
        (errors.InvalidTransition("Succeeded", "Running"), kopf.PermanentError, None),
    ],
)
def test_what_can_heal_is_retried_and_what_cannot_is_not(
    error: errors.WorkspaceLinkError, decision: type[Exception], delay: float | None
) -> None:
    with pytest.raises(decision) as caught, handlers.at_the_edge():
        raise error
    if delay is not None:
        assert caught.value.delay == delay  # type: ignore[attr-defined]


def test_a_bug_is_not_dressed_as_a_kopf_decision() -> None:
    with pytest.raises(TypeError), handlers.at_the_edge():
        raise TypeError("a bug in our code")
