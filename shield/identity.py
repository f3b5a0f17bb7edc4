"""Who is asking, as far as masking needs to know.

The viewer is resolved lazily, when the response starts, so an authentication
middleware inside shield has already filled ``scope["user"]`` and ``scope["auth"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

__all__ = ["Viewer", "ViewerResolver", "viewer_from_scope"]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller: an id comparable with a record's owner field, and roles."""

    id: str | None = None
    roles: frozenset[str] = frozenset()


ViewerResolver = Callable[[Scope], Viewer | None]
ANONYMOUS = Viewer()


def viewer_from_scope(scope: Scope) -> Viewer:
    """Read Starlette's ``scope["user"]`` / ``scope["auth"]``; anonymous when absent."""
    user: Any = scope.get("user")
    viewer_id: str | None = None
    if user is not None and getattr(user, "is_authenticated", False):
        try:
            identity = user.identity
        except (AttributeError, NotImplementedError):  # BaseUser.identity is abstract
            identity = None
        viewer_id = str(identity) if identity not in (None, "") else None
    auth: Any = scope.get("auth")
    scopes = getattr(auth, "scopes", ()) if auth is not None else ()
    roles = frozenset(str(s) for s in scopes) if isinstance(scopes, list | tuple | set | frozenset) else frozenset()
    if viewer_id is None and not roles:
        return ANONYMOUS
    return Viewer(id=viewer_id, roles=roles)
