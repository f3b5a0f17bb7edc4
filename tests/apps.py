"""Small, real Starlette and FastAPI apps that the middleware tests drive.

Every route answers with what a real API sends: framework responses, streaming
generators, files, background tasks, compression by Starlette's own GZipMiddleware
(placed *inside* shield, as a deployment would), authentication by Starlette's
AuthenticationMiddleware. Raw bytes are used where the exact JSON text matters
(big numbers, escapes, pretty-printing, malformed bodies).
"""

from __future__ import annotations

import json
import threading
import zlib
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI
from fastapi.responses import JSONResponse as FastAPIJSONResponse
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import (
    FileResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route

from shield import Policy, ShieldMiddleware

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from starlette.requests import HTTPConnection, Request
    from starlette.types import ASGIApp

# --- personal data and how it looks masked ------------------------------------------

PHONE = "13800138000"
PHONE_MASKED = "138****8000"
PHONE_2 = "13912345678"
PHONE_3 = "13700137000"
EMAIL = "alice@example.com"
EMAIL_MASKED = "a***@example.com"
USERNAME = "tommy"
ALL_PHONES = (PHONE, PHONE_2, PHONE_3)

MAX_BODY = 64 * 1024

USERS: list[dict[str, Any]] = [
    {
        "id": 1,
        "username": USERNAME,
        "phone": PHONE,
        "email": EMAIL,
        "bio": f"call me on {PHONE} any time",
    },
    {
        "id": 2,
        "username": "jerry",
        "phone": PHONE_2,
        "email": "bob@example.org",
        "bio": "no contact details",
    },
    {"id": 3, "username": "spike", "phone": PHONE_3, "email": "carol@example.net", "bio": "hello"},
]

RECORDS: list[dict[str, Any]] = [
    {"owner": "alice", "phone": PHONE, "note": f"backup {PHONE_2}"},
    {"owner": "bob", "phone": PHONE_3, "note": "nothing to see"},
]

# No rule fires on these: they must come back byte for byte.
CLEAN_PRETTY = (
    json.dumps(
        {
            "name": "Widget",
            "price": 12.50,
            "tags": ["a", "b"],
            "nested": {"ok": True, "n": None},
            "ünï": "çødé",
        },
        indent=4,
        ensure_ascii=False,
    )
    + "\n"
).encode()
CLEAN_LIST = b"[" + b",\n".join([CLEAN_PRETTY] * 20) + b"]"
CLEAN_ODD = b'{ "a" : 1.50, "b" :[1e5,  -0, 1E+2, 123456789012345678901234567890], "c":"\\u00e9\\/" }'

# Exact numbers that a double cannot hold, next to a phone (so the body IS rewritten).
BIG_INT = "123456789012345678901234567890"
LONG_DECIMAL = "0.1000000000000000055511151231257827021181583404541015625"
BIG_EXPONENT = "1e400"
TINY_NUMBERS = ("1e-400", "7e-324")  # a double rounds these to 0.0 and 5e-324
BIGNUM_BODY = (
    f'{{"id": {BIG_INT}, "price": {LONG_DECIMAL}, "huge": {BIG_EXPONENT}, "neg": -{BIG_INT}, '
    f'"tiny": [{TINY_NUMBERS[0]}, {TINY_NUMBERS[1]}], "phone": "{PHONE}"}}'
).encode()
# The same without any long digit run: only the exponents say a double cannot hold them.
TINY_BODY = f'{{"tiny": [{TINY_NUMBERS[0]}, {TINY_NUMBERS[1]}], "phone": "{PHONE}"}}'.encode()

# "13800138000" spelled with JSON unicode escapes.
ESCAPED_PHONE_BODY = b'{"note": "call ' + "".join(f"\\u{ord(c):04x}" for c in PHONE).encode() + b'"}'

MALFORMED_BODY = f'{{"phone": "{PHONE}", "items": [1, 2'.encode()


def policy_data(**masking: Any) -> dict[str, Any]:
    """The policy most tests run under; ``masking`` adds ``[masking]`` settings."""
    return {
        "mask": [
            {"field": "username", "kind": "username"},
            {"field": "$.account.login", "kind": "username"},
        ],
        "masking": {"text_bodies": True, **masking},
        "route": [
            {"path": "/raw/{rest:path}", "masking": False},
            {"path": "/orders", "mask": [{"field": "buyer", "kind": "username"}]},
        ],
        "max_body_bytes": MAX_BODY,
    }


POLICY = Policy.from_dict(policy_data())
OWNER_POLICY = Policy.from_dict(policy_data(owner_field="owner", unmask_roles=["support"]))


# --- authentication ----------------------------------------------------------------


class HeaderAuth(AuthenticationBackend):
    """``Authorization: Bearer <user>[:<scope>,<scope>]`` (tests only, obviously)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        value = conn.headers.get("authorization")
        if not value or not value.startswith("Bearer "):
            return None
        user, _, scopes = value.removeprefix("Bearer ").partition(":")
        return AuthCredentials([s for s in scopes.split(",") if s]), SimpleUser(user)


# --- streaming bodies ----------------------------------------------------------------


def _chunks(*parts: bytes) -> Callable[[], AsyncIterator[bytes]]:
    async def generate() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return generate


# A phone cut in two by the chunk boundary, in every streamed kind.
NDJSON_CHUNKS = (
    b'{"id": 1, "note": "call 1380013',
    b'8000 now"}\n{"id": 2, "phone": ',
    b'13912345678}\n{"id": 3, "note": "clean"}\n',
)
SSE_CHUNKS = (
    b'event: user\nid: 1\ndata: {"note": "call 1380013',
    b'8000"}\n\n: comment with 13912345678\ndata: plain text 1370013',
    b"7000\n\nevent: done\ndata: {}\n\n",
)
JSON_CHUNKS = (b'{"note": "call 1380013', b'8000", "id": 7}')
TEXT_CHUNKS = (b"call 138001", b"38000 today")


# --- the Starlette app ---------------------------------------------------------------


def build_starlette_app(files: Path) -> Starlette:
    """A Starlette app with one route per behaviour under test; ``app.state.events`` logs tasks."""
    events: list[str] = []
    (files / "users.json").write_bytes(json.dumps(USERS).encode())
    (files / "clean.json").write_bytes(CLEAN_PRETTY)
    (files / "image.bin").write_bytes(b"\x89PNG\r\n" + PHONE.encode() * 100)

    def raw(body: bytes, media_type: str | None = "application/json", **kwargs: Any) -> Callable[..., Response]:
        async def endpoint(request: Request) -> Response:
            return Response(body, media_type=media_type, **kwargs)

        return endpoint

    async def users(request: Request) -> JSONResponse:
        return JSONResponse(USERS)

    async def user(request: Request) -> JSONResponse:
        uid = int(request.path_params["uid"])
        return JSONResponse(next(u for u in USERS if u["id"] == uid))

    async def background(request: Request) -> JSONResponse:
        return JSONResponse({"phone": PHONE}, background=BackgroundTask(events.append, "task ran"))

    async def cookies(request: Request) -> JSONResponse:
        response = JSONResponse({"phone": PHONE}, status_code=201, headers={"x-request-id": "abc-123"})
        response.set_cookie("session", "s1")
        response.set_cookie("theme", "dark")
        return response

    async def big_stream(request: Request) -> StreamingResponse:
        async def lines() -> AsyncIterator[bytes]:
            for i in range(3 * MAX_BODY // 40):
                yield json.dumps({"n": i, "phone": PHONE}).encode() + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    async def huge_line(request: Request) -> StreamingResponse:
        async def lines() -> AsyncIterator[bytes]:
            yield b'{"id": 1}\n'
            yield b'{"blob": "' + b"x" * (2 * MAX_BODY)
            yield b'"}\n'

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    def stream(parts: tuple[bytes, ...], media_type: str) -> Callable[..., Any]:
        async def endpoint(request: Request) -> StreamingResponse:
            return StreamingResponse(_chunks(*parts)(), media_type=media_type)

        return endpoint

    async def records(request: Request) -> JSONResponse:
        return JSONResponse(RECORDS)

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.user.display_name, "phone": PHONE})

    async def file(request: Request) -> FileResponse:
        return FileResponse(files / request.path_params["name"])

    async def encoded(request: Request) -> Response:
        encoding = request.query_params["enc"]
        return Response(b"\x00\x01\x02", media_type="application/json", headers={"content-encoding": encoding})

    async def cached(request: Request) -> JSONResponse:
        return JSONResponse(RECORDS, headers={"cache-control": "public, max-age=60, s-maxage=600", "vary": "Accept"})

    gzipped = Mount(
        "/gz",
        routes=[
            Route("/users", users),
            Route("/clean", raw(CLEAN_LIST)),
            Route("/ndjson", stream((NDJSON_CHUNKS * 40), "application/x-ndjson")),
        ],
        middleware=[Middleware(GZipMiddleware, minimum_size=10)],
    )
    routes = [
        Route("/users", users),
        Route("/users/{uid:int}", user),
        Route(
            "/account",
            raw(json.dumps({"account": {"login": USERNAME}, "other": {"login": USERNAME}}).encode()),
        ),
        Route("/orders", raw(json.dumps({"buyer": USERNAME, "seller": USERNAME}).encode())),
        Route("/orders/archive", raw(json.dumps({"buyer": USERNAME, "seller": USERNAME}).encode())),
        Route("/keyed", raw(json.dumps({PHONE: {"visits": 3}, "plain": {"visits": 1}}).encode())),
        Route(
            "/int-phone",
            raw(f'{{"mobile": {PHONE}, "count": 42, "list": [{PHONE_2}, 7]}}'.encode()),
        ),
        Route("/scalar", raw(f'"{PHONE}"'.encode())),
        Route("/clean/pretty", raw(CLEAN_PRETTY)),
        Route("/clean/odd", raw(CLEAN_ODD)),
        Route("/clean/problem", raw(b'{"title": "ok"}', media_type="application/problem+json")),
        Route("/bignum", raw(BIGNUM_BODY)),
        Route("/tiny", raw(TINY_BODY)),
        Route("/escaped", raw(ESCAPED_PHONE_BODY)),
        Route("/malformed", raw(MALFORMED_BODY)),
        Route("/too-big", raw(json.dumps({"blob": "x" * MAX_BODY, "phone": PHONE}).encode())),
        Route("/big-stream", big_stream),
        Route("/huge-line", huge_line),
        Route("/ndjson", stream(NDJSON_CHUNKS, "application/x-ndjson")),
        Route(
            "/ndjson-bad",
            stream((b'{"phone": "13800138000"}\n', b"not json\n"), "application/x-ndjson"),
        ),
        Route("/sse", stream(SSE_CHUNKS, "text/event-stream")),
        Route("/split-json", stream(JSON_CHUNKS, "application/json")),
        Route("/split-text", stream(TEXT_CHUNKS, "text/plain; charset=utf-8")),
        Route("/text", raw(f"call {PHONE} or mail {EMAIL}".encode(), media_type="text/plain")),
        Route("/html", raw(f"<p>call {PHONE}</p>".encode(), media_type="text/html")),
        Route(
            "/latin1",
            raw(f"café {PHONE}".encode("latin-1"), media_type="text/plain; charset=latin-1"),
        ),
        Route(
            "/bad-charset",
            raw(f"{PHONE}".encode(), media_type="text/plain; charset=no-such-charset"),
        ),
        Route("/unlabelled/json", raw(json.dumps({"phone": PHONE}).encode(), media_type=None)),
        Route("/unlabelled/text", raw(f"call {PHONE}".encode(), media_type=None)),
        Route("/unlabelled/clean", raw(b"\x00\x01binary\xff", media_type=None)),
        Route("/image", raw(b"\x89PNG\r\n" + PHONE.encode(), media_type="image/png")),
        Route(
            "/deflate",
            raw(zlib.compress(json.dumps(USERS).encode()), headers={"content-encoding": "deflate"}),
        ),
        Route(
            "/deflate-raw",
            raw(
                zlib.compress(json.dumps(USERS).encode())[2:-4],
                headers={"content-encoding": "deflate"},
            ),
        ),
        Route("/deflate-corrupt", raw(b"\xff", headers={"content-encoding": "deflate"})),
        Route("/br", raw(b"\x1b\x03\x00\xf8\xa5", headers={"content-encoding": "br"})),
        Route(
            "/br-image",
            raw(b"\x1b\x03\x00", media_type="image/png", headers={"content-encoding": "br"}),
        ),
        Route("/background", background),
        Route("/cookies", cookies),
        Route("/empty", raw(b"", status_code=204)),
        Route("/not-modified", raw(b"", status_code=304, headers={"etag": '"v1"'})),
        Route(
            "/partial",
            raw(
                f'{{"phone": "{PHONE}"'.encode(),
                status_code=206,
                headers={"content-range": "bytes 0-25/99"},
            ),
        ),
        Route("/html-error", raw(b"<h1>teapot</h1>", media_type="text/html", status_code=418)),
        Route("/records", records),
        Route("/cached", cached),
        Route("/encoded", encoded),
        Route("/whoami", whoami),
        Route("/files/{name}", file),
        Route("/raw/users", users),
        Route("/raw/files/{name}", file),
        Route("/raw/ndjson", stream(NDJSON_CHUNKS, "application/x-ndjson")),
        gzipped,
    ]
    app = Starlette(routes=routes, middleware=[Middleware(AuthenticationMiddleware, backend=HeaderAuth())])
    app.state.events = events
    return app


def shielded(app: ASGIApp, policy: Policy = POLICY, **kwargs: Any) -> ShieldMiddleware:
    return ShieldMiddleware(app, policy, **kwargs)


# --- the FastAPI app ------------------------------------------------------------------


def build_fastapi_app(policy: Policy = POLICY, gate: threading.Event | None = None) -> FastAPI:
    """A FastAPI app with shield added the usual way (outermost user middleware).

    GZipMiddleware is added first, so it sits *inside* shield and shield sees gzip bodies.
    ``/slow-ndjson`` sends its first record, then waits (at most 10 s) for ``gate``.
    """
    app = FastAPI()
    gate = gate or threading.Event()

    @app.get("/slow-ndjson")
    async def slow_ndjson() -> StreamingResponse:
        async def records() -> AsyncIterator[bytes]:
            yield json.dumps({"id": 1, "phone": PHONE}).encode() + b"\n"
            for _ in range(1000):
                if gate.is_set():
                    break
                await anyio.sleep(0.01)
            yield json.dumps({"id": 2, "released": gate.is_set(), "phone": PHONE_2}).encode() + b"\n"

        return StreamingResponse(records(), media_type="application/x-ndjson")

    @app.get("/users")
    async def users() -> list[dict[str, Any]]:
        return USERS

    @app.get("/users/{uid}")
    async def user(uid: int) -> dict[str, Any]:
        return next(u for u in USERS if u["id"] == uid)

    @app.get("/ndjson")
    async def ndjson() -> StreamingResponse:
        return StreamingResponse(_chunks(*NDJSON_CHUNKS)(), media_type="application/x-ndjson")

    @app.get("/malformed")
    async def malformed() -> Response:
        return Response(MALFORMED_BODY, media_type="application/json")

    @app.get("/br")
    async def brotli() -> Response:
        return Response(b"\x1b\x03\x00", media_type="application/json", headers={"content-encoding": "br"})

    @app.get("/clean")
    async def clean() -> Response:
        return Response(CLEAN_PRETTY, media_type="application/json")

    @app.get("/raw/users")
    async def raw_users() -> FastAPIJSONResponse:
        return FastAPIJSONResponse(USERS)

    app.add_middleware(GZipMiddleware, minimum_size=10)
    app.add_middleware(ShieldMiddleware, policy=policy)
    return app


def body_app(
    body: bytes | list[bytes],
    *,
    chunk_size: int | None = None,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Starlette:
    """An app whose one route serves ``body``: whole, cut every ``chunk_size`` bytes, or as given parts."""
    if isinstance(body, list):
        parts: list[bytes] | None = body
    elif chunk_size is not None:
        parts = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    else:
        parts = None

    async def endpoint(request: Request) -> Response:
        if parts is None:
            return Response(body, media_type=media_type, headers=headers)
        return StreamingResponse(_chunks(*parts)(), media_type=media_type, headers=headers)

    return Starlette(routes=[Route("/", endpoint)])
