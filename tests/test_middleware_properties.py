"""Properties of ShieldMiddleware over arbitrary JSON, served by a real Starlette app.

Personal data (Chinese mobiles and emails in free text, as values under any key, as JSON
integers, as keys) is injected at random places of random documents. Whatever the shape,
chunking or content encoding: no injected value reaches the client, the output is valid
JSON of the same shape, and a document without personal data comes back byte for byte.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import zlib
from typing import Any

import anyio
import httpx
from apps import body_app
from hypothesis import given
from hypothesis import strategies as st
from strategies import cn_mobiles, emails, filler_text, ordinary_digit_text, phone_numbers

from shield import Policy, ShieldMiddleware

# Only free-text detection and integer phones: no field rule may change a clean value.
POLICY = Policy.from_dict({"max_body_bytes": 1 << 20})


# --- marked personal data ------------------------------------------------------------------
# Subclasses serialise exactly like their base types; the mark says what must not survive.


class InjectedText(str):
    secret: str


class InjectedKey(str):
    secret: str


class InjectedInt(int):
    secret: str


def _mark(cls: type[Any], value: Any, secret: str) -> Any:
    marked = cls(value)
    marked.secret = secret
    return marked


# Personal data from the shared strategies: mainland mobiles in every common layout,
# international numbers as libphonenumber formats them, plausible email addresses.
phones = cn_mobiles() | phone_numbers()
mobile_integers = cn_mobiles().map(lambda text: int("".join(c for c in text if c.isdigit())[-11:]))
addresses = emails()

# Text that cannot hold personal data: no digits of any script, no "@" and no "+".
safe_text = st.text(
    st.characters(exclude_categories=("Cs", "Nd", "Nl", "No"), exclude_characters="@\uff0b+"),
    max_size=12,
)
# mask_integer only looks at 11-15 digit integers: everything else is a count, an id, a price.
safe_ints = st.integers().filter(lambda n: not 10**10 <= n < 10**15)
clean_scalars = st.one_of(
    st.none(),
    st.booleans(),
    safe_ints,
    st.floats(allow_nan=False, allow_infinity=False),
    safe_text,
    filler_text(),
    ordinary_digit_text(),  # dates, prices, versions, order numbers: digits that are not personal
)

# Around a number, ", " keeps a unit word ("5 km") or a code suffix from vetoing the detection.
context = filler_text() | safe_text
injected_values = st.one_of(
    # inside free text
    st.builds(lambda pre, phone, post: _mark(InjectedText, f"{pre} {phone}, {post}", phone), context, phones, context),
    st.builds(lambda pre, mail, post: _mark(InjectedText, f"{pre} {mail} {post}", mail), context, addresses, context),
    # the whole value
    st.builds(lambda phone: _mark(InjectedText, phone, phone), phones),
    st.builds(lambda mail: _mark(InjectedText, mail, mail), addresses),
    # a JSON integer
    st.builds(lambda number: _mark(InjectedInt, number, str(number)), mobile_integers),
)
injected_keys = st.one_of(
    st.builds(lambda phone: _mark(InjectedKey, phone, phone), phones),
    st.builds(lambda mail: _mark(InjectedKey, mail, mail), addresses),
)


def _dict_with(items: dict[str, Any], extra: tuple[str, Any] | None) -> dict[str, Any]:
    if extra is not None:
        items = {**items, extra[0]: extra[1]}
    return items


def documents(leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[str] | None) -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        plain = st.dictionaries(safe_text, children, max_size=4)
        if keys is not None:
            plain = st.builds(_dict_with, plain, st.none() | st.tuples(keys, children))
        return st.lists(children, max_size=4) | plain

    return st.recursive(leaves, extend, max_leaves=20)


clean_documents = documents(clean_scalars, None)


@st.composite
def dirty_documents(draw: st.DrawFn) -> Any:
    """A random document with at least one injected value somewhere."""
    document = draw(documents(clean_scalars | injected_values, injected_keys))
    if not secrets_in(document):
        document = [document, draw(injected_values)] if draw(st.booleans()) else {"x": document, draw(injected_keys): 1}
    return document


def secrets_in(document: Any) -> list[str]:
    found: list[str] = []
    if isinstance(document, InjectedText | InjectedInt):
        found.append(document.secret)
    elif isinstance(document, dict):
        for key, value in document.items():
            if isinstance(key, InjectedKey):
                found.append(key.secret)
            found += secrets_in(value)
    elif isinstance(document, list):
        for value in document:
            found += secrets_in(value)
    return found


# --- checks -----------------------------------------------------------------------------------


def assert_same_shape(expected: Any, actual: Any) -> None:
    """``actual`` is ``expected`` with exactly the injected values masked."""
    if isinstance(expected, InjectedText | InjectedInt):
        assert isinstance(actual, str)
        assert expected.secret not in actual
        assert "*" in actual
    elif isinstance(expected, dict):
        assert isinstance(actual, dict)
        assert len(actual) == len(expected)
        for (key, value), (out_key, out_value) in zip(expected.items(), actual.items(), strict=True):
            if isinstance(key, InjectedKey):
                assert key.secret not in out_key
                assert "*" in out_key
            else:
                assert out_key == key
            assert_same_shape(value, out_value)
    elif isinstance(expected, list):
        assert isinstance(actual, list)
        assert len(actual) == len(expected)
        for value, out_value in zip(expected, actual, strict=True):
            assert_same_shape(value, out_value)
    else:
        assert type(actual) is type(expected)
        assert actual == expected


def assert_no_secret_in(body: bytes, secrets: list[str]) -> None:
    for secret in secrets:
        # A phone must not appear as a number of its own; it may be part of a longer number.
        assert not re.search(rb"(?<![0-9.])" + re.escape(secret.encode()) + rb"(?![0-9.])", body), secret


def decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def encode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


def fetch(body: bytes | list[bytes], **kwargs: Any) -> tuple[httpx.Response, bytes]:
    """Serve ``body`` from a real Starlette app behind shield; the response and its raw bytes."""

    async def run() -> tuple[httpx.Response, bytes]:
        app = ShieldMiddleware(body_app(body, **kwargs), POLICY)
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
            client.stream("GET", "/") as response,
        ):
            return response, b"".join([chunk async for chunk in response.aiter_raw()])

    return anyio.run(run)


def serialise(document: Any, style: int) -> bytes:
    if style == 0:
        return json.dumps(document, ensure_ascii=False).encode()
    if style == 1:
        return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode()
    return (json.dumps(document, ensure_ascii=False, indent=style - 1) + "\n").encode()


# --- properties ---------------------------------------------------------------------------------


@given(
    document=dirty_documents(),
    style=st.integers(0, 4),
    chunk_size=st.none() | st.integers(1, 64),
    encoding=st.sampled_from(["identity", "gzip", "deflate"]),
)
def test_injected_personal_data_never_reaches_the_client(
    document: Any, style: int, chunk_size: int | None, encoding: str
) -> None:
    body = encode(serialise(document, style), encoding)
    headers = {} if encoding == "identity" else {"content-encoding": encoding}
    response, raw = fetch(body, chunk_size=chunk_size, headers=headers)
    assert response.status_code == 200
    assert response.headers.get("content-encoding", "identity") == encoding
    decoded = decode(raw, encoding)
    assert_no_secret_in(decoded, secrets_in(document))
    assert_same_shape(document, json.loads(decoded))
    assert int(response.headers["content-length"]) == len(raw)  # rewritten, so recomputed


@given(document=clean_documents, style=st.integers(0, 4), chunk_size=st.none() | st.integers(1, 64))
def test_documents_without_personal_data_come_back_byte_identical(
    document: Any, style: int, chunk_size: int | None
) -> None:
    body = serialise(document, style)
    response, raw = fetch(body, chunk_size=chunk_size)
    assert response.status_code == 200
    assert raw == body


@given(
    records=st.lists(dirty_documents() | clean_documents, min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_ndjson_split_anywhere_never_leaks(records: list[Any], cuts: list[int]) -> None:
    body = b"".join(json.dumps(record, ensure_ascii=False).encode() + b"\n" for record in records)
    points = sorted({cut % (len(body) + 1) for cut in cuts} | {0, len(body)})
    parts = [body[a:b] for a, b in itertools.pairwise(points)]
    response, raw = fetch(parts, media_type="application/x-ndjson")
    assert response.status_code == 200
    secrets = [secret for record in records for secret in secrets_in(record)]
    assert_no_secret_in(raw, secrets)
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    assert len(lines) - 1 == len(records)
    for record, line in zip(records, lines, strict=False):
        assert_same_shape(record, json.loads(line))
        if not secrets_in(record):
            assert line == json.dumps(record, ensure_ascii=False).encode()


@given(
    records=st.lists(dirty_documents() | clean_documents, min_size=1, max_size=5),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_sse_split_anywhere_never_leaks(records: list[Any], newline: bytes, cuts: list[int]) -> None:
    body = b"".join(
        b"event: record" + newline + b"id: " + str(i).encode() + newline
        + b"data: " + json.dumps(record, ensure_ascii=False).encode() + newline + newline
        for i, record in enumerate(records)
    )  # fmt: skip
    points = sorted({cut % (len(body) + 1) for cut in cuts} | {0, len(body)})
    parts = [body[a:b] for a, b in itertools.pairwise(points)]
    response, raw = fetch(parts, media_type="text/event-stream")
    assert response.status_code == 200
    assert_no_secret_in(raw, [secret for record in records for secret in secrets_in(record)])
    events = raw.split(b"\n\n")
    assert events[-1] == b""
    assert len(events) - 1 == len(records)
    for i, (record, event) in enumerate(zip(records, events, strict=False)):
        event_line, id_line, data_line = event.split(b"\n")
        assert event_line == b"event: record"
        assert id_line == b"id: " + str(i).encode()
        assert data_line.startswith(b"data: ")
        assert_same_shape(record, json.loads(data_line[len(b"data: ") :]))
