"""The operator starts under a UID the passwd database does not know (OpenShift's arbitrary
UIDs, a chart's ``runAsUser``): kopf must not be left to guess its identity from the user name."""

from __future__ import annotations

import gc
import pathlib
import pwd
import socket
from typing import Any

import pytest
from kopf_helpers import HELLO_FLOW, OperatorThread, eventually, execution_body, get_or_none
from operator_process import StartOperator, is_root

from workspace_link.adapters import logs
from workspace_link.adapters.kube import handlers, kubestore
from workspace_link.core import naming

#: No passwd entry has it (checked below): what a cluster's arbitrary UID looks like.
UNKNOWN_UID = 54321


def _process_uid(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


@pytest.mark.skipif(not is_root(), reason="switching to a UID without a passwd entry needs root")
@pytest.mark.parametrize("home", ["/tmp", None], ids=["HOME as in the image", "no HOME at all"])
async def test_the_operator_starts_and_works_as_a_uid_with_no_passwd_entry(
    start_operator: StartOperator, kube: kubestore.KubeStore, home: str | None
) -> None:
    try:
        pwd.getpwuid(UNKNOWN_UID)
    except KeyError:
        pass
    else:
        pytest.skip(f"UID {UNKNOWN_UID} has a passwd entry on this machine")

    # Returns once the health endpoint answers: kopf is up and the three ports are open.
    # Without HOME, "~" is looked up in the passwd database too (kubeconfig, .netrc paths).
    operator = await start_operator(uid=UNKNOWN_UID, env={"HOME": home})
    assert _process_uid(operator.pid) == UNKNOWN_UID

    # Its handlers are registered and running: an Execution gets its Job.
    await kube.create("Flow", HELLO_FLOW)
    await kube.create("Execution", execution_body("as-unknown-uid"))
    await eventually(
        lambda: get_or_none(kube, kubestore.JOB, naming.job_name("as-unknown-uid")),
        what="the Job",
        timeout=20,
    )

    assert await operator.stop() == 0, operator.log
    assert "Traceback" not in operator.log


def test_kopf_is_given_the_pods_name_as_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}
    monkeypatch.setattr(handlers.kopf, "run", lambda **kwargs: given.update(kwargs))
    monkeypatch.setattr(logs, "configure", lambda *args, **kwargs: None)
    monkeypatch.setenv("WL_NAMESPACE", "ws-a")
    monkeypatch.setenv("POD_NAME", "workspace-link-7d9f8-abcde")

    assert handlers.run_operator() == 0

    assert given["identity"] == "workspace-link-7d9f8-abcde"


@pytest.mark.parametrize("pod_name", [None, "", "  "])
def test_without_the_pods_name_the_identity_is_the_hostname(
    monkeypatch: pytest.MonkeyPatch, pod_name: str | None
) -> None:
    if pod_name is None:
        monkeypatch.delenv("POD_NAME", raising=False)
    else:
        monkeypatch.setenv("POD_NAME", pod_name)
    assert handlers.operator_identity() == socket.gethostname()


async def test_what_is_alive_once_started_is_left_out_of_every_full_collection(kubeconfig: str) -> None:
    # A full collection walks every tracked object; start-up's live as long as the process.
    gc.unfreeze()
    running = OperatorThread()
    await running.start()
    try:
        running.raise_failure()
        assert gc.get_freeze_count() > 10_000
    finally:
        await running.stop()
    running.raise_failure()
