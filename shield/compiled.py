"""The policy compiled once for the hot path: which pipeline serves which request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.routing import compile_path
from starlette.types import Scope

from shield.masking.document import DocumentMasker
from shield.pipeline import MaskingStage, ResponsePipeline
from shield.policy import MaskRule, Policy

__all__ = ["CompiledPolicy", "RoutePlan"]


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """What shield does for one route; ``pipeline`` is None where the policy unmasks it."""

    pipeline: ResponsePipeline | None
    text_bodies: bool


class CompiledPolicy:
    """Routes matched in policy order; the global plan serves every other path."""

    __slots__ = ("default", "pipeline", "policy", "routes")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        text_bodies = policy.masking.text_bodies
        self.pipeline = _pipeline(policy, ())
        self.default = RoutePlan(self.pipeline, text_bodies)
        self.routes: tuple[tuple[re.Pattern[str], frozenset[str] | None, RoutePlan], ...] = tuple(
            (
                compile_path(route.path)[0],
                route.methods,
                RoutePlan(_pipeline(policy, route.mask), text_bodies) if route.masking else _UNMASKED,
            )
            for route in policy.routes
        )

    def plan_for(self, scope: Scope) -> RoutePlan:
        if self.routes:
            path = _route_path(scope)
            method = scope.get("method", "GET")
            for pattern, methods, plan in self.routes:
                if (methods is None or method in methods) and pattern.match(path):
                    return plan
        return self.default


def _pipeline(policy: Policy, route_rules: tuple[MaskRule, ...]) -> ResponsePipeline:
    """Route rules come first: the first matching rule wins."""
    settings = policy.masking
    masker = DocumentMasker(
        [(rule.field, rule.kind) for rule in (*route_rules, *policy.mask)],
        free_text=settings.free_text,
        integers=settings.integers,
        owner_field=settings.owner_field,
        hash_key=policy.hash_key.value if policy.hash_key else None,
    )
    stage = MaskingStage(masker, owner_aware=settings.owner_field is not None, unmask_roles=settings.unmask_roles)
    return ResponsePipeline([stage])


def _route_path(scope: Scope) -> str:
    """The path as the app's router sees it: below ``root_path`` when mounted or proxied."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


_UNMASKED = RoutePlan(pipeline=None, text_bodies=False)
