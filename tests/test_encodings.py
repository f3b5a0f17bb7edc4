"""Content-Encoding: bounded decoding, faithful re-encoding, refusal of the unknown."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shield.encodings import codec_for
from shield.errors import UnmaskableResponse

PAYLOAD = b'{"phone": "13800138000"}' * 200


def compressed(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    return zlib.compress(data)[2:-4]  # raw deflate, as some servers send it


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
@given(chunk=st.integers(min_value=1, max_value=300))
def test_decodes_in_any_chunking(encoding: str, chunk: int) -> None:
    body = compressed(encoding, PAYLOAD)
    codec = codec_for("deflate" if encoding == "raw-deflate" else encoding, 10**6)
    assert codec is not None
    out = b"".join(codec.decode(body[i : i + chunk]) for i in range(0, len(body), chunk))
    codec.finish()
    assert out == PAYLOAD


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_reencodes_in_the_same_encoding(encoding: str) -> None:
    codec = codec_for(encoding, 10**6)
    assert codec is not None
    streamed = codec.encode(b"abc", final=False) + codec.encode(b"def", final=True)
    decoded = gzip.decompress(streamed) if encoding == "gzip" else zlib.decompress(streamed)
    assert decoded == b"abcdef"


def test_concatenated_gzip_members() -> None:
    codec = codec_for("x-gzip", 10**6)
    assert codec is not None
    assert codec.decode(gzip.compress(b"ab") + gzip.compress(b"cd")) == b"abcd"


def test_bomb_is_stopped_at_the_limit() -> None:
    codec = codec_for("gzip", 10_000)
    assert codec is not None
    with pytest.raises(UnmaskableResponse, match="body-too-large"):
        codec.decode(gzip.compress(b"0" * 50_000_000))


def test_truncated_and_corrupt_streams_are_refused() -> None:
    codec = codec_for("gzip", 10**6)
    assert codec is not None
    codec.decode(gzip.compress(PAYLOAD)[:-12])
    with pytest.raises(UnmaskableResponse, match="truncated"):
        codec.finish()
    corrupt = codec_for("gzip", 10**6)
    assert corrupt is not None
    with pytest.raises(UnmaskableResponse, match="corrupt-encoding"):
        corrupt.decode(b"\x1f\x8b\x08\x00garbage-garbage")


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br", "identity, gzip"])
def test_unknown_encodings_have_no_codec(encoding: str) -> None:
    assert codec_for(encoding, 10) is None


def test_identity() -> None:
    codec = codec_for("", 10)
    assert codec is not None
    assert codec.identity
    assert codec.decode(b"0123456789") == b"0123456789"
    with pytest.raises(UnmaskableResponse):
        codec.decode(b"x")
