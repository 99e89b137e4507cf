"""Every size bound in one place: the protocol's, the CRDs' (the same numbers), the runner API's.

A body this side accepts must be one the API server accepts too, so the CRDs' ``maxLength``,
``maxItems`` and ``maxProperties`` are these numbers (a test compares them). ``json_size`` is the
one way a JSON value is measured against them.
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_BODY_BYTES: Final = 8 * 1024 * 1024
MAX_MESSAGES: Final = 500
MAX_ACKS: Final = 2000
MAX_SCRIPT_BYTES: Final = 256 * 1024
MAX_INPUTS_BYTES: Final = 256 * 1024
MAX_OUTPUTS_BYTES: Final = 256 * 1024
MAX_TEXT_CHARS: Final = 4096
MAX_LOG_LINES: Final = 100
MAX_LOG_LINE_CHARS: Final = 1000
MAX_HOLD_SECONDS: Final = 25
MAX_NAME_CHARS: Final = 253
MAX_UID_CHARS: Final = 63
MAX_REASON_CHARS: Final = 128
#: Top-level keys of inputs and of outputs, and the longest timeout: the CRDs' bounds, so a
#: body this side accepts is one the API server accepts too.
MAX_OBJECT_KEYS: Final = 256
MAX_TIMEOUT_SECONDS: Final = 2592000
MAX_TIME_CHARS: Final = 64
#: Largest integer every JSON implementation represents exactly (2^53 - 1).
MAX_VERSION: Final = 9007199254740991
MAX_ERROR_REASON_CHARS: Final = 64
#: Deepest nesting of inputs, outputs and setting values (the value itself is level 1). Far
#: above what data needs, far below what recursive code (a store's deep copy, a JSON encoder)
#: survives: 8 KiB of brackets would otherwise reach Python's recursion limit.
MAX_JSON_DEPTH: Final = 64


def json_depth(value: Any) -> int:
    """Nesting levels of a JSON value (a scalar is 0, ``{}`` is 1), measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            return level  # deep enough to refuse; no need to walk the rest
        stack.extend((child, level + 1) for child in children)
    return deepest


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, the form in which it is sent and stored.

    Raises ``ValueError`` for what JSON cannot carry: an unpaired surrogate, NaN or infinity,
    or nesting deeper than ``MAX_JSON_DEPTH``.
    """
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return len(
            json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        )
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate, not valid Unicode text") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
