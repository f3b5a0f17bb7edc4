"""The per-request ``send`` wrapper: where responses are held, inspected and rewritten.

Modelled on Starlette's GZipMiddleware: ``http.response.start`` is held until shield
knows what it will send. Inspected bodies are either buffered (JSON, text, unlabelled)
or rewritten line by line / event by event while streaming (NDJSON, SSE). Anything shield
must read but cannot is answered with a 502 problem: it fails closed, never open.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.types import Message, Send

from shield import jsoncodec
from shield.encodings import BodyCodec, codec_for
from shield.errors import UnmaskableResponse
from shield.media import BodyKind, charset_of, classify
from shield.monitor import Refusal
from shield.pipeline import Exchange, ResponsePipeline
from shield.problems import Problem, send_problem

__all__ = ["ResponseGuard", "private_headers"]

logger = logging.getLogger("shield")
T = TypeVar("T")

# Headers that describe the exact bytes the app produced: wrong once shield rewrites them.
_REPRESENTATION_HEADERS = frozenset(
    {b"content-length", b"etag", b"content-md5", b"digest", b"content-digest", b"repr-digest", b"accept-ranges"}
)
VARY_ON_VIEWER = ("Authorization", "Cookie")
_UNPARSED: Any = object()
_UTF8_BOM = b"\xef\xbb\xbf"


class _Mode(enum.Enum):
    HOLD = "hold"  # waiting for http.response.start
    FORWARD = "forward"  # passing messages on untouched
    BUFFER = "buffer"  # collecting the whole body
    STREAM = "stream"  # rewriting as it streams
    HEAD = "head"  # headers sent for a HEAD request: bodies are emptied
    DISCARD = "discard"  # a problem was sent: swallow the app's remaining messages


def not_maskable(reason: str, detail: str) -> Problem:
    return Problem(
        slug="response-not-maskable",
        title="Response could not be checked for personal data",
        status=502,
        detail=f"{detail} ({reason})",
    )


class ResponseGuard:
    """Wraps ``send`` for one HTTP request on a route whose responses are inspected."""

    __slots__ = (
        "_chunks",
        "_codec",
        "_content_type",
        "_exchange",
        "_held_cr",
        "_kind",
        "_limit",
        "_mode",
        "_pending",
        "_pipeline",
        "_problem_base",
        "_raw_size",
        "_send",
        "_start",
        "_stream_started",
        "_text_bodies",
        "_vary_on",
    )

    def __init__(
        self,
        send: Send,
        exchange: Exchange,
        pipeline: ResponsePipeline,
        *,
        text_bodies: bool,
        max_body_bytes: int,
        problem_base: str,
        vary_on: tuple[str, ...] = VARY_ON_VIEWER,
    ) -> None:
        self._send = send
        self._exchange = exchange
        self._pipeline = pipeline
        self._text_bodies = text_bodies
        self._limit = max_body_bytes
        self._problem_base = problem_base
        self._vary_on = vary_on
        self._mode = _Mode.HOLD
        self._start: Message = {}
        self._kind = BodyKind.OPAQUE
        self._content_type: str | None = None
        self._codec: BodyCodec | None = None
        self._chunks: list[bytes] = []
        self._raw_size = 0
        self._pending = bytearray()
        self._held_cr = b""
        self._stream_started = False

    async def __call__(self, message: Message) -> None:
        mode = self._mode
        kind = message["type"]
        if mode is _Mode.FORWARD:
            await self._send(message)
        elif mode is _Mode.HEAD:  # a body the app sent anyway is never passed on unmasked
            if kind == "http.response.body":
                await self._send({**message, "body": b""})
        elif mode is _Mode.DISCARD:
            return
        elif kind == "http.response.start":
            if mode is _Mode.HOLD:
                await self._on_start(message)
            else:  # the app started twice: the first start was never sent, so refuse both
                await self._refuse(UnmaskableResponse("invalid-message-order", "a second http.response.start"))
        elif kind == "http.response.body":
            await self._on_body(message)
        elif kind in ("http.response.pathsend", "http.response.zerocopysend"):
            await self._refuse(UnmaskableResponse("file-response", "a file response cannot be inspected"))
        else:
            await self._send(message)

    async def _on_body(self, message: Message) -> None:
        if self._mode is _Mode.HOLD:
            await self._fail(UnmaskableResponse("invalid-message-order", "a body before http.response.start"))
            return
        try:
            if self._mode is _Mode.BUFFER:
                await self._buffer(message)
            else:
                await self._stream(message)
        except UnmaskableResponse as exc:
            await self._fail(exc)

    async def _refuse(self, refusal: UnmaskableResponse) -> None:
        """Fail closed: a 502 before anything was sent, a final problem record in a stream."""
        await (self._abort_stream(refusal) if self._mode is _Mode.STREAM else self._fail(refusal))

    # -- start ---------------------------------------------------------------------

    async def _on_start(self, message: Message) -> None:
        status: int = message["status"]
        self._exchange.status = status
        raw_headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))  # optional in ASGI
        content_types, encodings = _content_headers(raw_headers)
        if len(content_types) > 1:  # clients disagree on which one counts: refuse to guess
            await self._fail(UnmaskableResponse("ambiguous-content-type", "several different Content-Type headers"))
            return
        content_type = content_types.pop().decode("latin-1") if content_types else None
        self._content_type = content_type
        self._kind = classify(content_type, text_bodies=self._text_bodies)
        try:  # Link headers carry positions, whatever the body (103 Early Hints too)
            raw_headers = _inspect(self._pipeline.headers, raw_headers, self._exchange)
        except UnmaskableResponse as exc:
            await self._fail(exc)
            return
        if status < 200:  # informational: the real response is still to come
            await self._send({**message, "headers": raw_headers})
            return
        raw_headers += self._exchange.headers
        message = {**message, "headers": raw_headers}
        if status in (204, 304) or self._kind is BodyKind.OPAQUE:
            if self._pipeline.viewer_dependent:  # its headers (a 304 refreshes a cached body) are the caller's
                message = {**message, "headers": private_headers(raw_headers, self._vary_on)}
            self._mode = _Mode.FORWARD
            await self._send(message)
            return
        refusal = self._refusal_at_start(status)
        if refusal is not None:
            await self._fail(refusal)
            return
        # Every Content-Encoding line counts: "identity" first must not hide a "gzip" after it.
        encoding = b", ".join(encodings).decode("latin-1")
        self._codec = codec_for(encoding, self._limit)
        if self._codec is None:
            await self._fail(
                UnmaskableResponse("unsupported-encoding", f"content-encoding {encoding!r} cannot be read")
            )
            return
        if self._pipeline.viewer_dependent:
            raw_headers = private_headers(raw_headers, self._vary_on)
        self._start = {**message, "headers": raw_headers}
        if self._exchange.scope.get("method") == "HEAD":
            # The masked length is unknowable without the body, and no body may follow.
            self._start["headers"] = [(k, v) for k, v in raw_headers if k.lower() != b"content-length"]
            self._mode = _Mode.HEAD
            await self._send(self._start)
        elif self._kind in (BodyKind.LINES, BodyKind.EVENTS):
            self._start["headers"] = _without_representation(raw_headers)
            self._mode = _Mode.STREAM
            await self._send(self._start)
        else:
            self._mode = _Mode.BUFFER

    def _refusal_at_start(self, status: int) -> UnmaskableResponse | None:
        """What makes an inspected response uncheckable from its start line alone."""
        if status == 206:
            return UnmaskableResponse("partial-content", "a range of an inspected body cannot be checked")
        streamed = self._kind in (BodyKind.LINES, BodyKind.EVENTS)
        if streamed and self._exchange.settle is not None and 200 <= status < 300:
            # Records would leave before they could be counted against the budget.
            return UnmaskableResponse("streamed-records", "record quotas need a buffered body")
        return None

    # -- buffered bodies -------------------------------------------------------------

    async def _buffer(self, message: Message) -> None:
        chunk: bytes = message.get("body", b"")
        self._raw_size += len(chunk)
        if self._raw_size > self._limit:
            raise UnmaskableResponse("body-too-large", f"body exceeds max_body_bytes ({self._limit})")
        if chunk:
            self._chunks.append(chunk)
        if message.get("more_body", False):
            return
        original = b"".join(self._chunks)
        self._chunks = []
        rewritten = _inspect(self._rewrite, original)
        if self._exchange.settle is not None and 200 <= self._exchange.status < 300:
            try:
                verdict = await self._exchange.settle()
            except Exception as exc:  # a bug must not let uncounted records out
                logger.exception("shield could not charge a response's records; it was refused")
                raise UnmaskableResponse("internal-error", "the response's records could not be counted") from exc
            if verdict.problem is not None:  # the records do not fit: none of them is sent
                self._exchange.refusal = verdict.refusal
                self._mode = _Mode.DISCARD
                await send_problem(self._send, verdict.problem, self._problem_base, verdict.headers)
                return
            self._start["headers"] = [*self._start["headers"], *verdict.headers]
        if rewritten is not None:
            original_headers = self._start["headers"]
            headers = _without_representation(original_headers)
            headers.append((b"content-length", str(len(rewritten)).encode()))
            if any(name.lower() == b"accept-ranges" for name, _ in original_headers):
                headers.append((b"accept-ranges", b"none"))  # Range is stripped on inspected routes
            self._start["headers"] = headers
        self._mode = _Mode.FORWARD
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": original if rewritten is None else rewritten})

    def _rewrite(self, original: bytes) -> bytes | None:
        """The new body, or None when nothing changed (the original goes out byte-identical)."""
        codec = self._codec
        assert codec is not None  # set in _on_start before BUFFER mode
        decoded = codec.decode(original)
        codec.finish()
        if not decoded.strip():
            return None
        document = _UNPARSED
        if self._kind is BodyKind.UNKNOWN:  # unlabelled: JSON if it parses, text if it decodes
            decoded = decoded.removeprefix(_UTF8_BOM)  # clients drop it and read JSON
            try:
                document = jsoncodec.loads(decoded)
            except jsoncodec.MalformedJSON:
                # NUL bytes are valid UTF-8, but they mean UTF-16/32 text that clients decode.
                if b"\x00" in decoded or not _is_utf8(decoded):
                    raise UnmaskableResponse(
                        "unlabelled-body", "a body without Content-Type is neither JSON nor UTF-8 text"
                    ) from None
        elif self._kind is BodyKind.JSON:
            decoded = decoded.removeprefix(_UTF8_BOM)
            document = _parse(decoded)
        if document is not _UNPARSED:
            if self._exchange.tally is not None:  # the raw records, before any stage rewrites them
                self._exchange.tally.count(document)
            document, changes = self._pipeline.document(document, self._exchange)
            if not changes:
                _check_lossless(document, decoded)
                return None
            return codec.encode(_serialise(document), final=True)
        charset = charset_of(self._content_type) or ""
        try:
            text = decoded.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise UnmaskableResponse(
                "invalid-body", f"body is not valid {charset or 'text in a known charset'}"
            ) from exc
        masked = self._pipeline.text(text, self._exchange)
        if masked is text:
            return None
        return codec.encode(masked.encode(charset, errors="strict"), final=True)

    # -- streamed bodies (NDJSON, SSE) ----------------------------------------------

    async def _stream(self, message: Message) -> None:
        codec = self._codec
        assert codec is not None  # set in _on_start before STREAM mode
        more = message.get("more_body", False)
        try:
            out = _inspect(self._rewrite_chunk, codec, message.get("body", b""), more)
        except UnmaskableResponse as exc:
            await self._abort_stream(exc)
            return
        body = codec.encode(out, final=not more)
        if body or not more:
            await self._send({"type": "http.response.body", "body": body, "more_body": more})

    def _rewrite_chunk(self, codec: BodyCodec, chunk: bytes, more: bool) -> bytes:
        """Mask every complete record so far; hold back the incomplete tail.

        Only the new bytes are normalised and searched, so one record spread over many
        chunks costs linear, not quadratic, time.
        """
        codec.release()  # records are bounded (self._pending below), the whole stream is not
        data = codec.decode(chunk)
        if not more:
            codec.finish()
        if not self._stream_started:
            if not data and more:
                return b""
            data = data.removeprefix(_UTF8_BOM)  # clients drop it; the first field must still parse
            self._stream_started = True
        if self._kind is BodyKind.EVENTS:  # SSE ends lines with CRLF, LF or a lone CR
            data = self._held_cr + data
            self._held_cr = b""
            if more and data.endswith(b"\r"):
                data, self._held_cr = data[:-1], b"\r"  # may be the first half of a CRLF
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        separator = b"\n\n" if self._kind is BodyKind.EVENTS else b"\n"
        pending = self._pending
        searched_from = max(0, len(pending) - len(separator) + 1)
        pending += data
        if more:
            end = pending.rfind(separator, searched_from)
            if end < 0:
                ready = b""
            else:
                end += len(separator)
                ready = bytes(pending[:end])
                del pending[:end]
        else:
            ready = bytes(pending)
            pending.clear()
        if len(pending) > self._limit:
            raise UnmaskableResponse("body-too-large", f"a streamed record exceeds max_body_bytes ({self._limit})")
        if not ready:
            return b""
        return self._rewrite_events(ready) if self._kind is BodyKind.EVENTS else self._rewrite_lines(ready)

    def _rewrite_lines(self, data: bytes) -> bytes:
        lines = data.split(b"\n")
        for index, line in enumerate(lines):
            if line.strip():
                masked = self._document_bytes(line)
                if masked is not None:
                    lines[index] = masked
        return b"\n".join(lines)

    def _rewrite_events(self, data: bytes) -> bytes:
        events = data.split(b"\n\n")
        return b"\n\n".join(self._rewrite_event(event) for event in events)

    def _rewrite_event(self, event: bytes) -> bytes:
        if not event:
            return event
        out: list[bytes] = []
        data_lines: list[bytes] = []
        data_at = -1
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                if data_at < 0:
                    data_at = len(out)
                    out.append(b"")
                data_lines.append(line[6:] if line.startswith(b"data: ") else line[5:])
            else:
                out.append(self._text_bytes(line))
        if data_at >= 0:
            payload = b"\n".join(data_lines)
            masked = self._document_bytes(payload, or_text=True)
            new = payload if masked is None else masked
            out[data_at] = b"\n".join(b"data: " + part for part in new.split(b"\n"))
        return b"\n".join(out)

    def _document_bytes(self, raw: bytes, *, or_text: bool = False) -> bytes | None:
        """Mask one JSON record (an NDJSON line, an SSE payload); None when unchanged."""
        try:
            document = jsoncodec.loads(raw)
        except jsoncodec.MalformedJSON as exc:
            if or_text:
                text = self._text_bytes(raw)
                return None if text is raw else text
            raise UnmaskableResponse("invalid-body", "a streamed record is not valid JSON") from exc
        document, changes = self._pipeline.document(document, self._exchange)
        if changes:
            return _serialise(document)
        _check_lossless(document, raw)
        return None

    def _text_bytes(self, raw: bytes) -> bytes:
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            raise UnmaskableResponse("invalid-body", "a streamed event is not valid UTF-8") from exc
        masked = self._pipeline.text(text, self._exchange)
        return raw if masked is text else masked.encode()

    async def _abort_stream(self, exc: UnmaskableResponse) -> None:
        """The stream has started, so a 502 is impossible: end it with a problem record."""
        self._exchange.refusal = Refusal("failed_closed", exc.reason, 502)
        problem = not_maskable(exc.reason, exc.detail).body(self._problem_base)
        record = (
            b"event: shield-error\ndata: " + problem + b"\n\n" if self._kind is BodyKind.EVENTS else problem + b"\n"
        )
        self._mode = _Mode.DISCARD
        codec = self._codec
        body = record if codec is None else codec.encode(record, final=True)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    # -- failing closed -------------------------------------------------------------

    async def _fail(self, exc: UnmaskableResponse) -> None:
        """Nothing of the app's response is sent: only a 502 problem document."""
        self._exchange.refusal = Refusal("failed_closed", exc.reason, 502)
        self._mode = _Mode.DISCARD
        self._chunks = []
        await send_problem(self._send, not_maskable(exc.reason, exc.detail), self._problem_base)


