"""The documentation stays true to the code: every policy key is documented and vice versa."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path
from typing import Any

import pytest

from shield import Policy

ROOT = Path(__file__).parents[1]
REFERENCE = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")

# A policy that sets every key shield reads; the reference must document exactly these.
EVERY_KEY: dict[str, Any] = {
    "max_body_bytes": 1024,
    "demo": True,
    "problem_base": "https://example.invalid/problems/",
    "masking": {
        "free_text": True,
        "integers": True,
        "text_bodies": True,
        "owner_field": "id",
        "unmask_roles": ["support"],
    },
    "mask": [{"field": "phone", "kind": "hash"}],
    "route": [
        {
            "path": "/users/{id}",
            "methods": ["GET"],
            "masking": True,
            "mask": [{"field": "a", "kind": "drop"}],
            "seal": [{"field": "id", "kind": "user"}],
            "unseal": [{"param": "id", "kind": "user", "raw": "refuse"}],
        },
        {
            "path": "/users",
            "pagination": {
                "style": "offset",
                "param": "offset",
                "cursor_param": "cursor",
                "size_param": "limit",
                "max_size": 100,
                "native": "first-page",
                "links": ["next"],
                "link_header": True,
                "last": "drop",
                "totals": "coarsen",
                "total_fields": ["total"],
                "replay_limit": 1,
            },
        },
    ],
    "seal": [{"field": "user_id", "kind": "user"}],
    "quota": [
        {
            "name": "records",
            "kind": "distinct",
            "limit": 1000,
            "window": 86400,
            "routes": ["/users"],
            "methods": ["GET"],
            "group": "people",
            "per": ["api_key", "network"],
            "records": ["items"],
            "id_field": "id",
            "approximate": True,
            "mode": "shadow",
            "outage": "open",
        },
        {"name": "burst", "kind": "requests", "limit": 10, "window": 1, "burst": 20, "routes": ["/users"]},
    ],
    "quotas": {
        "store": "redis",
        "redis_url": "redis://127.0.0.1:6379/0",
        "redis_cluster": True,
        "redis_hash_tag": "shop",
        "redis_prefix": "shield-docs",
        "max_keys": 1000,
        "timeout": 0.1,
        "retry_after": 2,
        "headers": "always",
        "coarse_headers": True,
        "penalty": {"strikes": 5, "within": 60, "block": 600},
    },
    "detector": {
        "enabled": True,
        "window": 600,
        "flag": 10,
        "slow": 20,
        "slow_seconds": 0.1,
        "block": 30,
        "block_seconds": 60,
        "points": {
            "token_failure": 5,
            "raw_parameter": 5,
            "quota_refusal": 1,
            "deep_page": 1,
            "deep_after": 10,
            "records": 1,
            "records_unit": 50,
        },
    },
    "identity": {
        "user_from_scope": True,
        "order": ["api_key", "user", "network"],
        "api_key_header": "x-api-key",
        "session_cookie": "sid",
        "trusted_proxies": ["10.0.0.0/8"],
        "forwarded_header": "forwarded",
        "ipv4_prefixes": [32, 24],
        "ipv6_prefixes": [64, 48],
    },
    "secrets": {"hash_key": "0123456789abcdef0123"},
    "tokens": {
        "secrets": ["0123456789abcdef0123456789abcdef"],
        "pending": ["fedcba9876543210fedcba9876543210"],
        "format": "encrypted",
        "epoch_seconds": 3600,
        "cursor_ttl": 600,
        "chain_ttl": 1800,
        "max_depth": 50,
        "detailed_errors": False,
    },
}
# Keys that open a section of their own; each has a heading in the reference.
SECTIONS = {
    "masking": "[masking]",
    "mask": "[[mask]]",
    "route": "[[route]]",
    "identity": "[identity]",
    "secrets": "[secrets]",
    "tokens": "[tokens]",
    "seal": "[[seal]]",
    "pagination": "[route.pagination]",
    "quota": "[[quota]]",
    "quotas": "[quotas]",
    "penalty": "[quotas.penalty]",
    "detector": "[detector]",
    "points": "[detector.points]",
    "unseal": "[[route.unseal]]",
}


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()


def documented_keys() -> set[str]:
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", REFERENCE, flags=re.MULTILINE))


def test_every_key_is_accepted() -> None:
    policy = Policy.from_dict(EVERY_KEY)
    assert policy.masking.text_bodies
    assert policy.routes[0].mask[0].kind == "drop"
    assert policy.routes[0].unseal[0].param == "id"
    pagination = policy.routes[1].pagination
    assert pagination is not None
    assert pagination.max_size == 100
    assert pagination.totals == "coarsen"
    assert policy.seal[0].kind == "user"
    assert policy.tokens.format == "encrypted"
    assert policy.tokens.max_depth == 50


def test_reference_documents_exactly_the_keys_the_policy_reads() -> None:
    every = keys_of(EVERY_KEY)
    assert every - set(SECTIONS) <= documented_keys() <= every  # (some sections are route keys too)
    for heading in SECTIONS.values():
        assert f"## `{heading}`" in REFERENCE, heading


@pytest.mark.parametrize("path", [ROOT / "shield" / "demo" / "policy.toml", ROOT / "examples" / "fastapi_policy.toml"])
def test_shipped_policies_use_only_documented_keys(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    with warnings.catch_warnings():  # the demo's policy says it is one, with a warning
        warnings.simplefilter("ignore", UserWarning)
        Policy.from_dict(data)
    assert keys_of(data) - set(SECTIONS) <= documented_keys()


def test_the_reference_example_is_a_valid_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    example = REFERENCE[REFERENCE.index("## Example") :]
    toml = example[example.index("```toml") + len("```toml") : example.index("```", example.index("```toml") + 7)]
    monkeypatch.setenv("SHIELD_TOKEN_SECRET", "a token secret of at least thirty-two bytes")
    policy = Policy.from_dict(tomllib.loads(toml))
    assert [route.path for route in policy.routes] == ["/users", "/users/{user_id:int}", "/internal/export"]
    assert policy.detector.enabled
    assert keys_of(tomllib.loads(toml)) - set(SECTIONS) - {"env"} <= documented_keys()  # { env = "NAME" } secrets
