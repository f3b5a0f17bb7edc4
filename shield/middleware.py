"""ShieldMiddleware: the drop-in, pure-ASGI entry point."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shield.admission import RouteAdmission, route_path
from shield.clock import Clock, system_clock
from shield.compiled import CompiledPolicy, RoutePlan
from shield.detector import Detector, Signals
from shield.errors import ReplayedCursor, RequestRefused, TokenError
from shield.guard import VARY_ON_VIEWER, ResponseGuard, private_headers
from shield.identity import ViewerResolver, viewer_from_scope
from shield.metrics import ShieldMetrics
from shield.monitor import Monitor, Refusal
from shield.pagination import PageRequest
from shield.pipeline import Exchange, ResponsePipeline
from shield.policy import Policy
from shield.problems import Problem, send_problem
from shield.pseudonyms import IdentityHasher
from shield.quota_gate import ActiveQuota, QuotaGate, Verdict, build_store
from shield.quotas import QuotaStore
from shield.requester import IdentityKey, Requester, UserResolver, resolve_requester

__all__ = ["ShieldMiddleware"]

logger = logging.getLogger("shield")

# Server extensions that send a file without passing its bytes through ``send``.
_FILE_EXTENSIONS = ("http.response.pathsend", "http.response.zerocopysend")
# A range of a masked body cannot be checked: ask the app for the whole body instead.
_RANGE_HEADERS = (b"range", b"if-range")


class ShieldMiddleware:
    """Protect every HTTP response of ``app`` according to ``policy``.

    >>> app = ShieldMiddleware(app, Policy.from_toml("shield.toml"))  # doctest: +SKIP

    ``viewer`` overrides how the caller is identified for owner/role unmasking and as the
    ``user`` identity source (by default Starlette's ``scope["user"]`` and ``scope["auth"]``).
    ``quota_store`` replaces the store ``[quotas]`` names; ``metrics`` counts decisions (see
    :mod:`shield.metrics`); every refusal is also a security event on the ``shield.events``
    logger. ``clock`` is for tests: token lifetimes, key epochs and the memory store follow it.
    Lifespan and websocket scopes pass through untouched, but for one thing: when the app has
    shut down, the quota store the middleware built from ``[quotas]`` is closed (a
    ``quota_store`` passed in stays yours to close).
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy,
        *,
        viewer: ViewerResolver | None = None,
        quota_store: QuotaStore | None = None,
        metrics: ShieldMetrics | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a shield.Policy, got {type(policy).__name__}")
        self.app = app
        self.policy = policy
        self._compiled = CompiledPolicy(policy, clock=clock)
        self._viewer = viewer or (viewer_from_scope if policy.identity.user_from_scope else _anonymous)
        self._sources = policy.identity.sources(user=_user_of(viewer) if viewer else None)
        replays = any(route.pagination and route.pagination.replay_limit for route in policy.routes)
        # Without secrets.hash_key (allowed with the memory store only) identities are hashed with
        # a key made for this process.
        self._hasher = IdentityHasher(policy.hash_key.value if policy.hash_key is not None else None)
        store = None
        if policy.quota or replays or policy.detector.enabled:
            store = quota_store if quota_store is not None else build_store(policy.quotas, clock)
        self._quotas = QuotaGate.from_policy(policy, self._hasher, store, clock) if store is not None else None
        self._owned_store = store if quota_store is None else None  # closed at lifespan shutdown
        self._detector = Detector(policy.detector, store) if store is not None and policy.detector.enabled else None
        self._clock = clock
        self._monitor = Monitor(self._hasher, metrics)
        # Responses that depend on the caller vary on every header that names one.
        api_key = (policy.identity.api_key_header,) if "api_key" in policy.identity.order else ()
        self._vary_on = (*VARY_ON_VIEWER, *api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self._owned_store is not None:
                send = self._closing_store(send, self._owned_store)
            await self.app(scope, receive, send)
            return
        plan = self._compiled.plan_for(scope)
        gate = self._quotas
        method: str = scope.get("method", "GET")
        quotas = gate.applicable(route_path(scope), method) if gate is not None else ()
        detector = self._detector
        if not quotas and plan.admission is None and plan.pipeline is None and detector is None:
            # an unmasked route nothing else applies to
            await self.app(scope, receive, self._located(plan, scope, send, None))
            if self._monitor.metrics is not None:
                self._monitor.finished(plan.label, method, None, None)
            return
        viewer_dependent = plan.pipeline is not None and plan.pipeline.viewer_dependent
        requester = None
        if quotas or plan.admission is not None or viewer_dependent or detector is not None:
            requester = self._requester(scope)
        exchange = Exchange(
            scope=scope, resolver=self._viewer, identity=_binding(requester), client_path=route_path(scope)
        )
        if self._monitor.metrics is not None:
            exchange.masked = Counter()

        async def serve() -> Refusal | None:
            return await self._serve(scope, receive, send, plan, quotas, requester, exchange) or exchange.refusal

        if detector is None:
            refusal = await serve()
        else:
            refusal = await self._watched(detector, serve, send, plan.label, requester, exchange)
        if refusal is not None and requester is None:  # events name who was refused (by pseudonym)
            requester = self._requester(scope)
        self._monitor.finished(plan.label, method, requester, refusal, exchange.masked)

    async def _watched(  # noqa: PLR0917  # the request's parts the detector reads, passed once
        self,
        detector: Detector,
        serve: Callable[[], Awaitable[Refusal | None]],
        send: Send,
        label: str,
        requester: Requester | None,
        exchange: Exchange,
    ) -> Refusal | None:
        """``serve`` under the enumeration detector: blocked, slowed down, then scored."""
        primary = requester.primary if requester is not None else None
        key = self._hasher(primary) if primary is not None else "anonymous"
        standing = await detector.standing(key)
        if standing.problem is not None:
            retry = str(math.ceil(standing.blocked_for)).encode()
            await send_problem(send, standing.problem, self.policy.problem_base, [(b"retry-after", retry)])
            return Refusal("detector", "blocked", 429)
        await detector.slow_down(standing)
        refusal = await serve()
        signals = Signals(
            token_failures=int(refusal is not None and refusal.kind == "token"),
            raw_parameters=int(refusal is not None and refusal.kind == "parameter"),
            quota_refusals=int(_own_refusal(refusal, primary)),
            depth=exchange.page.cursor.depth if exchange.page is not None and exchange.page.cursor else 0,
            records=max((count for count, _ in exchange.tally.counts.values()), default=0) if exchange.tally else 0,
        )
        level, score = await detector.score(key, standing, signals)
        if level is not None:
            self._monitor.escalated(label, requester, level, score)
        return refusal

    async def _serve(  # noqa: PLR0917  # one request's parts, passed once
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        plan: RoutePlan,
        quotas: tuple[ActiveQuota, ...],
        requester: Requester | None,
        exchange: Exchange,
    ) -> Refusal | None:
        """Quotas, then tokens, then the app behind the response guard; a refusal answered here."""
        if quotas:
            gate = self._quotas
            assert gate is not None  # quotas come from the gate
            assert requester is not None  # resolved whenever quotas apply
            verdict = await gate.admit(quotas, requester)
            if verdict.problem is not None:
                await send_problem(send, verdict.problem, self.policy.problem_base, verdict.headers)
                return verdict.refusal
            exchange.headers = verdict.headers
            exchange.tally = gate.tally_for(quotas)
            if exchange.tally is not None:
                tally = exchange.tally

                async def settle() -> Verdict:
                    return await gate.settle(quotas, requester, tally)

                exchange.settle = settle
        if plan.admission is not None:
            try:
                scope, exchange.page = plan.admission.admit(scope, exchange.identity)
                await self._count_replay(plan.admission, exchange.page)
            except RequestRefused as refused:
                await send_problem(send, _problem(refused), self.policy.problem_base, exchange.headers)
                kind = "token" if isinstance(refused, TokenError) else "parameter"
                return Refusal(kind, refused.reason, refused.status)
        pipeline = plan.pipeline
        if pipeline is None and (exchange.tally is not None or exchange.headers):
            pipeline = _NO_STAGES  # records to count or headers to add: the guard still runs
        located = self._located(plan, scope, send, exchange)
        if pipeline is None:
            await self.app(scope, receive, located)
            return None
        exchange.scope = scope = _inspectable(scope)
        guard = ResponseGuard(
            located,
            exchange,
            pipeline,
            text_bodies=plan.text_bodies,
            max_body_bytes=self.policy.max_body_bytes,
            problem_base=self.policy.problem_base,
            vary_on=self._vary_on,
        )
        await self.app(scope, receive, guard)
        return None

    @staticmethod
    def _closing_store(send: Send, store: QuotaStore) -> Send:
        """``send`` that closes the quota store this middleware built once the app has shut down."""

        async def closing(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                try:
                    await store.aclose()  # the Redis connections: no request comes after this
                except Exception:  # a store that cannot close must not fail the shutdown
                    logger.exception("shield could not close its quota store at shutdown")
            await send(message)

        return closing

    def _requester(self, scope: Scope) -> Requester:
        return resolve_requester(scope, self._sources)

    def _located(self, plan: RoutePlan, scope: Scope, send: Send, exchange: Exchange | None) -> Send:
        """``send`` sealing the IDs of ``Location`` headers that name a sealed route (:mod:`shield.locations`).

        ``send`` itself where no route has sealed parameters: nothing is prepared per request.
        """
        locations = plan.locations
        if locations is None:
            return send
        request_path = exchange.client_path if exchange is not None else route_path(scope)
        root_path: str = scope.get("root_path", "")
        vary_on = self._vary_on

        def identity() -> str:  # resolved only when a location is sealed
            return (exchange.identity if exchange is not None else "") or _binding(self._requester(scope))

        async def located(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                sealed = locations.headers(headers, identity, request_path, root_path)
                if sealed is not headers:  # the location is the caller's own: never shared-cached
                    message = {**message, "headers": private_headers(sealed, vary_on)}
            await send(message)

        return located

    async def _count_replay(self, admission: RouteAdmission, page: PageRequest | None) -> None:
        """A cursor may be used ``replay_limit`` times (counted in the quota store), then no more."""
        if page is None or page.replay_key is None or page.cursor is None or admission.paginator is None:
            return
        limit = admission.paginator.settings.replay_limit
        assert limit is not None  # a replay key is only made under a limit
        assert self._quotas is not None  # built whenever a route has a replay limit
        if not await self._quotas.use(page.replay_key, limit, page.cursor.expires_at - self._clock()):
            raise ReplayedCursor("replayed")


def _own_refusal(refusal: Refusal | None, primary: IdentityKey | None) -> bool:
    """A quota refusal of the caller's own budget (not of an address it shares with others)."""
    if refusal is None or refusal.kind not in ("quota", "blocked"):
        return False
    return refusal.source is None or primary is None or refusal.source == primary.source


def _binding(requester: Requester | None) -> str:
    """Who tokens are bound to: the request's primary identity key (see ``[identity]``).

    Requests with no key at all share one identity: they can use each other's tokens, and
    nobody else's.
    """
    if requester is None:
        return ""
    primary = requester.primary
    return f"{primary.source}:{primary.value}" if primary is not None else "anonymous"


def _user_of(viewer: ViewerResolver) -> UserResolver:
    def user(scope: Scope) -> str | None:
        found = viewer(scope)
        return found.id if found is not None else None

    return user


_NO_STAGES = ResponsePipeline([])


def _problem(refusal: RequestRefused) -> Problem:
    return Problem(slug=refusal.slug, title=refusal.title, status=refusal.status, detail=refusal.message)


def _inspectable(scope: Scope) -> Scope:
    """A scope in which the app sends every byte through ``send``, and never a range."""
    extensions = scope.get("extensions") or {}
    file_send = any(name in extensions for name in _FILE_EXTENSIONS)
    ranged = any(name in _RANGE_HEADERS for name, _ in scope.get("headers", ()))
    if not (file_send or ranged):
        return scope
    scope = dict(scope)
    if file_send:
        scope["extensions"] = {k: v for k, v in extensions.items() if k not in _FILE_EXTENSIONS}
    if ranged:
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in _RANGE_HEADERS]
    return scope


def _anonymous(scope: Scope) -> None:
    return None
