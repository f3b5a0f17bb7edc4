"""The ``shield`` command through its real entry point."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from shield import Policy
from shield.compiled import CompiledPolicy
from shield.tokens import CursorSealer, RecordSealer

SHIELD = Path(sysconfig.get_path("scripts")) / "shield"
DEMO_POLICY = Path(__file__).parents[1] / "shield" / "demo" / "policy.toml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SHIELD), *args], capture_output=True, text=True, timeout=60, check=False)


def test_entry_point_is_installed() -> None:
    assert SHIELD.exists(), f"{SHIELD} missing; install the project with pip install -e ."
    assert sys.executable


def test_keys_generate_prints_a_fresh_secret() -> None:
    first, second = run("keys", "generate"), run("keys", "generate")
    assert first.returncode == 0
    assert len(first.stdout.strip()) >= 40
    assert first.stdout != second.stdout


def test_policy_check_accepts_the_demo_policy() -> None:
    result = run("policy", "check", str(DEMO_POLICY))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "mask 'phone' as phone" in result.stdout
    assert "/users (any method): masked; seal 'items[*].id' as user IDs; paginated by offset" in result.stdout
    assert "open 'user_id' as a sealed user ID (raw IDs refused)" in result.stdout
    assert result.stderr == "shield: warning: demo mode: using a built-in, public token secret\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[mask]]\nfield = "x"\nkind = "phne"\n', "mask[0].kind: unknown masker 'phne' (did you mean 'phone'?)"),
        ("[masking\n", "invalid TOML"),
        ("colour = 1\n", "colour: unknown key"),
    ],
)
def test_policy_check_rejects_bad_files_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(content, encoding="utf-8")
    result = run("policy", "check", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_policy_file(tmp_path: Path) -> None:
    result = run("policy", "check", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert "cannot read policy file" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


TOKEN_POLICY = """
[tokens]
secrets = ["a token secret for the cli test, at least 32 bytes"]

[[route]]
path = "/users/{user_id}"
unseal = [{ param = "user_id", kind = "user" }]
"""


@pytest.fixture
def token_policy(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(TOKEN_POLICY)
    return path


def sealers(path: Path) -> tuple[CursorSealer, RecordSealer]:
    codec = CompiledPolicy(Policy.from_toml(path)).token_codec
    assert codec is not None
    return CursorSealer(codec, exclude=("cursor", "offset")), RecordSealer(codec)


def test_token_inspect_shows_a_valid_cursor(token_policy: Path) -> None:
    cursor = sealers(token_policy)[0].issue("user:alice", "/users", {"limit": "50"}, 1850)
    result = run("token", "inspect", cursor, "--policy", str(token_policy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid cursor token (key ")
    assert "  position: 1850" in result.stdout
    assert "  depth: 1" in result.stdout
    assert "alice" not in result.stdout  # the binding is a keyed digest


def test_token_inspect_knows_record_kinds_from_the_policy(token_policy: Path) -> None:
    sealed = sealers(token_policy)[1].seal("user:alice", "user", 100042)
    result = run("token", "inspect", sealed, "--policy", str(token_policy))
    assert result.returncode == 0, result.stderr
    assert "valid record-id:user token" in result.stdout
    assert "  record id: 100042" in result.stdout


@pytest.mark.parametrize(
    ("mangle", "reason"), [(lambda t: t[:-2] + "AA", "bad_tag"), (lambda t: "!" + t, "bad_encoding")]
)
def test_token_inspect_says_why_a_token_is_refused(token_policy: Path, mangle: Any, reason: str) -> None:
    cursor = sealers(token_policy)[0].issue("user:alice", "/users", {}, 0)
    result = run("token", "inspect", mangle(cursor), "--policy", str(token_policy))
    assert result.returncode == 1
    assert result.stdout.startswith(f"invalid: {reason}")
    assert "Traceback" not in result.stderr


def test_token_inspect_needs_token_secrets(tmp_path: Path) -> None:
    path = tmp_path / "plain.toml"
    path.write_text("[masking]\nfree_text = true\n")
    result = run("token", "inspect", "AQHC5yvm", "--policy", str(path))
    assert result.returncode == 2
    assert result.stderr == f"shield: {path} has no [tokens] secrets\n"
