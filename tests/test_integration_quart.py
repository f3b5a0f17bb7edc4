"""shield wrapped around a Quart app (examples/quart_app.py) really protects it.

The example replaces ``app.asgi_app``, so Quart's own test client goes through shield too.
"""

from __future__ import annotations

import integration_checks as checks
import pytest
from clocks import FrozenClock

from examples import quart_app

pytestmark = pytest.mark.anyio


async def test_quarts_own_test_client_goes_through_shield() -> None:
    test_client = quart_app.create_app(clock=FrozenClock()).test_client()
    response = await test_client.get("/users", query_string={"limit": "2"})
    assert response.status_code == 200
    text = await response.get_data(as_text=True)
    checks.assert_no_contact_survives(text, quart_app.USERS)
    assert "cursor=" in (await response.get_json())["next"]
    refused = await test_client.get("/users/100002")
    assert refused.status_code == 400
    assert refused.content_type == "application/problem+json"
