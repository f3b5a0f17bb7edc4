"""Seeded fake users that look like a real API's rows.

The mix matters for the benchmark: Latin and CJK usernames, Chinese mobiles and international
numbers, and free-text bios where some phones hide in prose ("call me at 138 0013 8000"). The
masker has to find those, so they cost what they would cost in production. Every run builds the
same users, which lets the harness check a masked body against the originals it must not leak.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

SEED = 20240501
USER_COUNT = 1000

_LATIN_FIRST = (
    "alice", "bob", "carol", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jonas",
    "kemal", "lucia", "mateo", "nadia", "oskar", "priya", "quentin", "rosa", "samir", "tanya",
)  # fmt: skip
_LATIN_LAST = (
    "smith", "garcia", "muller", "rossi", "novak", "kowalski", "silva", "tanaka", "larsen",
    "dubois", "okafor", "haddad", "jensen", "moreau", "petrov", "schmidt", "costa", "ng",
)  # fmt: skip
_CJK_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗"
_CJK_GIVEN = (*"伟芳娜敏静丽强磊洋艳勇", "秀英", "小明", "晓东")
_PINYIN = ("wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou")
_DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.cn")
_CITIES = (
    "北京", "上海", "深圳", "杭州", "成都", "Guangzhou", "Hong Kong", "Singapore",
    "Berlin", "London", "San Francisco", "São Paulo", "Tokyo", "Toronto",
)  # fmt: skip
# Chinese prose uses fullwidth punctuation; RUF001 is silenced where that is the point.
_PLAIN_BIOS = (
    "Backend engineer at a logistics startup; ask me about Postgres and queues.",
    "Coffee, cycling and distributed systems. Opinions are my own.",
    "喜欢摄影和旅行，周末常去爬山，偶尔写写代码。",  # noqa: RUF001
    "Product designer. Previously at two fintechs, now building tools for nurses.",
    "数据分析师，关注城市交通和公共卫生。",  # noqa: RUF001
    "Amateur baker, professional on-call survivor.",
    "",
)
# Templates with a phone in the prose; {} is filled with a number in the shown style.
_PHONE_BIOS = (
    "call me at {}",
    "WeChat is the same as my phone: {} (evenings only)",
    "商务合作请联系 {}，非诚勿扰。",  # noqa: RUF001
    "Hiring! Text {} with your CV link.",
    "Office line {}, weekdays 9-18.",
)
_BIO_PHONE_SHARE = 0.3
_INTERNATIONAL_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class FakeUser:
    """One row; ``bio_phones`` lists the numbers hidden in ``bio`` (never served)."""

    id: int
    username: str
    phone: str
    email: str
    city: str
    created_at: datetime
    bio: str
    bio_phones: tuple[str, ...]

    def row(self) -> dict[str, Any]:
        """The row as a database driver would hand it over (datetime left as is)."""
        return {
            "id": self.id,
            "username": self.username,
            "phone": self.phone,
            "email": self.email,
            "city": self.city,
            "created_at": self.created_at,
            "bio": self.bio,
        }

    def json_row(self) -> dict[str, Any]:
        """The row with ``created_at`` in the ISO form pydantic emits, for plain JSON."""
        row = self.row()
        row["created_at"] = self.created_at.isoformat().replace("+00:00", "Z")
        return row


# Allocated mobile prefixes only, so every number is one a validating detector must catch.
_CN_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "145", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip


def _cn_mobile(rng: random.Random) -> str:
    return rng.choice(_CN_PREFIXES) + _digits(rng, 8)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _international(rng: random.Random) -> str:
    style = rng.randrange(5)
    if style == 0:
        return f"+1 415 555 {_digits(rng, 4)}"
    if style == 1:
        return f"+44 7400 {_digits(rng, 6)}"
    if style == 2:
        return f"+81 90-{rng.randrange(1000, 10000)}-{_digits(rng, 4)}"
    if style == 3:
        return f"+49 151 {_digits(rng, 8)}"
    return f"+86 {_cn_mobile(rng)}"


def _spaced(mobile: str) -> str:
    return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"


def _user(rng: random.Random, user_id: int, epoch: datetime) -> FakeUser:
    if rng.random() < 0.3:
        username = rng.choice(_CJK_SURNAMES) + rng.choice(_CJK_GIVEN)
        if rng.random() < 0.4:
            username += str(rng.randrange(10, 100))
        local = f"{rng.choice(_PINYIN)}.{user_id}"
    else:
        first, last = rng.choice(_LATIN_FIRST), rng.choice(_LATIN_LAST)
        username = f"{first}_{last}{rng.randrange(100)}" if rng.random() < 0.6 else first + last
        local = f"{first}.{last}"
    phone = _international(rng) if rng.random() < _INTERNATIONAL_SHARE else _cn_mobile(rng)
    bio_phones: tuple[str, ...] = ()
    if rng.random() < _BIO_PHONE_SHARE:
        mobile = _cn_mobile(rng)
        shown = rng.choice((mobile, _spaced(mobile), _international(rng)))
        bio = rng.choice(_PHONE_BIOS).format(shown)
        bio_phones = (shown,)
    else:
        bio = rng.choice(_PLAIN_BIOS)
    return FakeUser(
        id=user_id,
        username=username,
        phone=phone,
        email=f"{local}@{rng.choice(_DOMAINS)}",
        city=rng.choice(_CITIES),
        created_at=epoch + timedelta(seconds=rng.randrange(2 * 365 * 86400)),
        bio=bio,
        bio_phones=bio_phones,
    )


@cache
def users() -> tuple[FakeUser, ...]:
    """All fake users, ids 1..USER_COUNT, identical on every call and in every process."""
    rng = random.Random(SEED)
    epoch = datetime(2023, 1, 1, tzinfo=UTC)
    return tuple(_user(rng, i, epoch) for i in range(1, USER_COUNT + 1))


def page(offset: int, limit: int) -> tuple[FakeUser, ...]:
    """The slice a ``?offset=&limit=`` query serves."""
    return users()[offset : offset + limit]


def by_id(user_id: int) -> FakeUser | None:
    """One user, or ``None`` for an unknown id."""
    if 1 <= user_id <= USER_COUNT:
        return users()[user_id - 1]
    return None
