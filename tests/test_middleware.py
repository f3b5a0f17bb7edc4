"""ShieldMiddleware at the ASGI boundary: real apps through httpx.ASGITransport, raw ASGI.

Every test asserts on what a client receives. ``ASGITransport`` re-raises app exceptions,
so a test that passes also proves the request never ended in a 500.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from apps import (
    ALL_PHONES,
    BIG_EXPONENT,
    BIG_INT,
    CLEAN_LIST,
    CLEAN_ODD,
    CLEAN_PRETTY,
    EMAIL,
    EMAIL_MASKED,
    LONG_DECIMAL,
    MAX_BODY,
    OWNER_POLICY,
    PHONE,
    PHONE_2,
    PHONE_3,
    PHONE_MASKED,
    POLICY,
    TINY_NUMBERS,
    USERNAME,
    USERS,
    build_fastapi_app,
    build_starlette_app,
    policy_data,
    shielded,
)
from asgi_client import client_for
from starlette.applications import Starlette

from shield import Policy, ShieldMiddleware, Viewer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

PHONE_2_MASKED = "139****5678"
PHONE_3_MASKED = "137****7000"
PROBLEM_TYPE = "https://shield.invalid/problems/response-not-maskable"


@pytest.fixture
def app(tmp_path: Path) -> Starlette:
    return build_starlette_app(tmp_path)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(shielded(app)) as c:
        yield c


@pytest.fixture
async def bare(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The same app without shield: what the app itself sends."""
    async with client_for(app) as c:
        yield c


