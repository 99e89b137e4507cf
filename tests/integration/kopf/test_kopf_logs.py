"""The operator's log as an admin reads it: ``workspace-link operator`` in processes of its own,
two of them linked over TLS on the emulator, their stderr taken line by line.

At the default level a run is a few lines (what changed), an event that changed nothing is
none, and no level or format ever shows a key or a token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
from typing import Any

import kopf
import pytest
from kopf_helpers import HELLO_FLOW, NAMESPACE, eventually, execution_body, get_or_none
from operator_process import OperatorProcess, StartOperator

from workspace_link.adapters.kube import apiserver, kubestore
from workspace_link.cli import manifests
from workspace_link.core import certs, keys, naming

NS_B = "ws-b"
#: An event reaches the operator and is handled in milliseconds; this is ample for "no line".
QUIET_WAIT = 1.5
#: Lines kopf and httpx wrote for every event and every exchange before the log was quieted.
CHATTER = ("Handler '", "is processed:", "HTTP Request:", "Activity '")


@pytest.fixture(scope="module")
def link_keys() -> tuple[Any, Any]:
    return keys.generate_private_key(2048), keys.generate_private_key(2048)


def _since(process: OperatorProcess, mark: int) -> list[str]:
    return process.lines[mark:]


async def _phase(kube: kubestore.KubeStore, name: str, wanted: str) -> dict[str, Any] | None:
    body = await get_or_none(kube, "Execution", name)
    return body if body and (body.get("status") or {}).get("phase") == wanted else None


async def _complete_job(kube: kubestore.KubeStore, name: str) -> None:
    """What the Job controller writes when the runner exited 0."""
    job = await kube.get(kubestore.JOB, name)
    condition = {"type": "Complete", "status": "True", "reason": "", "message": ""}
    await kube.replace_status(kubestore.JOB, {**job, "status": {"succeeded": 1, "conditions": [condition]}})


async def _ready(kube: kubestore.KubeStore, name: str) -> bool:
    body = await get_or_none(kube, "SyncConfig", name)
    conditions = ((body or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def _linked(
    start_operator: StartOperator, kubeconfig: str, tmp_path: pathlib.Path, link_keys: tuple[Any, Any]
) -> tuple[OperatorProcess, OperatorProcess, kubestore.KubeStore, kubestore.KubeStore]:
    """A (ws-a, dials) and B (ws-b, listens over TLS), linked as `workspace-link link` links them."""
    serving = certs.issue_serving_certificate(["127.0.0.1"], days=1)
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(serving.cert_pem)
    key_file.write_bytes(serving.key_pem)
    b, a = await asyncio.gather(
        start_operator(NS_B, env={"WL_TLS_CERT_FILE": str(cert_file), "WL_TLS_KEY_FILE": str(key_file)}),
        start_operator(NAMESPACE),
    )
    request = manifests.LinkRequest(
        a_namespace=NAMESPACE, b_namespace=NS_B, b_url=f"https://127.0.0.1:{b.sync_port}"
    ).validated()
    built = manifests.link_manifests(request, a_key=link_keys[0], b_key=link_keys[1], serving=serving)
    api = apiserver.ApiSession(kopf.ConnectionInfo(server=kubeconfig))
    kube_a, kube_b = kubestore.KubeStore(NAMESPACE, api), kubestore.KubeStore(NS_B, api)
    for kube, bodies in ((kube_a, built.a), (kube_b, built.b)):
        for body in bodies:
            await kube.create(str(body["kind"]), body)
    await eventually(lambda: _ready(kube_a, request.name_a), what="A's link Ready", timeout=30)
    await eventually(lambda: _ready(kube_b, request.name_b), what="B's link Ready", timeout=30)
    return a, b, kube_a, kube_b


async def test_a_linked_run_is_a_few_lines_and_an_event_that_changed_nothing_is_none(
    start_operator: StartOperator, kubeconfig: str, tmp_path: pathlib.Path, link_keys: tuple[Any, Any]
) -> None:
    a, b, kube_a, kube_b = await _linked(start_operator, kubeconfig, tmp_path, link_keys)
    mark_a, mark_b = len(a.lines), len(b.lines)

    await kube_a.create("Flow", HELLO_FLOW)
    await kube_a.create("Execution", execution_body("remote-1", remoteWorkspace="link-to-b"))

    async def received_job() -> str | None:
        jobs = await kube_b.list(kubestore.JOB)
        return str(jobs[0]["metadata"]["name"]) if jobs else None

    job_name = await eventually(received_job, what="the Job in B", timeout=30)
    await _complete_job(kube_b, job_name)
    await eventually(lambda: _phase(kube_a, "remote-1", "Succeeded"), what="Succeeded in A", timeout=30)
    await asyncio.sleep(QUIET_WAIT)

    run_a, run_b = _since(a, mark_a), _since(b, mark_b)
    # B: created the Job, the Job ended (the linked run's whole story); A: nothing to say.
    assert len(run_a) + len(run_b) <= 4, "\n".join(["A:", *run_a, "B:", *run_b])
    assert any("created Job" in line for line in run_b), run_b
    assert any("ended (Completed" in line for line in run_b), run_b
    for line in run_a + run_b:
        assert not any(chatter in line for chatter in CHATTER), line

    # Events that change nothing the operator acts on: an annotation on each execution, a
    # Secret nobody reads. Before the log was quieted, each was an INFO line.
    mark_a, mark_b = len(a.lines), len(b.lines)
    await kube_a.patch("Execution", "remote-1", {"metadata": {"annotations": {"seen-by": "admin"}}})
    (received,) = await kube_b.list("Execution")
    await kube_b.patch("Execution", received["metadata"]["name"], {"metadata": {"annotations": {"x": "y"}}})
    await kube_a.create("Secret", {"metadata": {"name": "app-config"}, "data": {"k": "dg=="}})
    await asyncio.sleep(QUIET_WAIT)
    assert _since(a, mark_a) == [], _since(a, mark_a)
    assert _since(b, mark_b) == [], _since(b, mark_b)


async def test_the_json_log_is_one_object_per_line_naming_the_object(
    start_operator: StartOperator, kube: kubestore.KubeStore
) -> None:
    operator = await start_operator(env={"WL_LOG_FORMAT": "json"})
    await kube.create("Flow", HELLO_FLOW)
    await kube.create("Execution", execution_body("json-1"))
    await eventually(lambda: get_or_none(kube, kubestore.JOB, naming.job_name("json-1")), what="the Job")
    await _complete_job(kube, naming.job_name("json-1"))
    await eventually(lambda: _phase(kube, "json-1", "Succeeded"), what="Succeeded")
    assert await operator.stop() == 0

    entries = [json.loads(line) for line in operator.lines]  # every line, start-up to exit
    assert len(entries) >= 4, operator.log
    for entry in entries:
        assert isinstance(entry, dict)
        assert {"time", "level", "logger", "message"} <= set(entry), entry
        # Everything this operator logs is about its namespace.
        assert entry.get("namespace") == NAMESPACE, entry
    (created,) = [e for e in entries if "created Job" in e["message"]]
    assert (created["kind"], created["name"], created["level"]) == ("Execution", "json-1", "INFO")
    assert created["logger"] == "workspace_link.adapters.kube.job_executor"


async def test_no_level_or_format_shows_a_key_or_a_token(
    start_operator: StartOperator, kube: kubestore.KubeStore, link_keys: tuple[Any, Any]
) -> None:
    own, peer = link_keys
    name = "link-to-c"
    # The own key is there; the peer's Secret holds a broken key, so its error gets logged.
    private_pem = keys.private_key_pem(own)
    broken = keys.public_key_pem(peer.public_key())[:200]
    await kube.create(
        "Secret",
        manifests.private_key_secret(
            name=manifests.private_key_secret_name(name), namespace=NAMESPACE, private_pem=private_pem
        ),
    )
    await kube.create(
        "Secret",
        manifests.public_key_secret(
            name=manifests.remote_key_secret_name(name), namespace=NAMESPACE, public_pem=broken
        ),
    )
    await kube.create(
        "SyncConfig",
        manifests.sync_config(
            name=name,
            namespace=NAMESPACE,
            own_key_secret=manifests.private_key_secret_name(name),
            remote_key_secret=manifests.remote_key_secret_name(name),
        ),
    )
    debug = await start_operator(env={"WL_LOG_LEVEL": "DEBUG"})
    await kube.create("Flow", HELLO_FLOW)
    await kube.create("Execution", execution_body("token-1"))
    runner_secret = await eventually(
        lambda: get_or_none(kube, "Secret", naming.runner_secret_name("token-1")), what="the runner Secret"
    )

    async def broken_key_logged() -> bool:
        return any("link-to-c" in line and "failed" in line for line in debug.lines)

    await eventually(broken_key_logged, what="the broken key's error logged")
    await asyncio.sleep(QUIET_WAIT)
    await debug.stop()

    token = base64.b64decode(runner_secret["data"]["token"]).decode()
    secret_texts = [
        token,
        token.split(".", 1)[1],
        runner_secret["data"]["token"],
        *private_pem.decode().splitlines()[1:-1],
        base64.b64encode(private_pem).decode()[:40],
        *broken.decode().splitlines()[1:],
        "BEGIN",
    ]
    assert len(debug.lines) > 50, "DEBUG should be talkative"
    for text in secret_texts:
        assert text not in debug.log, f"found secret material in the DEBUG log: {text[:12]}..."


async def test_a_bad_log_setting_stops_the_operator_naming_it(start_operator: StartOperator) -> None:
    with pytest.raises(AssertionError) as caught:
        await start_operator(env={"WL_LOG_LEVEL": "LOUD"})
    assert "exited with 2" in str(caught.value)
    assert "WL_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'" in str(caught.value)
    assert "Traceback" not in str(caught.value)
