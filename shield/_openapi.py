"""What shield changes in an API's contract, written into its OpenAPI document.

Clients generated from the schema should know that a paginated route takes ``cursor`` (and its
native position only for the first page), that sealed IDs are strings, and which problem
responses shield may send instead of the app's: 400/403/410 for tokens, 429 (and 503) for
quotas, 502 when a response cannot be masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shield.admission import route_pattern
from shield.policy import Policy, RoutePolicy
from shield.problems import PROBLEM_CONTENT_TYPE
from shield.quota_policy import QuotaRule

__all__ = ["Operation", "annotate_openapi"]

PROBLEM_SCHEMA_NAME = "ShieldProblem"
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")
_SAMPLE = {"uuid": "00000000-0000-0000-0000-000000000000"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem (shield)",
    "description": "An RFC 9457 problem document sent by shield in place of the app's response.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "problem_base followed by the slug, e.g. …/quota-exceeded"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "quota": {"type": "string", "description": "quota-exceeded only: the name of the quota"},
    },
    "required": ["type", "title", "status", "detail"],
}
HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 1}},
    "RateLimit-Policy": {
        "description": 'The quotas that apply: `"name";q=<limit>;w=<window seconds>` '
        "(draft-ietf-httpapi-ratelimit-headers).",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of each quota: `"name";r=<remaining>;t=<seconds to reset>`.',
        "schema": {"type": "string"},
    },
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented operation: its OpenAPI path key, the router's template and its HTTP method."""

    path: str
    template: str
    method: str


def annotate_openapi(schema: dict[str, Any], policy: Policy, operations: Iterable[Operation]) -> None:
    """Add shield's parameters, problem responses and headers to ``schema`` (in place, idempotent)."""
    paths = schema.get("paths", {})
    touched = False
    for operation in operations:
        spec = paths.get(operation.path, {}).get(operation.method.lower())
        if not isinstance(spec, dict):
            continue
        route = route_for(policy, operation.template, operation.method)
        quotas = quotas_for(policy, operation.template, operation.method)
        touched |= _annotate(spec, policy, route, quotas)
    if touched:
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
        components.setdefault("headers", {}).update(HEADERS)


def route_for(policy: Policy, template: str, method: str) -> RoutePolicy | None:
    """The policy route that serves requests to ``template`` (first match, as at run time)."""
    sample = sample_path(template)
    for route in policy.routes:
        if _methods_match(route.methods, method):
            sealed = frozenset(param.param for param in route.unseal)
            if route_pattern(route.path, sealed).match(sample):
                return route
    return None


def quotas_for(policy: Policy, template: str, method: str) -> list[QuotaRule]:
    sample = sample_path(template)
    return [
        rule
        for rule in policy.quota
        if _methods_match(rule.methods, method) and any(route_pattern(path).match(sample) for path in rule.routes)
    ]


def sample_path(template: str) -> str:
    """A request path the template matches (``1`` fits every converter but ``uuid``)."""
    return _PARAM.sub(lambda m: _SAMPLE.get(m.group(2) or "", "1"), template)


def _methods_match(methods: frozenset[str] | None, method: str) -> bool:
    return methods is None or method.upper() in methods


def _annotate(spec: dict[str, Any], policy: Policy, route: RoutePolicy | None, quotas: list[QuotaRule]) -> bool:
    masked = route is None or route.masking
    tokens = route is not None and route.uses_tokens
    if not (masked or tokens or quotas):
        return False
    if route is not None:
        _parameters(spec, route)
    responses: dict[str, Any] = spec.setdefault("responses", {})
    pagination = route.pagination if route is not None else None
    if route is not None and (pagination is not None or route.unseal):
        slugs = ["parameter-refused", "token-invalid"] if pagination else ["token-invalid"]
        _problem(responses, "400", "Refused by shield: " + ", ".join(slugs))
        forbidden = (["token-foreign"] if policy.tokens.detailed_errors else []) + (
            ["chain-too-deep"] if pagination else []
        )
        if forbidden:
            _problem(responses, "403", "Refused by shield: " + ", ".join(forbidden))
        gone = ["token-expired"] + (["cursor-used-up"] if pagination and pagination.replay_limit else [])
        _problem(responses, "410", "Refused by shield: " + ", ".join(gone))
    if quotas:
        names = ", ".join(rule.name for rule in quotas)
        limit_headers = policy.quotas.headers != "none"
        headers = ["Retry-After", *(("RateLimit-Policy", "RateLimit") if limit_headers else ())]
        refusals = "quota-exceeded" + (", temporarily-blocked" if policy.quotas.penalty else "")
        _problem(responses, "429", f"Refused by shield ({refusals}): quotas {names}", headers)
        if policy.quotas.store == "redis" and any(rule.outage == "closed" for rule in quotas):
            _problem(responses, "503", "Refused by shield (quota-store-unavailable)", ["Retry-After"])
        if policy.quotas.headers == "always":
            for status, response in responses.items():
                if status.startswith("2") and isinstance(response, dict):
                    _headers(response, ["RateLimit-Policy", "RateLimit"])
    if masked or tokens:
        _problem(responses, "502", "shield failed closed (response-not-maskable): the response could not be inspected")
    return True


def _problem(responses: dict[str, Any], status: str, description: str, headers: Iterable[str] = ()) -> None:
    """A problem response, unless the app documents that status itself."""
    if status in responses:
        return
    schema = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}
    response: dict[str, Any] = {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": schema}}}
    _headers(response, headers)
    responses[status] = response


def _headers(response: dict[str, Any], names: Iterable[str]) -> None:
    declared = response.setdefault("headers", {})
    for name in names:
        declared.setdefault(name, {"$ref": f"#/components/headers/{name}"})
    if not declared:
        del response["headers"]


def _parameters(spec: dict[str, Any], route: RoutePolicy) -> None:
    parameters: list[dict[str, Any]] = spec.setdefault("parameters", [])
    by_name = {(p.get("in"), p.get("name")): p for p in parameters if isinstance(p, dict)}
    for unseal in route.unseal:
        found = by_name.get(("path", unseal.param)) or by_name.get(("query", unseal.param))
        if found is not None:
            found["schema"] = {"type": "string"}
            found["description"] = f"A sealed {unseal.kind} ID: the opaque token found in responses" + (
                "." if unseal.raw == "allow" else "; a raw ID is refused."
            )
    pagination = route.pagination
    if pagination is None:
        return
    cursor_doc = "Opaque cursor from a `next`/`prev` link of the previous page (bound to the caller, expiring)."
    cursor = by_name.get(("query", pagination.cursor_param))
    if cursor is None:
        parameters.append(
            {
                "name": pagination.cursor_param,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": cursor_doc,
            }
        )
    else:
        cursor["schema"] = {"type": "string"}
        cursor["description"] = cursor_doc
    native = by_name.get(("query", pagination.param))
    if native is not None and pagination.param != pagination.cursor_param:
        first = pagination.first_page
        if pagination.native == "refuse" or first is None:
            parameters.remove(native)
        else:
            native["description"] = (
                f"First page only: `{first}` (or leave it out); later pages come from the cursor, "
                "other values are refused."
            )
    size = by_name.get(("query", pagination.size_param)) if pagination.size_param else None
    if size is not None and pagination.max_size is not None:
        size["description"] = f"Page size; larger values are lowered to {pagination.max_size}."
