"""The policy compiled once for the hot path: which pipeline and request checks serve which request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.types import Scope

from shield.admission import RouteAdmission, route_path, route_pattern
from shield.clock import Clock, system_clock
from shield.locations import LocationSealer
from shield.masking.document import DocumentMasker
from shield.pagination import PaginationStage, Paginator
from shield.pipeline import MaskingStage, ResponsePipeline, ResponseStage
from shield.policy import MaskRule, Policy, RoutePolicy
from shield.sealing import LinkResealer, RecordIdStage, ResealStage, RouteParams
from shield.tokens import CursorSealer, Keyring, RecordSealer, TokenCodec

__all__ = ["CompiledPolicy", "RoutePlan", "masking_stage"]


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """What shield does for one route.

    ``pipeline`` is None where no response stage applies (an unmasked route without tokens);
    ``admission`` is None where requests pass as they are.
    """

    pipeline: ResponsePipeline | None
    text_bodies: bool
    admission: RouteAdmission | None = None
    label: str = "*"  # the route template in metrics and events ("*": no [[route]] matched)
    locations: LocationSealer | None = None  # set when some route has sealed parameters


class CompiledPolicy:
    """Routes matched in policy order; the global plan serves every other path."""

    __slots__ = ("default", "policy", "record_sealer", "routes", "token_codec")

    def __init__(self, policy: Policy, *, clock: Clock = system_clock) -> None:
        self.policy = policy
        tokens = policy.tokens
        self.token_codec: TokenCodec | None = None
        self.record_sealer: RecordSealer | None = None
        if tokens.secrets:
            keyring = Keyring(tokens.secrets, pending=tokens.pending, epoch_seconds=tokens.epoch_seconds, clock=clock)
            self.token_codec = TokenCodec(keyring, format=tokens.format)
            self.record_sealer = RecordSealer(self.token_codec, detailed_errors=tokens.detailed_errors)
        params = [
            RouteParams(route_pattern(route.path, frozenset(param.param for param in route.unseal)), route.unseal)
            for route in policy.routes
        ]
        resealers: list[LinkResealer | None] = [None] * len(params)
        for index, route in enumerate(policy.routes):
            if route.unseal:
                assert self.record_sealer is not None  # the policy requires secrets for unseal rules
                resealers[index] = LinkResealer(self.record_sealer, params[index])
        everyone = tuple(filter(None, resealers))
        self.default = RoutePlan(
            self._pipeline(None),
            policy.masking.text_bodies,
            locations=LocationSealer(everyone, None) if everyone else None,
        )
        self.routes: tuple[tuple[re.Pattern[str], frozenset[str] | None, RoutePlan], ...] = tuple(
            self._route(route, params[index], resealers[index], everyone, clock)
            for index, route in enumerate(policy.routes)
        )

    def plan_for(self, scope: Scope) -> RoutePlan:
        if self.routes:
            path = route_path(scope)
            method = scope.get("method", "GET")
            for pattern, methods, plan in self.routes:
                if (methods is None or method in methods) and pattern.match(path):
                    return plan
        return self.default

    def _route(
        self,
        route: RoutePolicy,
        params: RouteParams,
        reseal: LinkResealer | None,
        everyone: tuple[LinkResealer, ...],
        clock: Clock,
    ) -> tuple[re.Pattern[str], frozenset[str] | None, RoutePlan]:
        """``reseal`` seals the route's own parameters again; ``everyone`` holds every route's."""
        pattern = params.pattern
        paginator = None
        if route.pagination is not None:
            settings = route.pagination
            tokens = self.policy.tokens
            assert self.token_codec is not None  # the policy requires secrets for paginated routes
            sealer = CursorSealer(
                self.token_codec,
                ttl=tokens.cursor_ttl,
                chain_ttl=tokens.chain_ttl,
                max_depth=tokens.max_depth,
                exclude=(settings.cursor_param, settings.param),
                detailed_errors=tokens.detailed_errors,
                unique=settings.replay_limit is not None,
                clock=clock,
            )
            paginator = Paginator(settings, route.path, pattern, sealer, reseal)
        admission = None
        if paginator is not None or route.unseal:
            admission = RouteAdmission(params, paginator, self.record_sealer)
        pipeline = self._pipeline(route, paginator, reseal if paginator is None else None)
        locations = LocationSealer(everyone, reseal) if everyone else None
        plan = RoutePlan(pipeline, self.policy.masking.text_bodies, admission, route.path, locations)
        return pattern, route.methods, plan

    def _pipeline(
        self, route: RoutePolicy | None, paginator: Paginator | None = None, reseal: LinkResealer | None = None
    ) -> ResponsePipeline | None:
        """Masking first (it reads raw owner IDs), then sealing IDs, then links and totals."""
        policy = self.policy
        stages: list[ResponseStage] = []
        if route is None or route.masking:
            stages.append(masking_stage(policy, route.mask if route else ()))
        seals = (*(route.seal if route else ()), *policy.seal)
        if seals:
            assert self.record_sealer is not None  # the policy requires secrets for seal rules
            stages.append(RecordIdStage(self.record_sealer, seals))
        if paginator is not None:  # it reseals the route's IDs in its links and redirects itself
            stages.append(PaginationStage(paginator))
        if reseal is not None:
            stages.append(ResealStage(reseal))
        return ResponsePipeline(stages) if stages else None


def masking_stage(policy: Policy, route_rules: tuple[MaskRule, ...]) -> MaskingStage:
    """Route rules come first: the first matching rule wins."""
    settings = policy.masking
    masker = DocumentMasker(
        [(rule.field, rule.kind) for rule in (*route_rules, *policy.mask)],
        free_text=settings.free_text,
        integers=settings.integers,
        owner_field=settings.owner_field,
        hash_key=policy.hash_key.value if policy.hash_key else None,
    )
    return MaskingStage(masker, owner_aware=settings.owner_field is not None, unmask_roles=settings.unmask_roles)
