"""What the ASGI-boundary tests share: an in-process client, and the check of a refusal."""

from __future__ import annotations

from typing import Any

import httpx

from shield.problems import PROBLEM_CONTENT_TYPE


def client_for(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client that drives ``app`` in-process (``httpx.ASGITransport``)."""
    kwargs.setdefault("base_url", "http://testserver")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), **kwargs)


def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """An RFC 9457 problem of type ``slug`` with ``status``; returns the problem document."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/" + slug), problem
    assert problem["status"] == status
    return problem
