"""Policy loading: validation names the exact key, secrets never have silent defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from shield import Policy, PolicyError
from shield.policy import MaskRule


def error_of(data: dict[str, object]) -> str:
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(data)
    return str(caught.value)


def test_empty_policy_masks_free_text_by_default() -> None:
    policy = Policy.from_dict({})
    assert policy.masking.free_text
    assert policy.mask == ()
    assert policy.hash_key is None


def test_rules_and_routes_are_read_in_order() -> None:
    policy = Policy.from_dict(
        {
            "mask": [{"field": "phone", "kind": "phone"}, {"field": "items[*].buyer.username", "kind": "username"}],
            "route": [{"path": "/internal/{rest:path}", "methods": ["get"], "masking": False}],
        }
    )
    assert policy.mask == (MaskRule("phone", "phone"), MaskRule("items[*].buyer.username", "username"))
    assert policy.routes[0].methods == frozenset({"GET", "HEAD"})  # frameworks answer HEAD on GET routes
    assert policy.routes[0].masking is False


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {
                "mask": [
                    {"field": "a", "kind": "phone"},
                    {"field": "b", "kind": "email"},
                    {"field": "c", "kind": "phne"},
                ]
            },
            "mask[2].kind: unknown masker 'phne' (did you mean 'phone'?)",
        ),
        ({"mask": [{"field": "phone", "kind": "phone", "knd": 1}]}, "mask[0].knd: unknown key (did you mean 'kind'?)"),
        ({"masking": {"fre_text": False}}, "masking.fre_text: unknown key (did you mean 'free_text'?)"),
        ({"maskng": {}}, "maskng: unknown key (did you mean 'masking'?)"),
        ({"masking": {"free_text": "yes"}}, "masking.free_text: expected a boolean, got str 'yes'"),
        ({"max_body_bytes": 0}, "max_body_bytes: must be a positive integer, got 0"),
        ({"max_body_bytes": True}, "max_body_bytes: expected an integer, got bool True"),
        ({"mask": {"field": "x"}}, "mask: expected a list of tables"),
        ({"mask": [{"kind": "phone"}]}, "mask[0].field: required"),
        ({"mask": [{"field": "a..b", "kind": "phone"}]}, "mask[0].field: invalid field path 'a..b'"),
        ({"mask": [{"field": "a[0]", "kind": "phone"}]}, "mask[0].field: invalid field path"),
        ({"route": [{"path": "users"}]}, "route[0].path: expected a path template starting with '/'"),
        ({"route": [{"path": "/u", "methods": ["FETCH"]}]}, "route[0].methods[0]: unknown HTTP method 'FETCH'"),
        (
            {"route": [{"path": "/u", "mask": [{"field": "x", "kind": "emial"}]}]},
            "route[0].mask[0].kind: unknown masker 'emial' (did you mean 'email'?)",
        ),
        ({"masking": {"unmask_roles": ["ok", ""]}}, "masking.unmask_roles[1]: expected a non-empty string"),
    ],
)
def test_errors_name_the_key_and_the_problem(data: dict[str, object], expected: str) -> None:
    assert expected in error_of(data)


def test_hash_rule_requires_a_key_outside_demo_mode() -> None:
    message = error_of({"mask": [{"field": "user_id", "kind": "hash"}]})
    assert message.startswith("secrets.hash_key: required by mask[0] (kind 'hash')")


def test_demo_mode_has_a_public_key_and_says_so() -> None:
    with pytest.warns(UserWarning, match="demo mode"):
        policy = Policy.from_dict({"demo": True, "mask": [{"field": "user_id", "kind": "hash"}]})
    assert policy.hash_key is not None


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIELD_TEST_KEY", "k" * 32)
    policy = Policy.from_dict(
        {"secrets": {"hash_key": {"env": "SHIELD_TEST_KEY"}}, "mask": [{"field": "uid", "kind": "hash"}]}
    )
    assert policy.hash_key is not None
    assert policy.hash_key.value == b"k" * 32
    assert "kkkk" not in repr(policy)


def test_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIELD_ABSENT_KEY", raising=False)
    message = error_of({"secrets": {"hash_key": {"env": "SHIELD_ABSENT_KEY"}}})
    assert message == "secrets.hash_key: environment variable SHIELD_ABSENT_KEY is not set"


def test_short_secret_is_refused() -> None:
    assert error_of({"secrets": {"hash_key": "short"}}).startswith("secrets.hash_key: too short")


def test_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "shield.toml"
    path.write_text(
        """
