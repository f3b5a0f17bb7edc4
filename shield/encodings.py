"""Content-Encoding handling: decode what shield must read, re-encode what it wrote.

Only gzip and deflate are understood; anything else on an inspected response fails
closed. Decoding is bounded (a small compressed body cannot expand past the limit).
"""

from __future__ import annotations

import zlib

from shield.errors import UnmaskableResponse

__all__ = ["SUPPORTED", "BodyCodec", "codec_for"]

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS
SUPPORTED = ("identity", "gzip", "x-gzip", "deflate")


class BodyCodec:
    """Incremental, size-bounded decoder plus the matching encoder for one response."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self._limit = limit
        self._decoded = 0
        self._identity = encoding == "identity"
        self._decoder: zlib._Decompress | None = None
        self._encoder: zlib._Compress | None = None
        self._pending_deflate = b""

    @property
    def identity(self) -> bool:
        return self._identity

    def decode(self, chunk: bytes) -> bytes:
        """Decode the next chunk; raises UnmaskableResponse past the limit or on corrupt data."""
        if self._identity:
            data = chunk
        else:
            try:
                data = self._inflate(chunk)
            except zlib.error as exc:
                raise UnmaskableResponse("corrupt-encoding", f"cannot decode {self.encoding} body") from exc
        self._decoded += len(data)
        if self._decoded > self._limit:
            raise UnmaskableResponse("body-too-large", f"decoded body exceeds max_body_bytes ({self._limit})")
        return data

    def finish(self) -> None:
        """Refuse a truncated compressed stream: its tail was never inspected."""
        if self._identity:
            return
        if self._decoder is None and self._pending_deflate:
            try:
                self._inflate(b"", force=True)
            except zlib.error as exc:  # a one-byte "deflate" body is sniffed only here
                raise UnmaskableResponse("corrupt-encoding", f"cannot decode {self.encoding} body") from exc
        if self._decoder is not None and not self._decoder.eof:
            raise UnmaskableResponse("corrupt-encoding", f"truncated {self.encoding} body")

    def release(self) -> None:
        """Restart the size budget: a streamed body is bounded per message, not in total."""
        self._decoded = 0

    def encode(self, data: bytes, *, final: bool) -> bytes:
        """Re-encode output in the response's own encoding (sync-flushed while streaming)."""
        if self._identity:
            return data
        if self._encoder is None:
            wbits = _ZLIB_WBITS if self.encoding == "deflate" else _GZIP_WBITS
            self._encoder = zlib.compressobj(6, zlib.DEFLATED, wbits)
        out = self._encoder.compress(data)
        return out + self._encoder.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)

    def _inflate(self, chunk: bytes, *, force: bool = False) -> bytes:
        if self._decoder is None:
            if self.encoding != "deflate":
                self._decoder = zlib.decompressobj(_GZIP_WBITS)
            else:
                # "deflate" is zlib-wrapped by the RFC, raw in some servers: sniff the header.
                self._pending_deflate += chunk
                if len(self._pending_deflate) < 2 and not force:
                    return b""
                head = self._pending_deflate
                wrapped = len(head) >= 2 and (head[0] & 0x0F) == 8 and (head[0] << 8 | head[1]) % 31 == 0
                self._decoder = zlib.decompressobj(_ZLIB_WBITS if wrapped else _RAW_DEFLATE_WBITS)
                chunk, self._pending_deflate = head, b""
        out = bytearray()
        while chunk:
            room = self._limit - self._decoded - len(out) + 1
            out += self._decoder.decompress(chunk, max(room, 1))
            if len(out) + self._decoded > self._limit:
                break  # decode() raises: never inflate a bomb to the end
            chunk = self._decoder.unconsumed_tail
            if self._decoder.eof and self._decoder.unused_data and self.encoding != "deflate":
                chunk = self._decoder.unused_data  # concatenated gzip members
                self._decoder = zlib.decompressobj(_GZIP_WBITS)
        return bytes(out)


def codec_for(content_encoding: str, limit: int) -> BodyCodec | None:
    """The codec for a Content-Encoding header value, or None when shield cannot read it."""
    encoding = content_encoding.strip().lower() or "identity"
    if encoding not in SUPPORTED:
        return None  # br, zstd, compress or a list of several encodings
    return BodyCodec("gzip" if encoding == "x-gzip" else encoding, limit)
