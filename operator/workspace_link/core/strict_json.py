"""A strict reader of untrusted JSON: every refusal an ``errors.MessageError`` naming the field.

Why strict: a repeated key, NaN, a lone surrogate or an over-deep nesting would let two parsers
read two different bodies, or break the store's copy later. Generic: the protocol's readers
(``wire``) and the runner API build on it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from workspace_link.core import bounds, errors


def fail(path: str, problem: str) -> NoReturn:
    raise errors.MessageError(problem, field=path)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # A repeated key means two parsers may read two different bodies: refuse it.
            fail("body", f"an object repeats the key {key[:64]!r}")
        out[key] = value
    return out


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        fail("body", f"the number {text[:32]} is out of range")
    return value


def _no_constant(text: str) -> NoReturn:
    fail("body", f"{text} is not valid JSON")


def parse(raw: bytes, *, max_bytes: int) -> Any:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"decode() takes bytes, not {type(raw).__name__}")
    if len(raw) > max_bytes:
        fail("body", f"{len(raw)} bytes is larger than the limit of {max_bytes} bytes")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.MessageError(f"not valid UTF-8 (at byte {exc.start})", field="body") from exc
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise errors.MessageError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", field="body"
        ) from exc
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise errors.MessageError(f"not valid JSON: {str(exc)[:200]}", field="body") from exc
    except RecursionError as exc:
        raise errors.MessageError(
            f"nested too deeply to parse (inputs and outputs may nest {bounds.MAX_JSON_DEPTH} levels)",
            field="body",
        ) from exc


def object_at(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(path, f"must be an object, got {type_name(value)}")
    return value


def check_keys(
    obj: Mapping[str, Any], path: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    for key in required:
        if key not in obj:
            fail(join(path, key), "missing")
    allowed = set(required) | set(optional)
    for key in obj:
        if key not in allowed:
            fail(join(path, key[:64]), "unknown field")


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _utf8_len(value: str, path: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        fail(path, "contains an unpaired surrogate, not valid Unicode text")


def string(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    max_chars: int | None = None,
    max_bytes: int | None = None,
    pattern: re.Pattern[str] | None = None,
    what: str = "",
    min_chars: int = 0,
) -> str:
    return string_value(
        obj[key],
        join(path, key),
        max_chars=max_chars,
        max_bytes=max_bytes,
        pattern=pattern,
        what=what,
        min_chars=min_chars,
    )


def string_value(
    value: Any,
    where: str,
    *,
    max_chars: int | None = None,
    max_bytes: int | None = None,
    pattern: re.Pattern[str] | None = None,
    what: str = "",
    min_chars: int = 0,
) -> str:
    if not isinstance(value, str):
        fail(where, f"must be a string, got {type_name(value)}")
    if max_chars is not None and len(value) > max_chars:
        fail(where, f"longer than {max_chars} characters")
    size = _utf8_len(value, where)
    if max_bytes is not None and size > max_bytes:
        fail(where, f"longer than {max_bytes} bytes")
    if len(value) < min_chars:
        fail(where, "must not be empty")
    if pattern is not None and not pattern.fullmatch(value):
        fail(where, f"must be {what}")
    return value


def optional(
    obj: Mapping[str, Any], key: str, path: str, read: Callable[[Mapping[str, Any], str, str], Any]
) -> Any:
    if obj.get(key) is None:
        return None
    return read(obj, key, path)


def integer(
    obj: Mapping[str, Any], key: str, path: str, *, minimum: int = 1, maximum: int = bounds.MAX_VERSION
) -> int:
    where = join(path, key)
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool):
        fail(where, f"must be an integer, got {type_name(value)}")
    if not minimum <= value <= maximum:
        fail(where, f"must be between {minimum} and {maximum}")
    return value


def json_object(obj: Mapping[str, Any], key: str, path: str, *, max_bytes: int) -> dict[str, Any]:
    where = join(path, key)
    value = object_at(obj[key], where)
    if len(value) > bounds.MAX_OBJECT_KEYS:
        fail(where, f"more than {bounds.MAX_OBJECT_KEYS} keys")
    try:
        size = bounds.json_size(value)
    except ValueError as exc:
        fail(where, str(exc))
    if size > max_bytes:
        fail(where, f"longer than {max_bytes} bytes as JSON")
    return value


def array(obj: Mapping[str, Any], key: str, *, max_items: int) -> list[Any]:
    value = obj[key]
    if not isinstance(value, list):
        fail(key, f"must be an array, got {type_name(value)}")
    if len(value) > max_items:
        fail(key, f"more than {max_items} items ({len(value)})")
    return value
