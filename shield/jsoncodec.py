"""JSON parsing and serialisation that never corrupts numbers.

orjson is fast but reads integers beyond 64 bits and long decimals as doubles, silently
changing them. A cheap byte scan spots bodies with long digit runs; those take an exact
path that keeps such numbers as their original text (:class:`RawNumber`), written back
verbatim with ``orjson.Fragment``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["MalformedJSON", "RawNumber", "dumps", "has_duplicate_keys", "loads"]

# Digits and dots become "0", "e"/"E" "e", "-" itself, everything else " ": a long run of "0"
# marks a number (or a string) that a double might not hold exactly. bytes.translate + `in`
# is ~50x faster than a regex over digit-heavy bodies.
_SHAPE_MAP = bytes(
    ord("0") if c in "0123456789." else ord("e") if c in "eE" else ord("-") if c == "-" else ord(" ")
    for c in map(chr, range(256))
)
_RISKY_RUN = b"0" * 16
# A three-digit negative exponent may underflow a double (1e-400 -> 0.0, 7e-324 -> 5e-324).
_TINY_EXPONENT = re.compile(rb"[eE]-0*[1-9][0-9]{2}")
# What any match of it leaves in the shape: the regex runs only when this is found. One search
# of the shape costs less than half of the two for b"e-" and b"E-" in the body it replaces.
_TINY_EXPONENT_SHAPE = b"e-000"
_MAX_EXACT_INT_DIGITS = 18  # always fits orjson's 64-bit integers


class MalformedJSON(ValueError):
    """The body is not valid JSON (RFC 8259); NaN and Infinity are refused too."""


class RawNumber:
    """A JSON number kept as its exact source text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def loads(body: bytes | str) -> Any:
    """Parse a JSON document; numbers that a double cannot hold come back as RawNumber."""
    raw = body.encode() if isinstance(body, str) else body
    shape = raw.translate(_SHAPE_MAP)
    tiny = _TINY_EXPONENT_SHAPE in shape and _TINY_EXPONENT.search(raw) is not None
    if not tiny and _RISKY_RUN not in shape:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # maybe only a number orjson cannot hold (1e400): the exact path decides
    return _exact_loads(raw)


def dumps(document: Any) -> bytes:
    """Serialise compactly; RawNumber is written back verbatim."""
    try:
        return orjson.dumps(document, default=_fragment)
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate from a "\\ud800" escape
        raise MalformedJSON(f"cannot be re-encoded: {exc}") from exc


def _fragment(value: object) -> orjson.Fragment:
    if isinstance(value, RawNumber):
        return orjson.Fragment(value.text)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _exact_int(text: str) -> int | RawNumber:
    return int(text) if len(text.lstrip("-")) <= _MAX_EXACT_INT_DIGITS else RawNumber(text)


def _refuse_constant(name: str) -> Any:
    raise MalformedJSON(f"{name} is not valid JSON")


def _exact_loads(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_float=RawNumber, parse_int=_exact_int, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise MalformedJSON("body is not valid UTF-8") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise MalformedJSON(str(exc) if not isinstance(exc, RecursionError) else "nested too deeply") from exc


class _DuplicateKey(Exception):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def has_duplicate_keys(raw: bytes) -> bool:
    """True when an object in the (valid) JSON document repeats a key."""
    try:
        json.loads(raw, object_pairs_hook=_refuse_duplicates, parse_float=str, parse_int=str)
    except _DuplicateKey:
        return True
    except RecursionError as exc:
        raise MalformedJSON("nested too deeply to check for duplicate keys") from exc
    return False