async def raw_body(client: httpx.AsyncClient, path: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (still content-encoded)."""
    async with client.stream("GET", path, **kwargs) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, body


def assert_no_phone(body: bytes | str) -> None:
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    for phone in ALL_PHONES:
        assert phone not in text


def assert_problem(response: httpx.Response, reason: str) -> dict[str, Any]:
    """A fail-closed answer: a 502 RFC 9457 problem that is never cached."""
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert int(response.headers["content-length"]) == len(response.content)
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail"}
    assert problem["type"] == PROBLEM_TYPE
    assert problem["status"] == 502
    assert problem["title"]
    assert reason in problem["detail"]
    assert_no_phone(response.content)
    return problem


# --- JSON ------------------------------------------------------------------------------


async def test_json_list_is_masked_everywhere(client: httpx.AsyncClient) -> None:
    response = await client.get("/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert_no_phone(response.content)
    assert EMAIL.encode() not in response.content
    first, second, third = response.json()
    assert first == {
        "id": 1,
        "username": "t***y",
        "phone": PHONE_MASKED,
        "email": EMAIL_MASKED,
        "bio": f"call me on {PHONE_MASKED} any time",
    }
    assert second["phone"] == PHONE_2_MASKED
    assert second["username"] == "j***y"
    assert second["email"] == "b***@example.org"
    assert second["bio"] == "no contact details"
    assert third["phone"] == PHONE_3_MASKED
    assert third["bio"] == "hello"


async def test_single_record(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/1")
    assert response.json()["phone"] == PHONE_MASKED
    assert response.json()["username"] == "t***y"


async def test_field_rule_by_path_only_matches_that_path(client: httpx.AsyncClient) -> None:
    # "$.account.login" is a path rule: the same key elsewhere is left alone.
    assert (await client.get("/account")).json() == {"account": {"login": "t***y"}, "other": {"login": USERNAME}}


async def test_route_rules_apply_to_their_route_only(client: httpx.AsyncClient) -> None:
    assert (await client.get("/orders")).json() == {"buyer": "t***y", "seller": USERNAME}
    assert (await client.get("/orders/archive")).json() == {"buyer": USERNAME, "seller": USERNAME}


async def test_keys_holding_personal_data_are_masked(client: httpx.AsyncClient) -> None:
    response = await client.get("/keyed")
    assert response.json() == {PHONE_MASKED: {"visits": 3}, "plain": {"visits": 1}}


async def test_phones_stored_as_json_integers_are_masked(client: httpx.AsyncClient) -> None:
    response = await client.get("/int-phone")
    assert response.json() == {"mobile": PHONE_MASKED, "count": 42, "list": [PHONE_2_MASKED, 7]}


async def test_a_bare_json_string_is_masked(client: httpx.AsyncClient) -> None:
    assert (await client.get("/scalar")).json() == PHONE_MASKED


async def test_unicode_escaped_digits_are_masked(client: httpx.AsyncClient, bare: httpx.AsyncClient) -> None:
    original = await bare.get("/escaped")
    assert b"\\u0031\\u0033\\u0038" in original.content
    assert original.json() == {"note": f"call {PHONE}"}  # the app really sends a phone
    response = await client.get("/escaped")
    assert response.json() == {"note": f"call {PHONE_MASKED}"}


async def test_big_numbers_survive_a_rewrite_exactly(client: httpx.AsyncClient) -> None:
    response = await client.get("/bignum")
    body = response.content
    assert_no_phone(body)  # the body WAS rewritten...
    # ...and every number is still its exact source text.
    for number in (BIG_INT, f"-{BIG_INT}", LONG_DECIMAL, BIG_EXPONENT, *TINY_NUMBERS):
        assert re.search(rb"[:\s\[,]" + re.escape(number.encode()) + rb"[,}\]]", body), number
    document = json.loads(body, parse_float=Decimal)
    assert document["id"] == int(BIG_INT)
    assert document["neg"] == -int(BIG_INT)
    assert document["price"] == Decimal(LONG_DECIMAL)
    assert document["huge"] == Decimal(BIG_EXPONENT)
    assert document["tiny"] == [Decimal(number) for number in TINY_NUMBERS]
    assert document["phone"] == PHONE_MASKED


async def test_numbers_too_small_for_a_double_survive_a_rewrite(client: httpx.AsyncClient) -> None:
    response = await client.get("/tiny")
    assert response.content == f'{{"tiny":[{TINY_NUMBERS[0]},{TINY_NUMBERS[1]}],"phone":"{PHONE_MASKED}"}}'.encode()


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/clean/pretty", CLEAN_PRETTY), ("/clean/odd", CLEAN_ODD), ("/clean/problem", b'{"title": "ok"}')],
)
async def test_bodies_without_personal_data_are_byte_identical(
    client: httpx.AsyncClient, path: str, expected: bytes
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.content == expected
    assert response.headers["content-length"] == str(len(expected))


async def test_a_duplicate_key_cannot_smuggle_personal_data() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": f'{{"note": "{PHONE}", "note": "hi"}}'.encode()})

    messages = await call(ShieldMiddleware(app, POLICY), http_scope("/"))
    assert PHONE.encode() not in messages[-1]["body"]


# --- free text bodies -------------------------------------------------------------------


async def test_text_bodies_are_masked(client: httpx.AsyncClient) -> None:
    text = await client.get("/text")
    assert text.text == f"call {PHONE_MASKED} or mail {EMAIL_MASKED}"
    assert int(text.headers["content-length"]) == len(text.content)
    html = await client.get("/html")
    assert html.text == f"<p>call {PHONE_MASKED}</p>"
    assert html.headers["content-type"].startswith("text/html")


async def test_text_keeps_its_declared_charset(client: httpx.AsyncClient) -> None:
    response = await client.get("/latin1")
    assert response.content == f"café {PHONE_MASKED}".encode("latin-1")


async def test_text_bodies_pass_when_the_policy_does_not_inspect_them(app: Starlette) -> None:
    data = policy_data()
    data["masking"]["text_bodies"] = False
    async with client_for(ShieldMiddleware(app, Policy.from_dict(data))) as c:
        assert (await c.get("/text")).text == f"call {PHONE} or mail {EMAIL}"
        assert (await c.get("/users")).json()[0]["phone"] == PHONE_MASKED  # JSON still is


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/unlabelled/json", {"phone": PHONE_MASKED}), ("/unlabelled/text", f"call {PHONE_MASKED}")],
)
async def test_unlabelled_bodies_are_sniffed_and_masked(client: httpx.AsyncClient, path: str, expected: object) -> None:
    response = await client.get(path)
    assert "content-type" not in response.headers
    assert (response.json() if isinstance(expected, dict) else response.text) == expected


async def test_a_start_message_without_headers_is_valid_asgi() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})  # "headers" is optional
        await send({"type": "http.response.body", "body": f"call {PHONE}".encode()})

    messages = await call(ShieldMiddleware(app, POLICY), http_scope("/"))
    assert messages[0]["status"] == 200
    assert messages[0]["headers"] == [(b"content-length", b"16")]
    assert messages[1]["body"] == f"call {PHONE_MASKED}".encode()


async def test_unlabelled_binary_fails_closed(client: httpx.AsyncClient) -> None:
    """Unlabelled bytes that are neither JSON nor UTF-8 cannot be read, so they are refused."""
    assert_problem(await client.get("/unlabelled/clean"), "unlabelled-body")


async def test_opaque_media_types_pass_untouched(client: httpx.AsyncClient) -> None:
    response = await client.get("/image")
    assert response.content == b"\x89PNG\r\n" + PHONE.encode()


# --- chunked and streamed bodies --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/split-json", b'{"note":"call 138****8000","id":7}'), ("/split-text", b"call 138****8000 today")],
)
async def test_a_phone_split_across_chunks_does_not_leak(client: httpx.AsyncClient, path: str, expected: bytes) -> None:
    response = await client.get(path)
    assert response.content == expected


async def test_ndjson_is_masked_line_by_line(client: httpx.AsyncClient) -> None:
    response = await client.get("/ndjson")
    assert response.status_code == 200
    assert "content-length" not in response.headers
    assert_no_phone(response.content)
    lines = response.content.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 1, "note": f"call {PHONE_MASKED} now"},
        {"id": 2, "phone": PHONE_2_MASKED},
        {"id": 3, "note": "clean"},
    ]
    assert lines[2] == b'{"id": 3, "note": "clean"}'  # an untouched line keeps its bytes


async def test_sse_is_masked_event_by_event(client: httpx.AsyncClient) -> None:
    response = await client.get("/sse")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert_no_phone(response.content)
    events = response.text.split("\n\n")
    assert events[0] == 'event: user\nid: 1\ndata: {"note":"call 138****8000"}'
    assert events[1] == f": comment with {PHONE_2_MASKED}\ndata: plain text {PHONE_3_MASKED}"
    assert events[2] == "event: done\ndata: {}"
    assert events[3:] == [""]


async def test_long_streams_are_not_limited_in_total(client: httpx.AsyncClient) -> None:
    # max_body_bytes bounds one record of a stream, not the whole stream.
    response = await client.get("/big-stream")
    lines = response.content.splitlines()
    assert len(response.content) > 2 * MAX_BODY
    assert len(lines) == 3 * MAX_BODY // 40
    assert all(json.loads(line)["phone"] == PHONE_MASKED for line in lines)


async def test_an_oversized_stream_record_ends_the_stream_with_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/huge-line")
    assert response.status_code == 200  # already sent when the record turned up
    first, problem, *rest = response.content.splitlines()
    assert json.loads(first) == {"id": 1}
    assert json.loads(problem)["type"] == PROBLEM_TYPE
    assert "body-too-large" in json.loads(problem)["detail"]
    assert rest == []
    assert b"xxxx" not in response.content


async def test_an_invalid_ndjson_line_ends_the_stream_with_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/ndjson-bad")
    lines = response.content.splitlines()
    assert json.loads(lines[0]) == {"phone": PHONE_MASKED}
    assert json.loads(lines[1])["status"] == 502
    assert len(lines) == 2
    assert b"not json" not in response.content


async def test_ndjson_is_forwarded_as_it_streams() -> None:
    """Each complete line leaves before the app sends the next chunk; partial lines wait."""
    delivered: list[bytes] = []
    seen_by_app: list[list[bytes]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/x-ndjson")]}
        )
        for chunk in (b'{"a": "13800138000"}\n{"b": "1380', b'0138000"}\n{"c": 1}', b"\n"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            seen_by_app.append(list(delivered))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            delivered.append(message["body"])

    await ShieldMiddleware(app, POLICY)(http_scope("/"), idle_receive, send)
    assert seen_by_app == [
        [b'{"a":"138****8000"}\n'],
        [b'{"a":"138****8000"}\n', b'{"b":"138****8000"}\n'],
        [b'{"a":"138****8000"}\n', b'{"b":"138****8000"}\n', b'{"c": 1}\n'],
    ]


# --- content encodings -------------------------------------------------------------------


async def test_gzip_from_starlettes_middleware_is_decoded_masked_and_reencoded(client: httpx.AsyncClient) -> None:
    response, body = await raw_body(client, "/gz/users", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert int(response.headers["content-length"]) == len(body)
    document = json.loads(gzip.decompress(body))
    assert [user["phone"] for user in document] == [PHONE_MASKED, PHONE_2_MASKED, PHONE_3_MASKED]
    assert_no_phone(gzip.decompress(body))


async def test_gzip_without_personal_data_is_left_as_compressed(
    client: httpx.AsyncClient, bare: httpx.AsyncClient
) -> None:
    _, original_body = await raw_body(bare, "/gz/clean", headers={"accept-encoding": "gzip"})
    response, body = await raw_body(client, "/gz/clean", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == CLEAN_LIST
    # Same compressed length as the app's own output: shield did not re-encode it.
    assert len(body) == len(original_body) == int(response.headers["content-length"])


async def test_gzip_ndjson_stream_is_masked(client: httpx.AsyncClient) -> None:
    response, body = await raw_body(client, "/gz/ndjson", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    text = gzip.decompress(body)
    assert_no_phone(text)
    assert text.count(b'"call 138****8000 now"') == 40
    assert len(text.splitlines()) == 120


async def test_no_gzip_when_the_client_does_not_accept_it(client: httpx.AsyncClient) -> None:
    response, body = await raw_body(client, "/gz/users", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert json.loads(body)[0]["phone"] == PHONE_MASKED


@pytest.mark.parametrize("path", ["/deflate", "/deflate-raw"])
async def test_deflate_bodies_are_decoded_masked_and_reencoded(client: httpx.AsyncClient, path: str) -> None:
    response, body = await raw_body(client, path)
    assert response.headers["content-encoding"] == "deflate"
    assert int(response.headers["content-length"]) == len(body)
    document = json.loads(zlib.decompress(body))  # re-encoded as RFC 9110 (zlib-wrapped) deflate
    assert document[0]["phone"] == PHONE_MASKED
    assert document[0]["bio"] == f"call me on {PHONE_MASKED} any time"
    assert len(document) == len(USERS)


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br", "identity, gzip", "bogus"])
async def test_unreadable_content_encodings_fail_closed(client: httpx.AsyncClient, encoding: str) -> None:
    response = await client.get("/encoded", params={"enc": encoding})
    assert_problem(response, "unsupported-encoding")
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("content_type", [None, b"application/json", b"text/plain"])
async def test_every_content_encoding_line_counts(content_type: bytes | None) -> None:
    """A first "identity" line must not hide a second "gzip": the body would leak encoded."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-encoding", b"identity"), (b"content-encoding", b"gzip")]
        if content_type is not None:
            headers.append((b"content-type", content_type))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": gzip.compress(f"call {PHONE}".encode())})

    messages = await call(ShieldMiddleware(app, POLICY), http_scope("/"))
    assert messages[0]["status"] == 502
    assert "unsupported-encoding" in json.loads(messages[1]["body"])["detail"]


