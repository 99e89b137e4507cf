"""kopf diffs only the kinds whose handlers read a diff (``handlers.ChangeHandledKindsDiffBase``).

kopf builds a diff base for every event of every kind, a deep copy of the whole body; the
operator's storage gives it nothing to diff for the kinds only ``on.event`` handlers watch.
These tests hold the two promises that keep that safe: no kind it skips has a change handler
or a daemon, and a SyncConfig (which has both) is still diffed, so its update handler still
sees a changed spec.
"""

from __future__ import annotations

from typing import Any

import kopf
from kopf._cogs.structs import diffs

from workspace_link.adapters.kube import handlers
from workspace_link.core import resources

#: The plural each kind is watched by, as ``handlers`` registers it.
_PLURALS = {
    resources.EXECUTION: "executions",
    resources.FLOW: "flows",
    resources.SECRET: "secrets",
    "Job": "jobs",
    "Pod": "pods",
    resources.SYNC_CONFIG: "syncconfigs",
}


def _body(kind: str, spec: dict[str, Any]) -> kopf.Body:
    return kopf.Body({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}, "spec": spec})


def _diffed_plurals() -> set[str]:
    found = set()
    registry = handlers.registry
    for handler in [*registry._changing.get_all_handlers(), *registry._spawning.get_all_handlers()]:
        selector = handler.selector
        assert selector is not None
        found.add(str(selector.plural or selector.any_name))
    return found


def test_no_kind_left_undiffed_has_a_change_handler_or_a_daemon() -> None:
    diffed = _diffed_plurals()
    assert diffed == {"syncconfigs"}
    assert not {_PLURALS[kind] for kind in handlers.WATCHED_ONLY} & diffed
    assert set(_PLURALS) >= handlers.WATCHED_ONLY


def test_an_execution_gives_kopf_nothing_to_diff_and_no_copy_of_its_script() -> None:
    storage = handlers.operator_settings().persistence.diffbase_storage
    body = _body(resources.EXECUTION, {"script": "x" * 100_000, "inputs": {"a": 1}, "flow": "f"})
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) is None


def test_a_syncconfig_is_still_diffed_so_a_changed_spec_reaches_its_update_handler() -> None:
    storage = handlers.operator_settings().persistence.diffbase_storage
    before = storage.build(body=_body(resources.SYNC_CONFIG, {"role": "controlling", "syncInterval": 5}))
    after = storage.build(body=_body(resources.SYNC_CONFIG, {"role": "controlling", "syncInterval": 9}))
    assert before["spec"]["syncInterval"] == 5
    # kopf's own diff, as its update handlers get it.
    assert [tuple(op) for op in diffs.diff(before, after)] == [("change", ("spec", "syncInterval"), 5, 9)]


def test_a_body_of_no_known_kind_is_diffed_as_kopf_diffs_it() -> None:
    storage = handlers.operator_settings().persistence.diffbase_storage
    body = kopf.Body({"metadata": {"name": "x"}, "spec": {"a": 1}})
    assert storage.build(body=body) == {"spec": {"a": 1}}
