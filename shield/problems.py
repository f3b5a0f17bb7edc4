"""RFC 9457 problem details: the only shape of error shield sends to a client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson
from starlette.types import Send

__all__ = ["PROBLEM_CONTENT_TYPE", "Problem", "send_problem"]

PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem document; ``slug`` is appended to the policy's ``problem_base``."""

    slug: str
    title: str
    status: int
    detail: str
    #: RFC 9457 extension members (``{"quota": "burst"}``).
    extensions: Mapping[str, object] = field(default_factory=dict)

    def body(self, base: str) -> bytes:
        members = {"type": base + self.slug, "title": self.title, "status": self.status, "detail": self.detail}
        return orjson.dumps({**self.extensions, **members})


async def send_problem(
    send: Send, problem: Problem, base: str, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send a complete problem response; it is never cached by a shared cache."""
    body = problem.body(base)
    headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
