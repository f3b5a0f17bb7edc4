"""RFC 8288 ``Link`` header values: split into links, rewrite their targets, join again.

Only what pagination needs: each link's target and its ``rel`` types (from the first ``rel``
parameter, as RFC 8288 §3.3 says). Parameters are kept verbatim. A value that does not parse is
reported as ``None`` so the caller can drop it rather than pass on a link it could not check.

The parser is a sequence of small anchored patterns, none of which can match the same text two
ways, so it runs in linear time whatever an app (or a client whose input the app echoes) puts in
the header; values longer than :data:`MAX_LENGTH` are not parsed at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_LENGTH", "Link", "format_links", "parse_links", "rewrite_links"]

MAX_LENGTH = 8192
_TARGET = re.compile(r"[ \t]*<([^<>]*)>[ \t]*")
_PARAM_NAME = re.compile(r";[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*")
_PARAM_VALUE = re.compile(r"=[ \t]*(?:\"((?:[^\"\\]|\\.)*)\"|([^\",;\s]*))[ \t]*")
_SEPARATOR = re.compile(r",[ \t]*")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class Link:
    target: str
    params: str  # verbatim, starting with ";" (or empty)
    rels: frozenset[str] = frozenset()  # lower-cased relation types (``rel="next last"`` has two)


def parse_links(value: str) -> list[Link] | None:
    """The links of one header value; None when any part of it does not parse."""
    if len(value) > MAX_LENGTH:
        return None
    text = value.strip()
    links: list[Link] = []
    position = 0
    while position < len(text):
        target = _TARGET.match(text, position)
        if target is None:
            return None
        position = target.end()
        params_start = position
        rels: frozenset[str] | None = None
        while (name := _PARAM_NAME.match(text, position)) is not None:
            position = name.end()
            param_value = ""
            found = _PARAM_VALUE.match(text, position)
            if found is not None:
                position = found.end()
                quoted = found.group(1)
                param_value = _ESCAPE.sub(r"\1", quoted) if quoted is not None else found.group(2)
            if rels is None and name.group(1).lower() == "rel":  # only the first rel counts
                rels = frozenset(param_value.lower().split())
        links.append(Link(target.group(1), text[params_start:position].strip(), rels or frozenset()))
        if position == len(text):
            break
        separator = _SEPARATOR.match(text, position)
        if separator is None or separator.end() == len(text):
            return None
        position = separator.end()
    return links


def format_links(links: list[Link]) -> str:
    return ", ".join(f"<{link.target}>{link.params}" for link in links)


def rewrite_links(value: str, rewrite: Callable[[Link], Link | None]) -> str | None:
    """Apply ``rewrite`` to each link (None drops it); None when the value does not parse."""
    links = parse_links(value)
    if links is None:
        return None
    kept = [new for link in links if (new := rewrite(link)) is not None]
    return format_links(kept)
