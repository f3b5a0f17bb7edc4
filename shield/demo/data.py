"""Seeded fake data: users with phones and emails, their shops, and comments that mention phones."""

from __future__ import annotations

import random
from typing import Any

_SURNAMES = "王李张刘陈杨黄赵吴周"
_GIVEN = "伟芳娜敏静丽强磊军洋"
_LATIN = ("tom", "amy", "lucas", "mia", "noah", "zoe", "liam", "ella")
_CITIES = ("杭州", "上海", "北京", "深圳", "Chengdu", "Guangzhou")
_COMMENTS = (
    "物流很快，有问题请联系我 {phone}",
    "Great seller! Call me at {spaced} if you want the same deal.",
    "质量不错，已推荐给朋友。",
    "Item arrived on 2024-11-26, order #20241126-0042, 5 stars.",
    "加微信或者打电话 +86 {phone}，价格 ¥128.00",
    "Email me at {email} for the bulk price.",
)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def users(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    people = []
    for number in range(count):
        user_id = 100_000 + number
        if number % 2:
            username = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
        else:
            username = f"{rng.choice(_LATIN)}{rng.randrange(1000)}"
        people.append(
            {
                "id": user_id,
                "username": username,
                "phone": _phone(rng),
                "email": f"user{user_id}@example.com",
                "city": rng.choice(_CITIES),
            }
        )
    return people


def comments(people: list[dict[str, Any]], count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for number in range(count):
        author = rng.choice(people)
        phone = author["phone"]
        text = rng.choice(_COMMENTS).format(
            phone=phone, spaced=f"{phone[:3]} {phone[3:7]} {phone[7:]}", email=author["email"]
        )
        out.append({"id": 500_000 + number, "user_id": author["id"], "author": author["username"], "text": text})
    return out


_SHOP_WORDS = ("茶叶", "Electronics", "服装", "Books", "母婴", "Outdoor", "数码", "Kitchen")


def shops(people: list[dict[str, Any]], count: int, seed: int = 13) -> list[dict[str, Any]]:
    """Shops owned by some of the users; the owner's contact phone is in every record."""
    rng = random.Random(seed)
    out = []
    for number in range(count):
        owner = people[rng.randrange(len(people))]
        out.append(
            {
                "id": 300_000 + number,
                "name": f"{owner['username']}的{rng.choice(_SHOP_WORDS)}店",
                "owner_id": owner["id"],
                "contact_phone": owner["phone"],
                "city": owner["city"],
                "rating": round(rng.uniform(3.5, 5.0), 1),
            }
        )
    return out
