"""One exception tree for everything shield raises.

Callers catch :class:`ShieldError`; backend errors are chained with ``from`` so the
cause stays visible in logs while the client only ever sees a problem document.
"""

from __future__ import annotations


class ShieldError(Exception):
    """Root of every error shield raises on purpose."""


class PolicyError(ShieldError, ValueError):
    """The policy is invalid; ``path`` names the offending key (``mask[2].kind``)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class UnmaskableResponse(ShieldError):
    """A response shield must inspect but cannot: it fails closed with a 502.

    ``reason`` is a short, stable slug used in the problem document and in logs.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class RequestRefused(ShieldError):
    """A request shield answers itself, before the app sees it (a 4xx problem document).

    ``message`` is what the client reads: deliberately no more than it needs. ``reason`` is a
    short, stable slug (``bad_tag``, ``duplicate``…) for logs and metrics.
    """

    message = "request refused"
    title = "Request refused"
    #: HTTP status and problem type slug for the client's problem document.
    status = 400
    slug = "request-refused"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r})"


class RefusedParameter(RequestRefused):
    """A native pagination parameter or a raw record ID where shield only takes tokens.

    Also a parameter spelled to slip past the check (``OFFSET=``, ``offset[]=``, given twice).
    """

    title = "Parameter refused"
    slug = "parameter-refused"

    def __init__(self, reason: str, message: str) -> None:
        self.message = message
        super().__init__(reason)


class TokenError(RequestRefused):
    """A pagination token or sealed ID was refused.

    The message is deliberately generic so a client learns nothing about which check failed.
    """

    message = "invalid token"
    title = "Invalid token"
    slug = "token-invalid"


class MalformedToken(TokenError):
    """Not a token this deployment issued: bad encoding, unknown key, bad tag, too long…"""

    message = "malformed or tampered token"


class ExpiredToken(TokenError):
    """A well-formed token whose time is up (its key epoch has rotated out)."""

    message = "expired token"
    title = "Expired token"
    status = 410
    slug = "token-expired"


class ForeignToken(TokenError):
    """An authentic token bound to another identity, route or query.

    By default it looks exactly like a :class:`MalformedToken` to the client (same status, slug
    and message): telling the two apart would confirm that a token is genuine but someone
    else's, an oracle for anyone collecting tokens. ``detailed=True`` (a policy opt-in) says
    403 ``token-foreign`` instead. ``reason`` always says the truth, for logs.
    """

    message = MalformedToken.message
    detailed_message = "token issued for another client or request"

    def __init__(self, reason: str, *, detailed: bool = False) -> None:
        self.detailed = detailed
        if detailed:
            self.status = 403
            self.slug = "token-foreign"
            self.title = "Token issued to another client"
            self.message = self.detailed_message
        super().__init__(reason)


class ExpiredCursor(ExpiredToken):
    """A genuine cursor past its own expiry or its chain's lifetime (``expired``, ``chain_expired``)."""


class ReplayedCursor(TokenError):
    """A genuine cursor used more often than the route's ``replay_limit`` allows."""

    message = "this cursor has been used up; start again from the first page"
    title = "Cursor used up"
    status = 410
    slug = "cursor-used-up"


class ChainTooDeep(TokenError):
    """A genuine cursor that walked more pages than the policy allows from one first page."""

    message = "too many pages in one walk; start again from the first page"
    title = "Pagination chain too deep"
    status = 403
    slug = "chain-too-deep"
