"""RFC 8288 ``Link`` header values: split into links, rewrite their targets, join again.

Only what pagination needs: each link's target and its ``rel`` types. Parameters are kept
verbatim. A value that does not parse is reported as ``None`` so the caller can drop it rather
than pass on a link it could not check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Link", "format_links", "parse_links"]

# One link-value: <target> followed by ;-separated parameters (quoted strings may hold , and ;).
_LINK = re.compile(
    r"""\s*<(?P<target>[^<>]*)>(?P<params>(?:\s*;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^",;]*))?)*)\s*(?:,|$)"""
)
_REL = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^",;\s]+))""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Link:
    target: str
    params: str  # verbatim, starting with ";" (or empty)

    @property
    def rels(self) -> frozenset[str]:
        """The relation types, lower-cased (``rel="next last"`` has two)."""
        found = _REL.search(self.params)
        if found is None:
            return frozenset()
        value = found.group("quoted") if found.group("quoted") is not None else found.group("token")
        return frozenset(value.lower().split())


def parse_links(value: str) -> list[Link] | None:
    """The links of one header value; None when any part of it does not parse."""
    links = []
    position = 0
    text = value.strip()
    while position < len(text):
        match = _LINK.match(text, position)
        if match is None or match.end() == position:
            return None
        links.append(Link(match.group("target"), match.group("params").strip()))
        position = match.end()
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
