"""The ``shield`` command through its real entry point."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

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