async def test_brotli_json_fails_closed_but_brotli_images_pass(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/br"), "unsupported-encoding")
    response, body = await raw_body(client, "/br-image")
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "br"
    assert body == b"\x1b\x03\x00"


async def test_corrupt_compressed_bodies_fail_closed(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/deflate-corrupt"), "corrupt-encoding")


# --- failing closed ------------------------------------------------------------------------


async def test_malformed_json_fails_closed(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/malformed"), "invalid-body")
    assert problem["title"] == "Response could not be checked for personal data"


async def test_oversized_bodies_fail_closed(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/too-big"), "body-too-large")


async def test_a_partial_response_of_an_inspected_type_fails_closed(client: httpx.AsyncClient) -> None:
    response = await client.get("/partial")
    assert_problem(response, "partial-content")
    assert "content-range" not in response.headers


async def test_an_unknown_charset_fails_closed(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/bad-charset"), "invalid-body")


async def test_the_problem_type_uses_the_policys_base(app: Starlette) -> None:
    data = policy_data()
    data["problem_base"] = "https://api.example.com/problems/"
    async with client_for(ShieldMiddleware(app, Policy.from_dict(data))) as c:
        response = await c.get("/malformed")
    assert response.status_code == 502
    assert response.json()["type"] == "https://api.example.com/problems/response-not-maskable"


async def test_json_nested_too_deeply_fails_closed_in_a_stream() -> None:
    deep = b'{"a":' * 600 + b'"13800138000"' + b"}" * 600 + b"\n"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/x-ndjson")]}
        )
        await send({"type": "http.response.body", "body": deep, "more_body": False})

    messages = await call(ShieldMiddleware(app, POLICY), http_scope("/"))
    body = b"".join(m.get("body", b"") for m in messages)
    assert PHONE.encode() not in body
    assert json.loads(body)["type"] == PROBLEM_TYPE


# --- what shield leaves alone --------------------------------------------------------------


async def test_routes_with_masking_off_pass_through_raw(client: httpx.AsyncClient, bare: httpx.AsyncClient) -> None:
    response = await client.get("/raw/users")
    original = await bare.get("/raw/users")
    assert response.content == original.content
    assert response.json() == USERS
    ndjson = await client.get("/raw/ndjson")
    assert PHONE.encode() in ndjson.content


async def test_head_keeps_headers_but_drops_the_now_unknowable_length(client: httpx.AsyncClient) -> None:
    response = await client.head("/users")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"
    assert "content-length" not in response.headers
    raw = await client.head("/raw/users")
    assert raw.headers["content-length"] == str(len(json.dumps(USERS, separators=(",", ":"))))


async def test_no_content_and_not_modified_are_untouched(client: httpx.AsyncClient) -> None:
    empty = await client.get("/empty")
    assert empty.status_code == 204
    assert empty.content == b""
    not_modified = await client.get("/not-modified")
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == '"v1"'


async def test_status_and_headers_are_preserved(client: httpx.AsyncClient) -> None:
    response = await client.get("/cookies")
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "abc-123"
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("session=s1")
    assert cookies[1].startswith("theme=dark")
    assert response.json() == {"phone": PHONE_MASKED}
    assert int(response.headers["content-length"]) == len(response.content)


async def test_error_statuses_are_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/html-error")
    assert response.status_code == 418
    assert response.content == b"<h1>teapot</h1>"
    missing = await client.get("/no-such-route")
    assert missing.status_code == 404


async def test_background_tasks_still_run(app: Starlette, client: httpx.AsyncClient) -> None:
    response = await client.get("/background")
    assert response.json() == {"phone": PHONE_MASKED}
    assert app.state.events == ["task ran"]


async def test_lifespan_passes_through_untouched() -> None:
    received: list[Message] = []
    seen_scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen_scopes.append(scope)
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await ShieldMiddleware(app, POLICY)(scope, receive, send)
    assert seen_scopes == [scope]
    assert seen_scopes[0] is scope
    assert received == [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_websockets_pass_through_untouched() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": f"echo {message['text']}"})
        await send({"type": "websocket.send", "bytes": PHONE.encode()})
        await send({"type": "websocket.close", "code": 1000})

    inbox = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": PHONE}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/users", "headers": [], "asgi": {"version": "3.0"}}
    await ShieldMiddleware(app, POLICY)(scope, receive, send)
    assert sent == [
        {"type": "websocket.accept"},
        {"type": "websocket.send", "text": f"echo {PHONE}"},
        {"type": "websocket.send", "bytes": PHONE.encode()},
        {"type": "websocket.close", "code": 1000},
    ]


# --- files, pathsend and ranges --------------------------------------------------------------


async def test_file_responses_are_masked(client: httpx.AsyncClient) -> None:
    response = await client.get("/files/users.json")
    assert response.status_code == 200
    assert response.json()[0]["phone"] == PHONE_MASKED
    assert_no_phone(response.content)
    assert int(response.headers["content-length"]) == len(response.content)
    assert "etag" not in response.headers  # it named the unmasked bytes
    assert response.headers["accept-ranges"] == "none"


async def test_unchanged_files_keep_their_validators(client: httpx.AsyncClient) -> None:
    response = await client.get("/files/clean.json")
    assert response.content == CLEAN_PRETTY
    assert response.headers["etag"]
    assert response.headers["accept-ranges"] == "bytes"


async def test_pathsend_is_withheld_so_file_bytes_go_through_shield(app: Starlette) -> None:
    scope = http_scope("/files/users.json", extensions={"http.response.pathsend": {}})
    messages = await call(shielded(app), scope)
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]
    assert json.loads(messages[1]["body"])[0]["phone"] == PHONE_MASKED
    assert "http.response.pathsend" in scope["extensions"]  # the server's scope is not mutated


async def test_pathsend_stays_available_where_shield_does_not_look(app: Starlette, tmp_path: Path) -> None:
    scope = http_scope("/raw/files/users.json", extensions={"http.response.pathsend": {}})
    messages = await call(shielded(app), scope)
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.pathsend"]
    assert messages[1]["path"] == str(tmp_path / "users.json")


async def test_pathsend_of_an_opaque_type_is_forwarded() -> None:
    scope = http_scope("/files/image.bin", extensions={"http.response.pathsend": {}})

    async def file_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
        await send({"type": "http.response.pathsend", "path": "/srv/image.png"})

    messages = await call(shielded(file_app), scope)
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.pathsend"]


@pytest.mark.parametrize("message_type", ["http.response.pathsend", "http.response.zerocopysend"])
async def test_a_raw_file_send_of_an_inspected_type_fails_closed(message_type: str) -> None:
    async def file_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": message_type, "path": "/srv/users.json", "file": 3})

    messages = await call(ShieldMiddleware(file_app, POLICY), http_scope("/"))
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]
    assert messages[0]["status"] == 502
    problem = json.loads(messages[1]["body"])
    assert problem["status"] == 502
    assert "file-response" in problem["detail"]


async def test_a_raw_file_send_in_a_stream_ends_it_with_a_problem() -> None:
    async def file_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/x-ndjson")]}
        )
        await send({"type": "http.response.body", "body": b'{"a": 1}\n', "more_body": True})
        await send({"type": "http.response.pathsend", "path": "/srv/more.ndjson"})

    messages = await call(ShieldMiddleware(file_app, POLICY), http_scope("/"))
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body", "http.response.body"]
    assert messages[-1]["more_body"] is False
    assert "file-response" in json.loads(messages[-1]["body"])["detail"]


async def test_a_range_request_gets_the_whole_masked_body(client: httpx.AsyncClient, bare: httpx.AsyncClient) -> None:
    etag = (await bare.get("/files/users.json")).headers["etag"]
    for headers in ({"range": "bytes=0-10"}, {"range": "bytes=0-10", "if-range": etag}):
        assert (await bare.get("/files/users.json", headers=headers)).status_code == 206  # the app would
        response = await client.get("/files/users.json", headers=headers)
        assert response.status_code == 200
        assert "content-range" not in response.headers
        assert [u["phone"] for u in response.json()] == [PHONE_MASKED, PHONE_2_MASKED, PHONE_3_MASKED]


async def test_ranges_still_work_where_shield_does_not_look(client: httpx.AsyncClient) -> None:
    response = await client.get("/raw/files/users.json", headers={"range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == json.dumps(USERS).encode()[:10]


# --- viewers: owners, roles, caching -------------------------------------------------------


def records_by_owner(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {record["owner"]: record for record in response.json()}


@pytest.fixture
async def owner_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(ShieldMiddleware(app, OWNER_POLICY)) as c:
        yield c


async def test_anonymous_viewers_see_every_record_masked(owner_client: httpx.AsyncClient) -> None:
    records = records_by_owner(await owner_client.get("/records"))
    assert records["alice"] == {"owner": "alice", "phone": PHONE_MASKED, "note": f"backup {PHONE_2_MASKED}"}
    assert records["bob"]["phone"] == PHONE_3_MASKED


async def test_owners_see_their_own_records_in_clear(owner_client: httpx.AsyncClient) -> None:
    response = await owner_client.get("/records", headers={"authorization": "Bearer alice"})
    records = records_by_owner(response)
    assert records["alice"] == {"owner": "alice", "phone": PHONE, "note": f"backup {PHONE_2}"}
    assert records["bob"]["phone"] == PHONE_3_MASKED
    bob = records_by_owner(await owner_client.get("/records", headers={"authorization": "Bearer bob"}))
    assert bob["bob"]["phone"] == PHONE_3
    assert bob["alice"]["phone"] == PHONE_MASKED


async def test_unmask_roles_see_everything_in_clear(owner_client: httpx.AsyncClient) -> None:
    response = await owner_client.get("/records", headers={"authorization": "Bearer carol:read,support"})
    assert (
        response.content
        == json.dumps(
            [
                {"owner": "alice", "phone": PHONE, "note": f"backup {PHONE_2}"},
                {"owner": "bob", "phone": PHONE_3, "note": "nothing to see"},
            ],
            separators=(",", ":"),
        ).encode()
    )
    other = await owner_client.get("/records", headers={"authorization": "Bearer carol:read"})
    assert_no_phone(other.content)


async def test_viewer_dependent_responses_are_private(owner_client: httpx.AsyncClient) -> None:
    response = await owner_client.get("/records")
    assert response.headers["cache-control"] == "private"
    assert {v.strip().lower() for v in response.headers["vary"].split(",")} >= {"authorization", "cookie"}
    cached = await owner_client.get("/cached")
    assert cached.headers["cache-control"] == "private, max-age=60"
    assert {v.strip().lower() for v in cached.headers["vary"].split(",")} == {
        "accept",
        "authorization",
        "cookie",
        "x-api-key",
    }  # every header that names the caller


async def test_responses_that_do_not_depend_on_the_viewer_stay_cacheable(client: httpx.AsyncClient) -> None:
    cached = await client.get("/cached")
    assert cached.headers["cache-control"] == "public, max-age=60, s-maxage=600"
    assert cached.headers["vary"] == "Accept"
    assert "cache-control" not in (await client.get("/users")).headers


async def test_a_viewer_callable_overrides_scope_identity(app: Starlette) -> None:
    def as_bob(scope: Scope) -> Viewer:
        return Viewer(id="bob")

    async with client_for(ShieldMiddleware(app, OWNER_POLICY, viewer=as_bob)) as c:
        records = records_by_owner(await c.get("/records", headers={"authorization": "Bearer alice"}))
    assert records["bob"]["phone"] == PHONE_3
    assert records["alice"]["phone"] == PHONE_MASKED


async def test_a_viewer_callable_can_grant_a_role(app: Starlette) -> None:
    async with client_for(
        ShieldMiddleware(app, OWNER_POLICY, viewer=lambda _: Viewer(roles=frozenset({"support"})))
    ) as c:
        response = await c.get("/records")
    assert {r["phone"] for r in response.json()} == {PHONE, PHONE_3}


async def test_scope_identity_can_be_switched_off(app: Starlette) -> None:
    data = policy_data(owner_field="owner")
    data["identity"] = {"user_from_scope": False}
    async with client_for(ShieldMiddleware(app, Policy.from_dict(data))) as c:
        response = await c.get("/records", headers={"authorization": "Bearer alice"})
    assert_no_phone(response.content)


# --- FastAPI ----------------------------------------------------------------------------------


async def test_fastapi_app_with_shield_added_as_middleware() -> None:
    async with client_for(build_fastapi_app()) as c:
        users = await c.get("/users")
        assert users.headers["content-encoding"] == "gzip"
        assert [u["phone"] for u in users.json()] == [PHONE_MASKED, PHONE_2_MASKED, PHONE_3_MASKED]
        assert (await c.get("/users/2")).json()["username"] == "j***y"
        assert (await c.get("/clean")).content == CLEAN_PRETTY
        ndjson = await c.get("/ndjson")
        assert_no_phone(ndjson.content)
        assert len(ndjson.content.splitlines()) == 3
        assert_problem(await c.get("/malformed"), "invalid-body")
        assert_problem(await c.get("/br"), "unsupported-encoding")
        assert PHONE in (await c.get("/raw/users")).json()[0]["phone"]


async def test_policy_must_be_a_policy() -> None:
    with pytest.raises(TypeError, match=r"shield\.Policy"):
        ShieldMiddleware(Starlette(), policy_data())  # type: ignore[arg-type]


async def test_no_request_state_is_shared_between_concurrent_requests(app: Starlette) -> None:
    middleware = ShieldMiddleware(app, OWNER_POLICY)
    results: dict[str, httpx.Response] = {}

    async def fetch(user: str) -> None:
        async with client_for(middleware) as c:
            results[user] = await c.get("/records", headers={"authorization": f"Bearer {user}"})

    async with anyio.create_task_group() as tg:
        for user in ("alice", "bob", "alice", "bob"):
            tg.start_soon(fetch, user)
    assert records_by_owner(results["alice"])["alice"]["phone"] == PHONE
    assert records_by_owner(results["alice"])["bob"]["phone"] == PHONE_3_MASKED
    assert records_by_owner(results["bob"])["bob"]["phone"] == PHONE_3
    assert records_by_owner(results["bob"])["alice"]["phone"] == PHONE_MASKED


# --- raw ASGI helpers --------------------------------------------------------------------------


def http_scope(path: str, *, method: str = "GET", **extra: Any) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        **extra,
    }


async def idle_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def call(asgi: Callable[[Scope, Receive, Send], Awaitable[None]], scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi(scope, idle_receive, send)
    return sent


# --- ambiguous and unreadable responses fail closed ----------------------------------------


def raw_app(headers: list[tuple[bytes, bytes]], body: bytes, status: int = 200) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def test_conflicting_content_types_fail_closed() -> None:
    app = raw_app([(b"content-type", b"image/png"), (b"content-type", b"application/json")], f'["{PHONE}"]'.encode())
    async with client_for(ShieldMiddleware(app, POLICY)) as shielded_client:
        assert_problem(await shielded_client.get("/"), "ambiguous-content-type")


async def test_unlabelled_legacy_charset_fails_closed() -> None:
    app = raw_app([], f"café {PHONE}".encode("latin-1"))
    async with client_for(ShieldMiddleware(app, POLICY)) as shielded_client:
        assert_problem(await shielded_client.get("/"), "unlabelled-body")


async def test_duplicate_keys_in_pretty_json_without_personal_data_still_pass() -> None:
    body = b'{\n  "a": 1,\n  "b": [1, 2]\n}'
    app = raw_app([(b"content-type", b"application/json")], body)
    async with client_for(ShieldMiddleware(app, POLICY)) as shielded_client:
        response = await shielded_client.get("/")
    assert response.content == body


async def test_keys_that_mask_alike_both_survive() -> None:
    other = PHONE[:3] + "1111" + PHONE[-4:]
    app = raw_app([(b"content-type", b"application/json")], f'{{"{PHONE}": 1, "{other}": 2}}'.encode())
    async with client_for(ShieldMiddleware(app, POLICY)) as shielded_client:
        document = (await shielded_client.get("/")).json()
    assert sorted(document.values()) == [1, 2]
    assert_no_phone(json.dumps(document))
    assert PHONE not in json.dumps(document)
    assert other not in json.dumps(document)


async def test_not_modified_keeps_privacy_headers_on_viewer_dependent_routes() -> None:
    app = raw_app([(b"etag", b'"v1"')], b"", status=304)
    async with client_for(ShieldMiddleware(app, OWNER_POLICY)) as shielded_client:
        response = await shielded_client.get("/")
    assert response.status_code == 304
    assert "private" in response.headers["cache-control"]
    assert "Authorization" in response.headers["vary"]


async def test_a_failing_stage_fails_closed_not_500(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenStage:
        viewer_dependent = False

        def document(self, document: Any, exchange: Any) -> tuple[Any, int]:
            raise ValueError("bug in a stage")

        def text(self, text: str, exchange: Any) -> str:
            raise ValueError("bug in a stage")

        def headers(self, headers: Any, exchange: Any) -> Any:
            return headers

    shielded_app = ShieldMiddleware(raw_app([(b"content-type", b"application/json")], f'["{PHONE}"]'.encode()), POLICY)
    pipeline = shielded_app._compiled.default.pipeline
    assert pipeline is not None
    pipeline.stages = (BrokenStage(),)  # type: ignore[assignment]
    async with client_for(shielded_app) as shielded_client:
        response = await shielded_client.get("/")
    assert_problem(response, "internal-error")
    assert "bug in a stage" not in response.text
    assert any("could not inspect" in record.message for record in caplog.records)


@pytest.mark.parametrize(("depth", "status"), [(100, 200), (3000, 502)])
async def test_deeply_nested_json_passes_or_fails_closed_by_depth(depth: int, status: int) -> None:
    body = ("[\n" * depth + "1" + "\n]" * depth).encode()
    async with client_for(ShieldMiddleware(raw_app([(b"content-type", b"application/json")], body), POLICY)) as c:
        response = await c.get("/")
    assert response.status_code == status
    if status == 200:
        assert response.content == body  # pretty-printed, unchanged: byte-identical
    else:
        assert_problem(response, "invalid-body")
