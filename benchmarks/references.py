"""Reference middlewares: the least work each shield stage stands for, written as cheaply as Python allows.

They answer one question the targets raise: how much of bare req/s can *any* Python middleware
keep while doing the same job on this app? Each one knows the benchmark's schema by heart and
skips everything a product must do (policy, identity, fail-closed paths, detection across all
regions, headers, streaming, metrics), so its cost is a floor, not a competitor:

- ``FloorMasker``: buffer the body, ``orjson.loads``, slice ``phone``/``email``/``username``,
  one regex over ``bio`` only, ``orjson.dumps``.
- ``naive_masker``: the issue's own reference, "a naive BaseHTTPMiddleware masker (json + one
  regex)": stdlib ``json`` and one Chinese-mobile regex over every string. It leaks the
  international numbers, e-mails and usernames; its check only asks for the records.
- ``FloorPagination``: an HMAC-signed offset in ``cursor=`` opened on the way in, the ``next``
  link sealed on the way out. No caller binding, expiry or query digest.
- ``FloorQuotas``: one dict per quota keyed by client address: a GCRA for requests, a counter
  for records and a set for distinct records, with the body parsed once to count and collect.
  No windows roll, nothing is bounded, nothing is atomic across workers.
- ``FloorRedisQuotas``: the same three quotas in Redis in ONE ``EVALSHA`` per request, after the
  app (requests, records and distinct IDs at once; shield needs two: requests are refused
  before the app runs). redis-py's asyncio client, as shield uses.
- ``FloorFull``: ``FloorMasker``, ``FloorPagination`` and ``FloorQuotas`` fused on ONE parse and
  ONE serialisation, plus every ``id`` sealed with an HMAC and ``/users/<sealed id>`` opened on
  the way in: what ``full-*`` does.

None of these is safe to deploy; they exist to be measured next to shield in one run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import orjson

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BIO_PHONE = re.compile(r"[+(]?\d[\d ().\-]{5,}\d")
_CN_MOBILE = re.compile(r"1[3-9]\d{9}|1[3-9]\d[ -]\d{4}[ -]\d{4}")
_KEY = b"reference cursor key: at least 32 bytes long"
_TOO_MANY: Message = {"type": "http.response.start", "status": 429, "headers": []}
# Requests per minute (all in one burst), records and distinct records: never reached in a run.
_LIMITS = (10_000_000, 10**12, 10**9)


def _star_digits(match: re.Match[str]) -> str:
    number = match.group()
    return number[:3] + re.sub(r"\d", "*", number[3:-4]) + number[-4:]


def _mask_record(record: dict[str, Any]) -> None:
    phone = record["phone"]
    record["phone"] = phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    local, _, domain = record["email"].partition("@")
    record["email"] = f"{local[:1]}***@{domain}"
    name = record["username"]
    record["username"] = f"{name[0]}***{name[-1]}"
    record["bio"] = _BIO_PHONE.sub(_star_digits, record["bio"])


async def _buffered(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
    """Run ``app`` to completion; its start message and whole body."""
    start: Message = {}
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return start, b"".join(chunks)


async def _send_body(send: Send, start: Message, body: bytes) -> None:
    headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Floor:
    """Pure ASGI: other scopes than HTTP pass through, HTTP requests go to ``handle``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class FloorMasker(_Floor):
    """The floor of response masking on this app's schema (see the module docstring)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, body = await _buffered(self.app, scope, receive)
        if start.get("status") == 200:
            document = orjson.loads(body)
            for record in document.get("items", (document,)):
                _mask_record(record)
            body = orjson.dumps(document)
        await _send_body(send, start, body)


def _naive_walk(value: Any) -> Any:
    if isinstance(value, str):
        return _CN_MOBILE.sub("***********", value)
    if isinstance(value, dict):
        return {key: _naive_walk(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_naive_walk(item) for item in value]
    return value


async def _naive_dispatch(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    from starlette.responses import Response  # noqa: PLC0415  (starlette is the app's, lazy like the peers)

    response = await call_next(request)
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    if response.status_code == 200:
        body = json.dumps(_naive_walk(json.loads(body))).encode()
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    return Response(body, status_code=response.status_code, headers=headers)


def naive_masker(app: ASGIApp) -> ASGIApp:
    """The issue's reference: BaseHTTPMiddleware, stdlib json, one regex over every string."""
    from starlette.middleware.base import BaseHTTPMiddleware  # noqa: PLC0415

    return BaseHTTPMiddleware(app, dispatch=_naive_dispatch)


def _sign(offset: int) -> str:
    payload = str(offset).encode()
    mac = hmac.new(_KEY, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + b"." + mac).decode().rstrip("=")


