"""shield wrapped around a Django ASGI application (examples/django_app) really protects it.

Django's settings are process-wide: the example configures them once, for itself, on import,
and refuses to join a process whose Django is configured for something else. Nothing else in
the test suite uses Django, so importing it here leaks nothing into other tests.
"""

from __future__ import annotations

import importlib
from typing import Any

import integration_checks as checks
import pytest
from clocks import FrozenClock

# Django ships no type hints (django-stubs is not a dependency).
from django.conf import settings  # type: ignore[import-untyped]
from django.core import signing  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]

from examples.django_app import asgi as django_example
from shield import Viewer

pytestmark = pytest.mark.anyio


def test_importing_the_example_again_configures_nothing_twice() -> None:
    module = importlib.reload(django_example)
    assert settings.ROOT_URLCONF == "examples.django_app.asgi" == module.__name__


def test_the_example_refuses_a_django_configured_for_another_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "ROOT_URLCONF", "someone.elses.urls")
    with pytest.raises(ImproperlyConfigured, match="already configured"):
        importlib.reload(django_example)


async def test_tokens_are_bound_to_the_django_session() -> None:
    async with checks.client_for(django_example.create_application(clock=FrozenClock())) as client:
        one, other = {"cookie": "sessionid=first-session"}, {"cookie": "sessionid=other-session"}
        first = (await client.get("/users?limit=5", headers=one)).json()
        assert (await client.get(first["next"], headers=one)).status_code == 200
        checks.refused(await client.get(first["next"], headers=other), 400, "token-invalid")
        checks.refused(await client.get(f"/users/{first['items'][0]['id']}", headers=other), 400, "token-invalid")


def viewer_from_signed_token(scope: Any) -> Viewer | None:
    """The viewer docs/integrations/django.md shows: a bearer token signed with django.core.signing."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value.startswith(b"Bearer "):
            try:
                user_id = signing.loads(value[7:].decode("latin-1"), salt="api-token", max_age=3600)
            except signing.BadSignature:
                return None
            return Viewer(id=str(user_id))
    return None


async def test_a_viewer_can_verify_a_django_signed_token() -> None:
    app = django_example.create_application(viewer=viewer_from_signed_token, clock=FrozenClock())
    alice = {"authorization": "Bearer " + signing.dumps(100001, salt="api-token")}
    forged = {"authorization": "Bearer " + signing.dumps(100001, salt="api-token")[:-2] + "xx"}
    async with checks.client_for(app) as client:
        first = (await client.get("/users?limit=5", headers=alice)).json()
        assert (await client.get(first["next"], headers=alice)).status_code == 200
        checks.refused(await client.get(first["next"], headers=forged), 400, "token-invalid")
