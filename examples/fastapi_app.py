"""shield in front of a FastAPI app: a policy file, plus settings declared next to the routes.

Run: SHIELD_TOKEN_SECRET=$(.venv/bin/shield keys generate) .venv/bin/uvicorn examples.fastapi_app:app --port 8000
Try: curl 127.0.0.1:8000/orders/7
     curl '127.0.0.1:8000/customers?limit=2', then its ``next`` link, then /customers/<an id from the list>
     curl '127.0.0.1:8000/customers?offset=2' and curl 127.0.0.1:8000/customers/100002 are refused
     open 127.0.0.1:8000/docs: the cursor parameter and shield's problem responses are documented

The app paginates by ``offset`` and looks customers up by integer id; shield turns both into
opaque tokens. See docs/integrations/fastapi.md.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel

from shield import Policy
from shield.fastapi import install, quota, shield_route


class Buyer(BaseModel):
    username: str
    phone: str


class Order(BaseModel):
    id: int
    buyer: Buyer
    comment: str


class Customer(BaseModel):
    id: int
    name: str
    phone: str
    city: str


class CustomerPage(BaseModel):
    items: list[Customer]
    total: int
    next: str | None


CUSTOMERS = [
    Customer(id=100001 + n, name=f"customer{n:03d}", phone=f"1391234{n:04d}", city=("Hangzhou", "Chengdu")[n % 2])
    for n in range(40)
]
BY_ID = {customer.id: customer for customer in CUSTOMERS}

# One signing secret for every worker: `shield keys generate` prints one. Without it, each
# process makes its own, so cursors and sealed ids only open in the process that issued them.
TOKEN_SECRET = os.environ.get("SHIELD_TOKEN_SECRET") or secrets.token_urlsafe(32)

policy_data = tomllib.loads(Path(__file__).with_name("fastapi_policy.toml").read_text(encoding="utf-8"))
POLICY = Policy.from_dict({**policy_data, "tokens": {"secrets": [TOKEN_SECRET]}})

app = FastAPI(title="shop")


@app.get("/orders/{order_id}")
async def order(order_id: int) -> Order:
    return Order(
        id=order_id,
        buyer=Buyer(username="lucas88", phone="15912345678"),
        comment="Deliver after 6pm, ring 021-6234 5678 or mail lucas88@example.com",
    )


@app.get("/customers")
@shield_route(
    mask=[("name", "username")],
    seal=[("items[*].id", "customer")],
    pagination={"style": "offset", "size_param": "limit", "max_size": 20, "links": ["$.next"]},
)
async def customers(offset: int = 0, limit: int = 10) -> CustomerPage:
    following = f"/customers?offset={offset + limit}&limit={limit}" if offset + limit < len(CUSTOMERS) else None
    return CustomerPage(items=CUSTOMERS[offset : offset + limit], total=len(CUSTOMERS), next=following)


@app.get("/customers/{customer_id}", dependencies=[Depends(quota("detail-views"))])
@shield_route(seal=[("id", "customer")], unseal=[("customer_id", "customer")])
async def customer(customer_id: int) -> Customer:
    if customer_id not in BY_ID:
        raise HTTPException(404, "no such customer")
    return BY_ID[customer_id]


@app.post("/exports", dependencies=[Depends(quota("exports", limit=2, window=3600, per=["api_key", "network"]))])
async def export() -> dict[str, int]:
    return {"customers": len(CUSTOMERS)}


# Last, once every route is declared. Authentication middleware, if any, is added after this call
# (it must run before shield for the "user" identity source).
install(app, POLICY)