def _open(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    payload, _, mac = raw.rpartition(b".")
    if not hmac.compare_digest(mac, hmac.new(_KEY, payload, hashlib.sha256).digest()[:16]):
        return None
    return int(payload)


def _open_cursor(scope: Scope) -> Scope | None:
    """``cursor=`` turned back into ``offset=``; None when it does not verify."""
    params = dict(parse_qsl(scope["query_string"].decode()))
    if "cursor" not in params:
        return scope
    offset = _open(params.pop("cursor"))
    if offset is None:
        return None
    return {**scope, "query_string": urlencode({**params, "offset": offset}).encode()}


def _seal_next(document: dict[str, Any]) -> None:
    following = document.get("next")
    if isinstance(following, str):
        query = dict(parse_qsl(following.partition("?")[2]))
        cursor = _sign(int(query.pop("offset")))
        document["next"] = f"/users?{urlencode({**query, 'cursor': cursor})}"


_BAD_TOKEN: Message = {"type": "http.response.start", "status": 400, "headers": []}


class FloorPagination(_Floor):
    """The floor of cursor pagination on ``/users`` (see the module docstring)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != "/users":
            await self.app(scope, receive, send)
            return
        opened = _open_cursor(scope)
        if opened is None:
            await _send_body(send, _BAD_TOKEN, b"bad cursor")
            return
        start, body = await _buffered(self.app, opened, receive)
        if start.get("status") == 200:
            document = orjson.loads(body)
            _seal_next(document)
            body = orjson.dumps(document)
        await _send_body(send, start, body)


class FloorQuotas(_Floor):
    """The floor of three quotas (requests, records, distinct) per client address."""

    def __init__(self, app: ASGIApp, limits: tuple[int, int, int] = _LIMITS) -> None:
        """``limits``: requests per minute (all in one burst), records and distinct records."""
        super().__init__(app)
        requests, self._max_records, self._max_seen = limits
        self._interval = 60 / requests
        self._tolerance = requests * self._interval
        self._theoretical: dict[str, float] = {}
        self._records: dict[str, int] = {}
        self._seen: dict[str, set[int]] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        who = scope["client"][0]
        if not self.admit(who):
            await _send_body(send, _TOO_MANY, b"")
            return
        start, body = await _buffered(self.app, scope, receive)
        if start.get("status") == 200:
            document = orjson.loads(body)
            if not self.settle(who, document.get("items", (document,))):
                await _send_body(send, _TOO_MANY, b"")
                return
        await _send_body(send, start, body)

    def admit(self, who: str) -> bool:
        """One request charged to the GCRA of ``who``, if it fits."""
        now = time.monotonic()
        tat = max(self._theoretical.get(who, now), now)
        if tat - now > self._tolerance:
            return False
        self._theoretical[who] = tat + self._interval
        return True

    def settle(self, who: str, records: list[dict[str, Any]]) -> bool:
        """The records charged to ``who``'s budgets, if they fit (distinct IDs stay counted)."""
        total = self._records.get(who, 0) + len(records)
        seen = self._seen.setdefault(who, set())
        seen.update(record["id"] for record in records)
        if total > self._max_records or len(seen) > self._max_seen:
            return False
        self._records[who] = total
        return True


class FloorFull(_Floor):
    """Masking, cursors, sealed IDs and the three quotas on one parse (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self._quotas = FloorQuotas(app)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        opened: Scope | None = scope
        if path == "/users":
            opened = _open_cursor(scope)
        elif path.startswith("/users/"):
            user_id = _open(path.removeprefix("/users/"))
            opened = None if user_id is None else {**scope, "path": f"/users/{user_id}"}
        if opened is None:
            await _send_body(send, _BAD_TOKEN, b"bad token")
            return
        who = scope["client"][0]
        if not self._quotas.admit(who):
            await _send_body(send, _TOO_MANY, b"")
            return
        start, body = await _buffered(self.app, opened, receive)
        if start.get("status") == 200:
            document = orjson.loads(body)
            records = document.get("items", (document,))
            if not self._quotas.settle(who, records):
                await _send_body(send, _TOO_MANY, b"")
                return
            for record in records:
                _mask_record(record)
                record["id"] = _sign(record["id"])
            _seal_next(document)
            body = orjson.dumps(document)
        await _send_body(send, start, body)


# KEYS: tat, records, seen. ARGV: now µs, interval µs, tolerance µs, records, max records, max seen, ids...
_REDIS_QUOTAS = """
local now, interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
if tat - now > tolerance then return 0 end
local total = tonumber(redis.call('GET', KEYS[2]) or 0) + tonumber(ARGV[4])
if total > tonumber(ARGV[5]) then return 0 end
for i = 7, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
if redis.call('SCARD', KEYS[3]) > tonumber(ARGV[6]) then return 0 end
redis.call('SET', KEYS[1], tat + interval, 'PX', 60000)
redis.call('SET', KEYS[2], total, 'PX', 3600000)
redis.call('PEXPIRE', KEYS[3], 86400000)
return 1
"""


class FloorRedisQuotas(_Floor):
    """The floor of the three quotas on Redis: one script call per request (see the module docstring)."""

    def __init__(self, app: ASGIApp, url: str, prefix: str) -> None:
        from redis.asyncio import Redis  # noqa: PLC0415  (optional, like the Redis variants)

        super().__init__(app)
        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_REDIS_QUOTAS)
        self._prefix = prefix

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, body = await _buffered(self.app, scope, receive)
        if start.get("status") == 200:
            document = orjson.loads(body)
            records = document.get("items", (document,))
            who = f"{self._prefix}:{{{scope['client'][0]}}}"
            keys = [f"{who}:tat", f"{who}:records", f"{who}:seen"]
            now = time.time_ns() // 1000
            ids = [record["id"] for record in records]
            requests, max_records, max_seen = _LIMITS
            interval = 60_000_000 // requests  # µs, as FloorQuotas: the whole minute is one burst
            args = [now, interval, requests * interval, len(records), max_records, max_seen, *ids]
            if not await self._script(keys=keys, args=args):
                await _send_body(send, _TOO_MANY, b"")
                return
        await _send_body(send, start, body)