max_body_bytes = 65536

[masking]
owner_field = "user_id"
unmask_roles = ["support"]

[[mask]]
field = "*.contact.mobile"
kind = "phone"

[[route]]
path = "/users/{id:int}"
[[route.mask]]
field = "nickname"
kind = "username"
""",
        encoding="utf-8",
    )
    policy = Policy.from_toml(path)
    assert policy.max_body_bytes == 65536
    assert policy.masking.owner_field == "user_id"
    assert policy.masking.unmask_roles == frozenset({"support"})
    assert policy.routes[0].mask == (MaskRule("nickname", "username"),)


def test_toml_errors_are_policy_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[masking\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="invalid TOML"):
        Policy.from_toml(broken)
    with pytest.raises(PolicyError, match="cannot read policy file"):
        Policy.from_toml(tmp_path / "missing.toml")


def test_policy_is_immutable() -> None:
    policy = Policy.from_dict({})
    with pytest.raises(AttributeError):
        policy.max_body_bytes = 1  # type: ignore[misc]


SECRET = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"route": [{"path": "/items", "pagination": {}}]},
            "tokens.secrets: required by route[0] (cursors and sealed IDs are signed)",
        ),
        ({"seal": [{"field": "id", "kind": "user"}]}, "tokens.secrets: required by seal[0]"),
        (
            {"tokens": {"secrets": ["too short but sixteen+"]}},
            "tokens.secrets[0]: a token secret needs at least 32 bytes",
        ),
        ({"tokens": {"secrets": SECRET}}, "tokens.secrets: expected a list"),
        (
            {"tokens": {"secrets": [SECRET], "format": "encryptd"}},
            "tokens.format: unknown value 'encryptd' (did you mean 'encrypted'?)",
        ),
        (
            {"tokens": {"secrets": [SECRET], "epoch_seconds": 60, "cursor_ttl": 120}},
            "tokens.cursor_ttl: must not exceed epoch_seconds (60)",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "route": [{"path": "/i", "pagination": {"style": "ofset"}}]},
            "route[0].pagination.style: unknown value 'ofset' (did you mean 'offset'?)",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "route": [{"path": "/i", "pagination": {"max_size": 10}}]},
            "route[0].pagination.max_size: needs size_param",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "route": [{"path": "/i", "pagination": {"cursor_param": "offset"}}]},
            "route[0].pagination.cursor_param: must differ from param ('offset')",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "route": [{"path": "/i", "pagination": {"size_param": "Offset"}}]},
            "route[0].pagination.size_param: must differ from param and cursor_param",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "route": [{"path": "/i", "pagination": {"links": ["a..b"]}}]},
            "route[0].pagination.links[0]: invalid field path",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "route": [{"path": "/i", "pagination": {"nxt": ["a"]}}]},
            "route[0].pagination.nxt: unknown key",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "seal": [{"field": "id", "kind": "a user"}]},
            "seal[0].kind: expected a record kind",
        ),
        (
            {"tokens": {"secrets": [SECRET]}, "route": [{"path": "/u/{id}", "unseal": [{"kind": "user"}]}]},
            "route[0].unseal[0].param: required",
        ),
        (
            {
                "tokens": {"secrets": [SECRET]},
                "route": [{"path": "/u/{id}", "unseal": [{"param": "id", "kind": "u", "raw": "yes"}]}],
            },
            "route[0].unseal[0].raw: unknown value 'yes'",
        ),
    ],
)
def test_token_sections_name_the_key_and_the_problem(data: dict[str, object], expected: str) -> None:
    assert expected in error_of(data)


def test_token_secrets_from_environment_and_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIELD_TOKEN_SECRET", SECRET)
    policy = Policy.from_dict({"tokens": {"secrets": [{"env": "SHIELD_TOKEN_SECRET"}]}})
    assert policy.tokens.secrets == (SECRET,)
    assert SECRET not in repr(policy)


def test_demo_mode_has_a_public_token_secret_and_says_so() -> None:
    with pytest.warns(UserWarning, match="public token secret"):
        policy = Policy.from_dict({"demo": True, "route": [{"path": "/items", "pagination": {}}]})
    assert policy.tokens.secrets


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ({"order": ["api_key", "usr"]}, "identity.order[1]: unknown source 'usr' (did you mean 'user'?)"),
        ({"order": ["user", "user"]}, "identity.order: must name each source at most once"),
        ({"trusted_proxies": ["10.0.0.1/8"]}, "identity.trusted_proxies: "),
        ({"forwarded_header": "x-real-ip"}, "identity.forwarded_header: unknown value 'x-real-ip'"),
        ({"ipv6_prefixes": [0]}, "identity.ipv6_prefixes: IPv6 prefix 0 must be an integer in 1..128"),
        ({"ipv4_prefixes": []}, "identity.ipv4_prefixes: IPv4 prefixes: give at least one prefix length"),
        ({"api_key_header": "x api key"}, "identity.api_key_header: "),
        ({"session_cookie": "a;b"}, "identity.session_cookie: "),
    ],
)
def test_identity_errors_name_the_key(identity: dict[str, object], expected: str) -> None:
    assert expected in error_of({"identity": identity})


def test_identity_sources_compile() -> None:
    policy = Policy.from_dict({"identity": {"order": ["api_key", "network"], "ipv6_prefixes": [48, 64]}})
    sources = policy.identity.sources()
    assert sources.order == ("api_key", "network")
    assert sources.ipv6_prefixes == (64, 48)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"quota": [{"limit": 1, "routes": ["/a"]}]}, "quota[0].name: required"),
        ({"quota": [{"name": "a", "routes": ["/a"]}]}, "quota[0].limit: required"),
        ({"quota": [{"name": "a", "limit": 1}]}, "quota[0].routes: required"),
        ({"quota": [{"name": "a", "limit": 1, "routes": ["users"]}]}, "quota[0].routes[0]: expected a path template"),
        ({"quota": [{"name": "a", "limit": 1, "routes": ["/a"], "kind": "record"}]}, "(did you mean 'records'?)"),
        ({"quota": [{"name": "a", "limit": 1, "routes": ["/a"], "per": ["ip"]}]}, "quota[0].per[0]: unknown identity"),
        ({"quota": [{"name": "a", "limit": 1, "routes": ["/a"], "kind": "records", "burst": 2}]}, "quota[0].burst"),
        ({"quota": [{"name": "a", "limit": 1, "routes": ["/a"], "approximate": True}]}, "quota[0].approximate"),
        (
            {"quota": [{"name": "a", "limit": 1, "routes": ["/a"], "window": 0}]},
            "quota[0].window: must be a positive number of seconds",
        ),
        ({"quota": [{"name": "a", "limit": 1, "routes": ["/a"], "records": ["items"]}]}, "quota[0].records: only"),
        (
            {"quota": [{"name": "a", "limit": 1, "routes": ["/a"]}, {"name": "a", "limit": 2, "routes": ["/b"]}]},
            "quota[1].name: duplicate quota name 'a'",
        ),
        ({"quotas": {"store": "redis"}}, "secrets.hash_key: required by quotas.store = 'redis'"),
        ({"quotas": {"headers": "sometimes"}}, "quotas.headers: unknown value 'sometimes'"),
        ({"quotas": {"redis_cluster": "yes"}}, "quotas.redis_cluster: expected a boolean"),
        ({"quotas": {"redis_prefix": "app{1}"}}, "quotas.redis_prefix: must be a non-empty string without braces"),
        ({"quotas": {"redis_hash_tag": ""}}, "quotas.redis_hash_tag: must be a non-empty string without braces"),
        ({"quotas": {"penalty": {"strikes": 0}}}, "quotas.penalty.strikes: must be a positive integer"),
        ({"quotas": {"penalty": {"strike": 3}}}, "quotas.penalty.strike: unknown key (did you mean 'strikes'?)"),
    ],
)
def test_quota_sections_name_the_key_and_the_problem(data: dict[str, object], expected: str) -> None:
    assert expected in error_of(data)
