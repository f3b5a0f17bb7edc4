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


class TokenError(ShieldError):
    """A pagination token or sealed ID was refused.

    The message is deliberately generic so a client learns nothing about which check failed;
    ``reason`` is a short, stable slug (``bad_tag``, ``unknown_key``…) for logs and metrics.
    """

    message = "invalid token"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r})"


class MalformedToken(TokenError):
    """Not a token this deployment issued: bad encoding, unknown key, bad tag, too long…"""

    message = "malformed or tampered token"


class ExpiredToken(TokenError):
    """A well-formed token whose time is up (its key epoch has rotated out)."""

    message = "expired token"
