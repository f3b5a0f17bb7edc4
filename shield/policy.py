"""The policy: the single, immutable place where shield is configured.

Build it with :meth:`Policy.from_dict` or :meth:`Policy.from_toml`. Everything is
validated when it is loaded; the middleware compiles it once and reads only the
compiled form on the hot path.
"""

from __future__ import annotations

import copy
import hashlib
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shield._config import Table, suggest
from shield.detector import DetectorSettings, read_detector
from shield.errors import PolicyError
from shield.identity_policy import IdentitySettings, read_identity
from shield.masking.maskers import MASKER_KINDS
from shield.quota_policy import QuotaRule, QuotaSettings, read_quota_rules, read_quota_settings
from shield.token_policy import (
    PaginationSettings,
    SealRule,
    TokenSettings,
    UnsealParam,
    read_pagination,
    read_seals,
    read_tokens,
    read_unseals,
)

__all__ = [
    "IdentitySettings",
    "MaskRule",
    "MaskingSettings",
    "PaginationSettings",
    "Policy",
    "QuotaRule",
    "QuotaSettings",
    "RoutePolicy",
    "SealRule",
    "TokenSettings",
    "UnsealParam",
]

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_PROBLEM_BASE = "https://shield.invalid/problems/"


@dataclass(frozen=True, slots=True)
class MaskRule:
    """Mask the values at ``field`` (a key name or a JSON path) with the masker ``kind``."""

    field: str
    kind: str


@dataclass(frozen=True, slots=True)
class MaskingSettings:
    """How responses are masked; a route can switch masking off or add rules."""

    free_text: bool = True
    integers: bool = True
    text_bodies: bool = False
    owner_field: str | None = None
    unmask_roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """Settings for requests whose path matches ``path`` (a Starlette path template)."""

    path: str
    methods: frozenset[str] | None = None
    masking: bool = True
    mask: tuple[MaskRule, ...] = ()
    pagination: PaginationSettings | None = None
    seal: tuple[SealRule, ...] = ()
    unseal: tuple[UnsealParam, ...] = ()

    @property
    def uses_tokens(self) -> bool:
        return self.pagination is not None or bool(self.seal) or bool(self.unseal)


