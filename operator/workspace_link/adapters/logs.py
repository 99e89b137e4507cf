"""The operator's log: quiet by default, as text or as one JSON object per line.

Why it exists: kopf says "Handler 'secret_event' succeeded" for every event of every object and
aiohttp's access log has a line for every request served, so a busy workspace wrote thousands
of lines a minute that an admin cannot act on. At the default level (INFO) the log says what
changed (a Job created, a run ended), what failed, and what an admin must do; the per-event
and per-request chatter of kopf and aiohttp is heard only at DEBUG.

Each line names the object it concerns when one is known: kopf's per-object logger carries it
(``k8s_ref``), and the kopf handlers set it with ``concerning`` for everything logged while
they handle that object, core modules included (a context variable, so tasks started while
handling inherit it). ``WL_LOG_LEVEL`` and ``WL_LOG_FORMAT`` (``settings``) choose the level
and the format; the chart sets them from ``operator.logLevel`` and ``operator.logFormat``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any, Final, TextIO

from workspace_link.core import errors

LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS: Final = ("text", "json")

#: Loggers that say at INFO that something ran, not what changed: heard at DEBUG only.
CHATTY: Final = (
    "kopf.objects",  # "Handler 'x' succeeded.", "Creation is processed: ..." per event
    "kopf.activities",  # "Activity 'login' succeeded."
    "kopf._core.engines.activities",  # every (re-)authentication round
    "aiohttp.access",  # one line per request served: probes, runners, peers
)
#: Connection internals, noisy even for debugging this operator: warnings only.
NOISY: Final = ("urllib3",)

Ref = dict[str, str]
_concerning: contextvars.ContextVar[Ref | None] = contextvars.ContextVar("wl_log_object", default=None)
_HANDLER_MARK: Final = "_wl_log_handler"


@contextlib.contextmanager
def concerning(
    *, namespace: str | None = None, kind: str | None = None, name: str | None = None
) -> Iterator[None]:
    """Every line logged inside (and in tasks started inside) names this object."""
    ref = {k: v for k, v in (("namespace", namespace), ("kind", kind), ("name", name)) if v}
    token = _concerning.set(ref or None)
    try:
        yield
    finally:
        _concerning.reset(token)


def object_of(record: logging.LogRecord) -> Ref:
    """The object a record concerns: kopf's own reference first, else the handler's."""
    kopf_ref = getattr(record, "k8s_ref", None)
    if isinstance(kopf_ref, dict):
        return {k: str(kopf_ref[k]) for k in ("namespace", "kind", "name") if kopf_ref.get(k)}
    # Formatting runs in the logging call, so in the context of whoever logged.
    return dict(_concerning.get() or {})


def _time(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: [<namespace> <Kind>/<name>] <message>``."""

    def format(self, record: logging.LogRecord) -> str:
        ref = object_of(record)
        where = ""
        if ref:
            thing = "/".join(p for p in (ref.get("kind"), ref.get("name")) if p)
            where = "[" + " ".join(p for p in (ref.get("namespace"), thing) if p) + "] "
        line = f"{_time(record)} {record.levelname} {record.name}: {where}{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the object's namespace, kind and
    name when known, and the traceback (one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **object_of(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: a line stays one line whatever a message contains.
        return json.dumps(entry, ensure_ascii=True, default=str)


def _checked(value: str, allowed: tuple[str, ...], *, setting: str, upper: bool) -> str:
    normal = value.strip().upper() if upper else value.strip().lower()
    if normal not in allowed:
        raise errors.SpecError(f"must be one of {', '.join(allowed)}, got {value!r}", field=setting)
    return normal


def configure(level: str = "INFO", fmt: str = "text", *, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) at ``level`` in ``fmt``; replaces what an
    earlier call (or ``kopf.configure``) installed. SpecError naming the setting on a bad value."""
    level = _checked(level, LEVELS, setting="WL_LOG_LEVEL", upper=True)
    fmt = _checked(fmt, FORMATS, setting="WL_LOG_FORMAT", upper=False)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    # The handler, not only the loggers, holds the level: the loggers below are set apart.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not _replaceable(h)]
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        # Never above WARNING: kopf posts its warnings as Kubernetes events from kopf.objects.
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def _replaceable(handler: logging.Handler) -> bool:
    # kopf's stream handler class is private; its name is what kopf itself matches on re-runs.
    return bool(getattr(handler, _HANDLER_MARK, False)) or type(handler).__name__ == "_KopfStreamHandler"
