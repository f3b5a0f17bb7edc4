"""Query strings as the app will read them, and the parameters shield guards in them.

A guarded parameter (a native page position, a cursor, a sealed ID) must arrive exactly once
and spelled exactly as declared. Frameworks disagree on ``offset=0&offset=500`` (first or
last wins), on case (``OFFSET``) and on array syntax (``offset[]``), so anything that some
framework might read as the guarded parameter, but that is not exactly it, is refused rather
than guessed at: a position cannot be smuggled past the check.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, urlencode

from shield.errors import RefusedParameter

__all__ = ["Pairs", "canonical_name", "encode_query", "guarded_values", "parse_query"]

Pairs = list[tuple[str, str]]
# What quote_plus leaves as it is (urllib.parse's always-safe set): strip() of these empties a
# string that needs no quoting.
_UNRESERVED = string.ascii_letters + string.digits + "_.-~"


def parse_query(raw: bytes | str) -> Pairs:
    """The pairs Starlette's ``request.query_params`` holds for this query string."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True)
    # Nothing escaped: what parse_qsl returns, without its per-field unquoting (every link).
    pairs: Pairs = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((name, value))
    return pairs


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """``urlencode``, which quotes every name and value even when (a cursor, a number) none needs it."""
    pairs = list(pairs)
    fields: list[str] = []
    for pair in pairs:
        name, value = pair
        if type(pair) is not tuple or type(name) is not str or type(value) is not str:
            return urlencode(pairs)
        if name.strip(_UNRESERVED) or value.strip(_UNRESERVED):  # some character to quote
            return urlencode(pairs)
        fields.append(f"{name}={value}")
    return "&".join(fields)


def canonical_name(name: str) -> str:
    """What lenient frameworks read a name as: trimmed, lower-cased, without ``[...]``."""
    bracket = name.find("[")
    if bracket >= 0:
        name = name[:bracket]
    return name.strip().lower()


def guarded_values(pairs: Sequence[tuple[str, str]], names: Iterable[str]) -> dict[str, str]:
    """The value of each guarded parameter present, by its declared name.

    Raises :class:`~shield.errors.RefusedParameter` for a guarded parameter given twice or
    spelled differently from its declaration.
    """
    declared = _declared(tuple(names))
    found: dict[str, str] = {}
    for name, value in pairs:
        expected = declared.get(canonical_name(name))
        if expected is None:
            continue
        if name != expected:
            raise RefusedParameter("misspelled", f"parameter {name!r} is not accepted; use {expected!r}")
        if expected in found:
            raise RefusedParameter("duplicate", f"parameter {expected!r} must not be given more than once")
        found[expected] = value
    return found


@functools.lru_cache(maxsize=256)
def _declared(names: tuple[str, ...]) -> dict[str, str]:
    """Each guarded name by what lenient frameworks read it as; routes guard the same few names on every request."""
    return {canonical_name(name): name for name in names}
