"""Parsing untrusted JSON (request bodies, WebSocket frames) within bounds.

The standard parser accepts what later code cannot hold: nesting deep enough to
exhaust the recursion limit, integers of thousands of digits, `Infinity`, and
strings with lone UTF-16 surrogates (`"\\ud800"`) that no database or socket can
encode, or with NUL, which PostgreSQL refuses. Each is refused here, before
anything else sees the document, as `InvalidInput` (a 400, or an error frame on
a socket). `check_text` applies the same rule to path and query values.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from handoff.domain import InvalidInput

MAX_DEPTH = 16
MAX_INTEGER_DIGITS = 18  # anything the API takes fits in 64 bits
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def loads(raw: bytes | str) -> Any:
    """The JSON document in `raw`, or InvalidInput saying what is wrong with it."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    _check_depth(data)
    try:
        document = json.loads(data, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from None
    _check_texts(document)
    return document


def check_text(value: str) -> None:
    """Refuse text no store can keep: lone surrogates (they decode, but cannot be
    encoded) and NUL (PostgreSQL refuses it in text)."""
    if "\x00" in value:
        raise InvalidInput("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("text must be valid Unicode (no lone surrogates)") from None


def _check_texts(document: Any) -> None:
    if isinstance(document, str):
        check_text(document)
    elif isinstance(document, dict):
        for key, value in document.items():
            check_text(key)
            _check_texts(value)
    elif isinstance(document, list):
        for item in document:
            _check_texts(item)


def _check_depth(data: bytes) -> None:
    depth = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b'""', data)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > MAX_DEPTH:
            raise InvalidInput(f"JSON must not nest deeper than {MAX_DEPTH} levels")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InvalidInput(f"numbers must have at most {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput("numbers must be finite")
    return value


def _constant(name: str) -> float:
    raise InvalidInput(f"{name} is not a JSON number")
