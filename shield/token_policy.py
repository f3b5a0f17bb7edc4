"""The policy sections about tokens: ``[tokens]``, ``[route.pagination]``, ``[[seal]]``, ``[[route.unseal]]``.

Read by :meth:`shield.Policy.from_dict`; see ``docs/policy.md`` for every key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shield._config import Table
from shield.errors import PolicyError
from shield.tokens.codec import FORMATS, TokenFormat

__all__ = ["PaginationSettings", "SealRule", "TokenSettings", "UnsealParam"]

PageStyle = Literal["offset", "page", "after_id", "cursor"]
STYLES: tuple[PageStyle, ...] = ("offset", "page", "after_id", "cursor")
_DEFAULT_PARAM: dict[PageStyle, str] = {"offset": "offset", "page": "page", "after_id": "after_id", "cursor": "cursor"}
# The native value that means "the first page": a client may send it without a cursor.
_FIRST_PAGE: dict[PageStyle, str | None] = {"offset": "0", "page": "1", "after_id": None, "cursor": None}
_PARAM_NAME = re.compile(r"^[A-Za-z0-9_.~-]+$")
# Anchored at the root: a record's own "next" or "last" (a surname) is not a link.
DEFAULT_LINK_FIELDS = tuple(
    f"$.{where}{name}" for where in ("", "links.", "paging.") for name in ("next", "prev", "previous", "first", "last")
)
DEFAULT_TOTAL_FIELDS = ("$.total", "$.count", "$.meta.total", "$.meta.count")


@dataclass(frozen=True, slots=True, repr=False)
class TokenSettings:
    """Keys and lifetimes shared by cursors and sealed IDs."""

    secrets: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    format: TokenFormat = "signed"
    epoch_seconds: int = 86400
    cursor_ttl: int = 900
    chain_ttl: int = 3600
    max_depth: int = 1000
    detailed_errors: bool = False

    def __repr__(self) -> str:  # secrets never reach a log line
        return (
            f"TokenSettings(secrets=<{len(self.secrets)}>, pending=<{len(self.pending)}>, format={self.format!r}, "
            f"epoch_seconds={self.epoch_seconds}, cursor_ttl={self.cursor_ttl}, chain_ttl={self.chain_ttl}, "
            f"max_depth={self.max_depth}, detailed_errors={self.detailed_errors})"
        )


@dataclass(frozen=True, slots=True)
class PaginationSettings:
    """A route's native pagination, which clients only ever see as cursors."""

    style: PageStyle
    param: str
    cursor_param: str = "cursor"
    size_param: str | None = None
    max_size: int | None = None
    native: Literal["first-page", "refuse"] = "first-page"
    links: tuple[str, ...] = DEFAULT_LINK_FIELDS
    link_header: bool = True
    last: Literal["keep", "drop"] = "keep"
    totals: Literal["keep", "drop", "coarsen"] = "keep"
    total_fields: tuple[str, ...] = DEFAULT_TOTAL_FIELDS
    replay_limit: int | None = None

    @property
    def first_page(self) -> str | None:
        return _FIRST_PAGE[self.style]


@dataclass(frozen=True, slots=True)
class SealRule:
    """Record IDs at ``field`` in responses become tokens of ``kind`` scoped to the viewer."""

    field: str
    kind: str


@dataclass(frozen=True, slots=True)
class UnsealParam:
    """A path or query parameter that arrives sealed and reaches the app as the raw ID."""

    param: str
    kind: str
    raw: Literal["refuse", "allow"] = "refuse"


def read_tokens(table: Table) -> TokenSettings:
    secrets = tuple(_secrets(table, "secrets"))
    pending = tuple(_secrets(table, "pending"))
    epoch = table.positive_int("epoch_seconds", 86400)
    settings = TokenSettings(
        secrets=secrets,
        pending=pending,
        format=table.choice("format", FORMATS, "signed"),  # type: ignore[arg-type]  # choice() checked it
        epoch_seconds=epoch,
        cursor_ttl=table.positive_int("cursor_ttl", min(900, epoch)),
        chain_ttl=table.positive_int("chain_ttl", 3600),
        max_depth=table.positive_int("max_depth", 1000),
        detailed_errors=table.value("detailed_errors", bool, False),
    )
    table.finish()
    if settings.cursor_ttl > epoch:
        raise PolicyError(table.key_path("cursor_ttl"), f"must not exceed epoch_seconds ({epoch})")
    return settings


