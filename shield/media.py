"""Which responses shield reads, and how: decided from the Content-Type header."""

from __future__ import annotations

import codecs
from enum import Enum

__all__ = ["BodyKind", "charset_of", "classify"]

_NDJSON = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"})
_TEXT = frozenset({"text/plain", "text/html"})
_JSON = frozenset({"application/json", "text/json", "application/x-json", "text/x-json"})


class BodyKind(Enum):
    """How a body is inspected."""

    JSON = "json"  # buffered, parsed once
    LINES = "lines"  # NDJSON, masked line by line while streaming
    EVENTS = "events"  # text/event-stream, masked event by event while streaming
    TEXT = "text"  # buffered free text (text/plain, text/html), when the policy enables it
    UNKNOWN = "unknown"  # no Content-Type: sniffed (JSON, else text) so nothing slips by unlabelled
    OPAQUE = "opaque"  # images, archives, ...: streamed through untouched


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def classify(content_type: str | None, *, text_bodies: bool) -> BodyKind:
    """Map a Content-Type to the way shield reads the body."""
    if content_type is None or not content_type.strip():
        return BodyKind.UNKNOWN
    media = media_type(content_type)
    if media in _JSON or media.endswith("+json"):
        return BodyKind.JSON
    if media in _NDJSON:
        return BodyKind.LINES
    if media == "text/event-stream":
        return BodyKind.EVENTS
    if media in _TEXT:
        return BodyKind.TEXT if text_bodies else BodyKind.OPAQUE
    return BodyKind.OPAQUE


def charset_of(content_type: str | None, default: str = "utf-8") -> str | None:
    """The declared charset's codec name, or None when Python does not know it."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            try:
                return codecs.lookup(value.strip().strip('"')).name
            except LookupError:
                return None
    return default