@dataclass(frozen=True, slots=True, repr=False)
class Secret:
    """A secret value that never shows up in a repr or a log line."""

    value: bytes

    def __repr__(self) -> str:
        return "Secret(***)"


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything shield enforces, validated and immutable."""

    mask: tuple[MaskRule, ...] = ()
    masking: MaskingSettings = field(default_factory=MaskingSettings)
    routes: tuple[RoutePolicy, ...] = ()
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    problem_base: str = DEFAULT_PROBLEM_BASE
    hash_key: Secret | None = None
    tokens: TokenSettings = field(default_factory=TokenSettings)
    seal: tuple[SealRule, ...] = ()
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    quota: tuple[QuotaRule, ...] = ()
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    demo: bool = False
    #: A copy of the data :meth:`from_dict` validated (None when built directly): framework plugins
    #: add route-level settings to it and load it again, so those are validated exactly like a file.
    source: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Validate ``data`` (the same shape as the TOML file) into a policy.

        Raises :class:`~shield.errors.PolicyError` naming the offending key.
        """
        root = Table(data)
        demo = root.value("demo", bool, False)
        masking_table = root.table("masking")
        masking = MaskingSettings(
            free_text=masking_table.value("free_text", bool, True),
            integers=masking_table.value("integers", bool, True),
            text_bodies=masking_table.value("text_bodies", bool, False),
            owner_field=masking_table.value("owner_field", str, "") or None,
            unmask_roles=frozenset(masking_table.strings("unmask_roles")),
        )
        masking_table.finish()
        rules = _read_rules(root)
        routes = tuple(_read_route(table) for table in root.tables("route"))
        identity = read_identity(root.table("identity"))
        secrets = root.table("secrets")
        hash_key = secrets.secret("hash_key")
        secrets.finish()
        tokens_table = root.table("tokens")
        tokens = read_tokens(tokens_table)
        seals = tuple(read_seals(root))
        quota_settings = read_quota_settings(root.table("quotas"))
        quota_rules = tuple(read_quota_rules(root))
        detector = read_detector(root.table("detector"))
        max_body_bytes = root.positive_int("max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        problem_base = root.value("problem_base", str, DEFAULT_PROBLEM_BASE)
        root.finish()
        all_rules = [(f"mask[{i}]", r) for i, r in enumerate(rules)] + [
            (f"route[{i}].mask[{j}]", r) for i, route in enumerate(routes) for j, r in enumerate(route.mask)
        ]
        needs_key = next((where for where, rule in all_rules if rule.kind == "hash"), None)
        if needs_key and hash_key is None:
            if not demo:
                raise PolicyError(
                    "secrets.hash_key",
                    f"required by {needs_key} (kind 'hash'); set it, preferably from the "
                    'environment: hash_key = { env = "SHIELD_HASH_KEY" }',
                )
            warnings.warn("demo mode: using a built-in, public hash key", stacklevel=2)
        if quota_settings.store == "redis" and hash_key is None and not demo:
            raise PolicyError(
                "secrets.hash_key",
                "required by quotas.store = 'redis': identity keys are stored as keyed hashes, and "
                'every worker must use the same key: hash_key = { env = "SHIELD_HASH_KEY" }',
            )
        token_user = next((f"route[{i}]" for i, route in enumerate(routes) if route.uses_tokens), None)
        token_user = token_user or ("seal[0]" if seals else None)
        if token_user and not tokens.secrets:
            if not demo:
                raise PolicyError(
                    "tokens.secrets",
                    f"required by {token_user} (cursors and sealed IDs are signed); set it from the "
                    'environment: secrets = [{ env = "SHIELD_TOKEN_SECRET" }] (`shield keys generate` makes one)',
                )
            warnings.warn("demo mode: using a built-in, public token secret", stacklevel=2)
            tokens = replace(tokens, secrets=(_DEMO_TOKEN_SECRET,))
        return cls(
            mask=tuple(rules),
            masking=masking,
            routes=routes,
            identity=identity,
            max_body_bytes=max_body_bytes,
            problem_base=problem_base,
            hash_key=Secret(hash_key.encode()) if hash_key else _demo_key(demo),
            tokens=tokens,
            seal=seals,
            quotas=quota_settings,
            quota=quota_rules,
            detector=detector,
            demo=demo,
            source=copy.deepcopy(dict(data)),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        """Load and validate a TOML policy file."""
        try:
            with Path(path).open("rb") as file:
                data = tomllib.load(file)
        except OSError as exc:
            raise PolicyError("", f"cannot read policy file {path}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError("", f"{path}: invalid TOML: {exc}") from exc
        return cls.from_dict(data)


_DEMO_TOKEN_SECRET = "shield demo token secret: public, never use it in production"  # noqa: S105  # demo mode only, by design


def _demo_key(demo: bool) -> Secret | None:
    return Secret(hashlib.sha256(b"shield demo key: not secret").digest()) if demo else None


def _read_rules(table: Table, key: str = "mask") -> list[MaskRule]:
    rules = []
    for rule_table in table.tables(key):
        field_path = rule_table.value("field", str, "")
        if not field_path:
            raise PolicyError(rule_table.key_path("field"), "required: a key name or a JSON path")
        rule_table.field_path("field", field_path)
        kind = rule_table.value("kind", str, "")
        if kind not in MASKER_KINDS:
            raise PolicyError(
                rule_table.key_path("kind"),
                f"unknown masker {kind!r}{suggest(kind, MASKER_KINDS)}; expected one of {', '.join(MASKER_KINDS)}",
            )
        rule_table.finish()
        rules.append(MaskRule(field=field_path, kind=kind))
    return rules


def _read_route(table: Table) -> RoutePolicy:
    path = table.path_template("path", table.value("path", str, ""))
    methods = table.methods()
    pagination_table = table.table("pagination")
    pagination = read_pagination(pagination_table) if table.has("pagination") else None
    route = RoutePolicy(
        path=path,
        methods=methods,
        masking=table.value("masking", bool, True),
        mask=tuple(_read_rules(table)),
        pagination=pagination,
        seal=tuple(read_seals(table)),
        unseal=tuple(read_unseals(table)),
    )
    table.finish()
    return route
