"""The viewer for masking: read from Starlette's scope["user"] and scope["auth"]."""

from __future__ import annotations

from starlette.authentication import AuthCredentials, BaseUser, SimpleUser

from shield.identity import ANONYMOUS, Viewer, viewer_from_scope


class Incomplete(BaseUser):
    """A user class that forgot to implement ``identity`` (Starlette's is abstract)."""

    @property
    def is_authenticated(self) -> bool:
        return True


def test_a_user_class_without_identity_is_anonymous() -> None:
    assert viewer_from_scope({"type": "http", "user": Incomplete()}) == ANONYMOUS


def test_user_and_scopes() -> None:
    scope = {"type": "http", "user": SimpleUser("alice"), "auth": AuthCredentials(["support"])}
    assert viewer_from_scope(scope) == Viewer(id="alice", roles=frozenset({"support"}))
