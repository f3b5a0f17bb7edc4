"""shield in front of a Django project: masked contacts, cursor pagination, sealed ids, quotas.

A whole Django project in one module: settings configured in code, two JSON views, the URL
configuration, and the ASGI application wrapped by shield.

Run: SHIELD_TOKEN_SECRET=$(.venv/bin/shield keys generate) .venv/bin/uvicorn examples.django_app.asgi:application
Try: curl '127.0.0.1:8000/users?limit=2', then the ``next`` link, then ``/users/<an id from the list>``;
     curl '127.0.0.1:8000/users?offset=50' and curl 127.0.0.1:8000/users/100002 are refused.

In a regular project, keep ``settings.py``, ``urls.py`` and ``views.py`` and change only
``asgi.py``: ``application = ShieldMiddleware(get_asgi_application(), policy)``. See
docs/integrations/django.md.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable

# Django ships no type hints (django-stubs is not a dependency of shield).
from django.conf import settings  # type: ignore[import-untyped]
from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]
from django.http import HttpRequest, JsonResponse  # type: ignore[import-untyped]
from django.urls import path  # type: ignore[import-untyped]

from examples.shop import BY_ID, POLICY_DATA, USERS
from shield import Policy, ShieldMiddleware
from shield.identity import ViewerResolver

# Django settings are process-wide and can be configured once: importing this module twice (or
# next to a test that imported it) must not configure them again, and it must not silently
# take over a process whose Django serves another project.
if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        ALLOWED_HOSTS=os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(","),
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],  # request.user, if you add auth, is invisible to shield: see the docs
        DATABASES={},
        USE_TZ=True,
    )
elif __name__ != settings.ROOT_URLCONF:
    raise ImproperlyConfigured(f"{__name__} configures Django itself; Django is already configured for another project")

# Django's session cookie (SESSION_COOKIE_NAME) as an identity: quotas and tokens follow the
# session, as well as the network. request.user is not visible from out here.
POLICY = Policy.from_dict({**POLICY_DATA, "identity": {"session_cookie": "sessionid"}})


def list_users(request: HttpRequest) -> JsonResponse:
    try:
        offset = int(request.GET.get("offset", 0))
        limit = int(request.GET.get("limit", 20))
    except ValueError:
        return JsonResponse({"detail": "offset and limit must be integers"}, status=400)
    following = offset + limit
    more = following < len(USERS)
    return JsonResponse(
        {
            "items": USERS[offset:following],
            "total": len(USERS),
            "next": f"{request.path}?offset={following}&limit={limit}" if more else None,
        }
    )


def get_user(request: HttpRequest, user_id: int) -> JsonResponse:
    user = BY_ID.get(user_id)
    if user is None:
        return JsonResponse({"detail": f"no user {user_id}"}, status=404)
    return JsonResponse(user)


urlpatterns = [
    path("users", list_users),
    path("users/<int:user_id>", get_user),
]


def create_application(
    *, viewer: ViewerResolver | None = None, clock: Callable[[], float] = time.time
) -> ShieldMiddleware:
    """A fresh protected application, with fresh in-memory quotas.

    ``viewer`` names the signed-in caller from the raw request (Django authenticates inside
    the application, on its ``HttpRequest``, where shield cannot see it); ``clock`` lets tests
    freeze time.
    """
    return ShieldMiddleware(get_asgi_application(), POLICY, viewer=viewer, clock=clock)


application = create_application()
