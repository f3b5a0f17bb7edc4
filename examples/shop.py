"""The data and the policy the Litestar, Django and Quart examples share: one shop API, three frameworks.

120 users with phone numbers and emails, a list paginated by offset and a single-record route;
the policy masks contacts, puts the list behind cursors, seals the user IDs and sets quotas.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from shield import Policy

CITIES = ("Hangzhou", "Shanghai", "Guangzhou", "Chengdu")
USERS: list[dict[str, Any]] = [
    {
        "id": 100001 + n,
        "name": f"User {n + 1:03d}",
        "phone": f"1391234{n + 1:04d}",
        "email": f"user{n + 1:03d}@example.com",
        "city": CITIES[n % len(CITIES)],
    }
    for n in range(120)
]
BY_ID = {user["id"]: user for user in USERS}

# One signing secret for every worker: `shield keys generate` prints one. Without it, each
# process makes its own, so cursors and sealed ids only open in the process that issued them.
TOKEN_SECRET = os.environ.get("SHIELD_TOKEN_SECRET") or secrets.token_urlsafe(32)

POLICY_DATA: dict[str, Any] = {
    "tokens": {"secrets": [TOKEN_SECRET]},
    "mask": [{"field": "phone", "kind": "phone"}, {"field": "email", "kind": "email"}],
    "route": [
        {
            "path": "/users",
            "seal": [{"field": "items[*].id", "kind": "user"}],
            "pagination": {"style": "offset", "size_param": "limit", "max_size": 50, "links": ["$.next"]},
        },
        {
            # shield matches Starlette-style templates: Quart's /users/<int:user_id> and
            # Django's users/<int:user_id> are this one.
            "path": "/users/{user_id:int}",
            "seal": [{"field": "id", "kind": "user"}],
            "unseal": [{"param": "user_id", "kind": "user"}],  # /users/100002 is refused
        },
    ],
    "quota": [
        {
            "name": "requests-per-minute",
            "limit": 60,
            "window": 60,
            "routes": ["/users", "/users/{user_id:int}"],
            "group": "users-api",
        },
        {"name": "records-per-hour", "kind": "records", "limit": 500, "window": 3600, "routes": ["/users"]},
    ],
}
POLICY = Policy.from_dict(POLICY_DATA)