def _content_headers(headers: list[tuple[bytes, bytes]]) -> tuple[set[bytes], list[bytes]]:
    """Content-Type values and Content-Encoding lines, in one pass (every inspected response)."""
    content_types: set[bytes] = set()
    encodings: list[bytes] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-type":
            content_types.add(value)
        elif lowered == b"content-encoding":
            encodings.append(value)
    return content_types, encodings


def _without_representation(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Drop the headers that describe the app's exact bytes (and ranges of them)."""
    return [(name, value) for name, value in headers if name.lower() not in _REPRESENTATION_HEADERS]


def private_headers(headers: list[tuple[bytes, bytes]], vary_on: tuple[str, ...]) -> list[tuple[bytes, bytes]]:
    """Content that depends on who asks must never be served from a shared cache.

    Header names are compared case-insensitively: an app's ``Cache-Control: public`` must
    not survive next to the ``private`` shield adds.
    """
    directives: list[str] = []
    vary: list[str] = []
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in (b"cache-control", b"vary"):
            items = [item.strip() for item in value.decode("latin-1").split(",") if item.strip()]
            (directives if lowered == b"cache-control" else vary).extend(items)
        else:
            kept.append((name, value))
    directives = [d for d in directives if d.lower() != "public" and not d.lower().startswith("s-maxage")]
    if not any(d.lower() in ("private", "no-store") for d in directives):
        directives.insert(0, "private")
    present = {item.lower() for item in vary}
    if "*" not in present:
        vary += [name for name in vary_on if name.lower() not in present]
    kept.append((b"cache-control", ", ".join(directives).encode("latin-1")))
    kept.append((b"vary", ", ".join(vary).encode("latin-1")))
    return kept


def _inspect(work: Callable[..., T], *args: Any) -> T:
    """Run one inspection step; whatever goes wrong inside it fails closed, never a 500.

    Only the inspection is guarded: errors from ``send`` itself (a client gone) propagate.
    """
    try:
        return work(*args)
    except UnmaskableResponse:
        raise
    except RecursionError as exc:
        raise UnmaskableResponse("invalid-body", "JSON nested too deeply to inspect") from exc
    except Exception as exc:
        logger.exception("shield could not inspect a response; it was refused")
        raise UnmaskableResponse("internal-error", "the response could not be inspected") from exc


def _parse(decoded: bytes) -> Any:
    try:
        return jsoncodec.loads(decoded)
    except jsoncodec.MalformedJSON as exc:
        raise UnmaskableResponse("invalid-body", "body is not valid JSON") from exc


def _serialise(document: Any) -> bytes:
    try:
        return jsoncodec.dumps(document)
    except jsoncodec.MalformedJSON as exc:
        raise UnmaskableResponse("invalid-body", "body cannot be re-encoded as JSON") from exc


def _check_lossless(document: Any, raw: bytes) -> None:
    """Before the original bytes go out unchanged, make sure the parse saw all of them.

    A parser keeps only the last of duplicate keys, so ``{"a": "<phone>", "a": 1}`` would
    hide the phone from every rule. Compact bodies (what Starlette and FastAPI send) are
    confirmed by one fast re-serialisation; others by a duplicate-key scan.
    """
    if _serialise(document) == raw.strip():
        return
    try:
        duplicated = jsoncodec.has_duplicate_keys(raw)
    except jsoncodec.MalformedJSON as exc:
        raise UnmaskableResponse("invalid-body", str(exc)) from exc
    if duplicated:
        raise UnmaskableResponse("invalid-body", "JSON object with duplicate keys")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
