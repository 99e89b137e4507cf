"""What reaches the operator's log at each level, and the shape of a line in each format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import kopf
import pytest
from kopf._core.actions import loggers as kopf_loggers

from workspace_link.adapters import logs
from workspace_link.core import errors


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Where ``logs.configure`` writes; the root logger and the quieted ones are restored after."""
    root = logging.getLogger()
    names = (*logs.CHATTY, *logs.NOISY, "workspace_link")
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    yield io.StringIO()
    root.handlers[:], root.level, levels = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _kopf_object_logger() -> logging.LoggerAdapter[logging.Logger]:
    """The per-object logger kopf hands a handler (``logger=``), for a Secret."""
    body = kopf.Body({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "ws-a"}})
    return kopf_loggers.LocalObjectLogger(body=body, settings=kopf.OperatorSettings())


def _chatter() -> None:
    """One line of each kind a busy workspace writes, and one that matters."""
    _kopf_object_logger().info("Handler 'secret_event' succeeded.")
    logging.getLogger("kopf.activities.startup").info("Activity 'startup' succeeded.")
    logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /healthz HTTP/1.1" 200')
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTPS connection (1): peer:443")
    logging.getLogger("workspace_link.job_executor").info("Execution e: created Job e")


def test_the_default_level_keeps_what_changed_and_drops_the_chatter(stream: io.StringIO) -> None:
    logs.configure(stream=stream)
    _chatter()
    _kopf_object_logger().error("Handler 'secret_event' failed temporarily: boom")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("workspace_link.job_executor: Execution e: created Job e")
    assert " ERROR kopf.objects: [ws-a Secret/k] Handler 'secret_event' failed temporarily: boom" in lines[1]


def test_debug_brings_the_chatter_back_but_not_connection_internals(stream: io.StringIO) -> None:
    logs.configure("debug", stream=stream)
    _chatter()

    text = stream.getvalue()
    assert "Handler 'secret_event' succeeded." in text
    assert '"GET /healthz HTTP/1.1" 200' in text
    assert "Starting new HTTPS connection" not in text


def test_warning_keeps_only_warnings_and_errors(stream: io.StringIO) -> None:
    logs.configure("WARNING", stream=stream)
    _chatter()
    logging.getLogger("workspace_link.link").warning("link x: exchange failed")

    assert stream.getvalue().splitlines()[0].endswith("WARNING workspace_link.link: link x: exchange failed")
    assert len(stream.getvalue().splitlines()) == 1


def test_json_is_one_object_per_line_naming_the_object(stream: io.StringIO) -> None:
    logs.configure(fmt="json", stream=stream)
    _kopf_object_logger().warning("first line\nsecond line")
    with logs.concerning(namespace="ws-a", kind="Execution", name="e"):
        logging.getLogger("workspace_link.job_executor").info("Execution e: created Job e")
    logging.getLogger("workspace_link.handlers").info("workspace ws-a: ports open")
    try:
        raise ValueError("no such thing")
    except ValueError:
        logging.getLogger("workspace_link.link").exception("link x: failed")

    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 4
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry)
        assert entry["time"].endswith("Z")
    kopf_line, ours, no_object, failure = entries
    assert (kopf_line["namespace"], kopf_line["kind"], kopf_line["name"]) == ("ws-a", "Secret", "k")
    assert kopf_line["message"] == "first line\nsecond line"
    assert ours == {**ours, "level": "INFO", "namespace": "ws-a", "kind": "Execution", "name": "e"}
    assert ours["logger"] == "workspace_link.job_executor"
    assert not {"namespace", "kind", "name"} & set(no_object)
    assert failure["level"] == "ERROR" and "ValueError: no such thing" in failure["exception"]


async def test_tasks_started_while_handling_an_object_still_name_it(stream: io.StringIO) -> None:
    logs.configure(fmt="json", stream=stream)

    async def later() -> None:
        await asyncio.sleep(0)
        logging.getLogger("workspace_link.job_executor").warning("pod p: could not report (will retry)")

    with logs.concerning(namespace="ws-a", kind="Pod", name="p"):
        task = asyncio.create_task(later())
    await task

    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (entry["kind"], entry["name"]) == ("Pod", "p")


def test_a_second_configure_replaces_the_first(stream: io.StringIO) -> None:
    other = io.StringIO()
    logs.configure(stream=other)
    logs.configure(fmt="json", stream=stream)
    logging.getLogger("workspace_link.handlers").info("once")

    assert other.getvalue() == ""
    assert json.loads(stream.getvalue())["message"] == "once"


@pytest.mark.parametrize(
    ("level", "fmt", "setting"), [("LOUD", "text", "WL_LOG_LEVEL"), ("INFO", "yaml", "WL_LOG_FORMAT")]
)
def test_an_unknown_level_or_format_names_its_setting(
    stream: io.StringIO, level: str, fmt: str, setting: str
) -> None:
    with pytest.raises(errors.SpecError) as caught:
        logs.configure(level, fmt, stream=stream)
    assert caught.value.field == setting
