"""shield in front of a FastAPI app, with a policy file.

Run: .venv/bin/uvicorn examples.fastapi_app:app --port 8000
Try: curl 127.0.0.1:8000/orders/7
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

from shield import Policy, ShieldMiddleware


class Buyer(BaseModel):
    username: str
    phone: str


class Order(BaseModel):
    id: int
    buyer: Buyer
    comment: str


app = FastAPI()
app.add_middleware(ShieldMiddleware, policy=Policy.from_toml(Path(__file__).with_name("fastapi_policy.toml")))


@app.get("/orders/{order_id}")
async def order(order_id: int) -> Order:
    return Order(
        id=order_id,
        buyer=Buyer(username="lucas88", phone="15912345678"),
        comment="Deliver after 6pm, ring 021-6234 5678 or mail lucas88@example.com",
    )