def _secrets(table: Table, key: str) -> list[str]:
    values = []
    for index, item in enumerate(table.list_of(key)):
        holder = Table({str(index): item}, table.key_path(key))
        secret = holder.secret(str(index))
        assert secret is not None  # the key is present by construction
        if len(secret.encode()) < 32:
            raise PolicyError(f"{table.key_path(key)}[{index}]", "a token secret needs at least 32 bytes")
        values.append(secret)
    return values


def read_pagination(table: Table) -> PaginationSettings:
    style: PageStyle = table.choice("style", STYLES, "offset")  # type: ignore[assignment]  # checked by choice()
    param = _param(table, "param", _DEFAULT_PARAM[style])
    cursor_param = _param(table, "cursor_param", "cursor")
    size_param = _param(table, "size_param", "") or None
    max_size = table.positive_int("max_size", 0) if table.has("max_size") else None
    if max_size is not None and size_param is None:
        raise PolicyError(table.key_path("max_size"), "needs size_param: the parameter that sets the page size")
    if cursor_param == param and style != "cursor":
        raise PolicyError(table.key_path("cursor_param"), f"must differ from param ({param!r})")
    if size_param is not None and size_param.lower() in (param.lower(), cursor_param.lower()):
        raise PolicyError(table.key_path("size_param"), "must differ from param and cursor_param")
    links = table.field_paths("links", DEFAULT_LINK_FIELDS)
    total_fields = table.field_paths("total_fields", DEFAULT_TOTAL_FIELDS)
    settings = PaginationSettings(
        style=style,
        param=param,
        cursor_param=cursor_param,
        size_param=size_param,
        max_size=max_size,
        native=table.choice("native", ("first-page", "refuse"), "first-page"),  # type: ignore[arg-type]
        links=links,
        link_header=table.value("link_header", bool, True),
        last=table.choice("last", ("keep", "drop"), "keep"),  # type: ignore[arg-type]
        totals=table.choice("totals", ("keep", "drop", "coarsen"), "keep"),  # type: ignore[arg-type]
        total_fields=total_fields,
        replay_limit=table.positive_int("replay_limit", 1) if table.has("replay_limit") else None,
    )
    table.finish()
    return settings


def read_seals(table: Table, key: str = "seal") -> list[SealRule]:
    rules = []
    for rule in table.tables(key):
        field = rule.value("field", str, "")
        if not field:
            raise PolicyError(rule.key_path("field"), "required: a key name or a JSON path")
        rule.field_path("field", field)
        rules.append(SealRule(field=field, kind=_kind(rule)))
        rule.finish()
    return rules


def read_unseals(table: Table) -> list[UnsealParam]:
    params = []
    for entry in table.tables("unseal"):
        param = _param(entry, "param", "")
        if not param:
            raise PolicyError(entry.key_path("param"), "required: a path parameter of the route, or a query parameter")
        raw = entry.choice("raw", ("refuse", "allow"), "refuse")
        params.append(UnsealParam(param=param, kind=_kind(entry), raw=raw))  # type: ignore[arg-type]
        entry.finish()
    return params


def _kind(table: Table) -> str:
    kind = table.value("kind", str, "")
    if not _PARAM_NAME.match(kind):
        raise PolicyError(
            table.key_path("kind"), f"expected a record kind such as 'user' (letters, digits, _-.~), got {kind!r}"
        )
    return kind


def _param(table: Table, key: str, default: str) -> str:
    value = table.value(key, str, default)
    if value and not _PARAM_NAME.match(value):
        raise PolicyError(table.key_path(key), f"expected a plain parameter name, got {value!r}")
    return value
