"""The ``[identity]`` policy section: who is asking, for masking, tokens and quotas.

Read by :meth:`shield.Policy.from_dict`; compiled into :class:`~shield.requester.IdentitySources`.
See ``docs/policy.md`` for every key.
"""

from __future__ import annotations

from dataclasses import dataclass

from shield._config import Table, describe
from shield.clientip import TrustedProxies, check_prefixes
from shield.errors import PolicyError
from shield.requester import SOURCES, IdentitySources, UserResolver

__all__ = ["IdentitySettings", "read_identity"]

_FORWARDED = ("x-forwarded-for", "forwarded", "none")


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """Where a request's identity keys come from.

    ``user_from_scope`` reads ``scope["user"].identity`` and ``scope["auth"].scopes`` as set by
    Starlette's AuthenticationMiddleware (or any auth that fills them in): for owner and role
    unmasking, and as the ``user`` source.
    """

    user_from_scope: bool = True
    order: tuple[str, ...] = SOURCES
    api_key_header: str = "x-api-key"
    session_cookie: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    forwarded_header: str | None = "x-forwarded-for"
    ipv4_prefixes: tuple[int, ...] = (32,)
    ipv6_prefixes: tuple[int, ...] = (64,)

    def sources(self, user: UserResolver | None = None) -> IdentitySources:
        """The compiled sources; ``user`` overrides how the ``user`` source is read."""
        if user is None and not self.user_from_scope:
            user = _nobody
        return IdentitySources(
            order=self.order,
            api_key_header=self.api_key_header,
            session_cookie=self.session_cookie,
            user=user,
            trusted_proxies=TrustedProxies(self.trusted_proxies),
            forwarded_header=self.forwarded_header,  # type: ignore[arg-type]  # checked when read
            ipv4_prefixes=self.ipv4_prefixes,
            ipv6_prefixes=self.ipv6_prefixes,
        )


def read_identity(table: Table) -> IdentitySettings:
    order = table.choices("order", SOURCES, "source")
    proxies = table.strings("trusted_proxies")
    forwarded = table.choice("forwarded_header", _FORWARDED, "x-forwarded-for")
    settings = IdentitySettings(
        user_from_scope=table.value("user_from_scope", bool, True),
        order=order,
        api_key_header=table.value("api_key_header", str, "x-api-key"),
        session_cookie=table.value("session_cookie", str, "") or None,
        trusted_proxies=proxies,
        forwarded_header=None if forwarded == "none" else forwarded,
        ipv4_prefixes=_prefixes(table, "ipv4_prefixes", 4),
        ipv6_prefixes=_prefixes(table, "ipv6_prefixes", 6),
    )
    for key, check in (
        ("trusted_proxies", lambda: TrustedProxies(proxies)),
        ("api_key_header", lambda: IdentitySources(api_key_header=settings.api_key_header)),
        ("session_cookie", lambda: IdentitySources(session_cookie=settings.session_cookie)),
    ):
        try:
            check()
        except ValueError as exc:
            raise PolicyError(table.key_path(key), str(exc)) from exc
    table.finish()
    return settings


def _prefixes(table: Table, key: str, version: int) -> tuple[int, ...]:
    default = (32,) if version == 4 else (64,)
    if not table.has(key):
        table.list_of(key)
        return default
    values = table.list_of(key)
    try:
        return check_prefixes(values, 4 if version == 4 else 6)
    except ValueError as exc:
        raise PolicyError(table.key_path(key), f"{exc} (got {describe(values)})") from exc


def _nobody(scope: object) -> None:
    return None
