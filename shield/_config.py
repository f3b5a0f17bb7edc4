"""A strict reader for nested configuration tables.

Every value is read through a :class:`Table` that knows its own key path, so every error
names the exact key (``route[1].mask[0].kind``) and unknown keys are refused with a
"did you mean" suggestion instead of being silently ignored.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from shield.errors import PolicyError

T = TypeVar("T")

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_TYPE_NAMES = {bool: "a boolean", int: "an integer", str: "a string", float: "a number"}


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


class Table:
    """A read-once view of one mapping of the configuration."""

    def __init__(self, data: object, path: str = "") -> None:
        if not isinstance(data, Mapping):
            raise PolicyError(path, f"expected a table, got {describe(data)}")
        for key in data:
            if not isinstance(key, str):
                raise PolicyError(path, f"keys must be strings, got {describe(key)}")
        self._data: Mapping[str, Any] = data
        self._path = path
        self._read: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def has(self, key: str) -> bool:
        return key in self._data

    def value(self, key: str, kind: type[T], default: T) -> T:
        """Read ``key`` as ``kind`` (no silent coercion: ``"yes"`` is not a boolean)."""
        self._read.add(key)
        if key not in self._data:
            return default
        value = self._data[key]
        # bool is an int subclass: refuse it where a number is expected.
        wrong_bool = isinstance(value, bool) and kind is not bool
        if not isinstance(value, kind) or wrong_bool:
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                return float(value)  # type: ignore[return-value]  # int literal where a number is asked
            raise PolicyError(
                self.key_path(key), f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {describe(value)}"
            )
        return value

    def positive_int(self, key: str, default: int) -> int:
        value = self.value(key, int, default)
        if value <= 0:
            raise PolicyError(self.key_path(key), f"must be a positive integer, got {value}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.value(key, str, default)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            raise PolicyError(
                self.key_path(key),
                f"unknown value {value!r}{suggest(value, choices)}; expected one of {options}",
            )
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        self._read.add(key)
        values = self._data.get(key, [])
        if not isinstance(values, list | tuple):
            raise PolicyError(self.key_path(key), f"expected a list of strings, got {describe(values)}")
        for index, item in enumerate(values):
            if not isinstance(item, str) or not item:
                raise PolicyError(
                    f"{self.key_path(key)}[{index}]", f"expected a non-empty string, got {describe(item)}"
                )
        return tuple(values)

    def list_of(self, key: str) -> list[Any]:
        """Read a list whose items the caller validates (``[]`` when absent)."""
        self._read.add(key)
        values = self._data.get(key, [])
        if not isinstance(values, list | tuple):
            raise PolicyError(self.key_path(key), f"expected a list, got {describe(values)}")
        return list(values)

    def choices(self, key: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
        """A list of names from ``allowed`` (all of them when absent); each named once at most."""
        if not self.has(key):
            self.strings(key)
            return allowed
        names = self.strings(key)
        for index, name in enumerate(names):
            if name not in allowed:
                raise PolicyError(
                    f"{self.key_path(key)}[{index}]",
                    f"unknown {what} {name!r}{suggest(name, allowed)}; expected one of {', '.join(allowed)}",
                )
        if not names or len(set(names)) != len(names):
            raise PolicyError(self.key_path(key), f"must name each {what} at most once, and at least one")
        return names

    def seconds(self, key: str, default: float) -> float:
        """A positive number of seconds (an int is accepted)."""
        value = self.value(key, float, default)
        if not value > 0:  # also refuses NaN
            raise PolicyError(self.key_path(key), f"must be a positive number of seconds, got {value}")
        return value

    def field_path(self, key: str, value: str) -> str:
        """Check a JSON field path (``id``, ``items[*].buyer.id``, ``$.next``) read from ``key``."""
        from shield.masking.paths import parse_field_path  # noqa: PLC0415  # keep this module standalone

        try:
            parse_field_path(value)
        except ValueError as exc:
            raise PolicyError(self.key_path(key), str(exc)) from exc
        return value

    def field_paths(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A list of field paths; ``default`` when the key is absent."""
        if not self.has(key):
            self.strings(key)
            return default
        return tuple(self.field_path(f"{key}[{i}]", path) for i, path in enumerate(self.strings(key)))

    def path_template(self, key: str, value: str) -> str:
        """Check a Starlette path template (``/users/{id:int}``) read from ``key``."""
        from starlette.routing import compile_path  # noqa: PLC0415  # keep policy import light

        if not value.startswith("/"):
            raise PolicyError(self.key_path(key), f"expected a path template starting with '/', got {value!r}")
        try:
            compile_path(value)
        except (ValueError, AssertionError, KeyError) as exc:
            raise PolicyError(self.key_path(key), f"invalid path template: {exc}") from exc
        return value

    def methods(self, key: str = "methods") -> frozenset[str] | None:
        """HTTP methods, upper-cased; None (any method) when absent or empty.

        GET brings HEAD along: frameworks answer HEAD on every GET route, so a HEAD request must
        not slip past rules written for GET.
        """
        methods = self.strings(key)
        for index, method in enumerate(methods):
            if method.upper() not in HTTP_METHODS:
                raise PolicyError(f"{self.key_path(key)}[{index}]", f"unknown HTTP method {method!r}")
        upper = {m.upper() for m in methods}
        if "GET" in upper:
            upper.add("HEAD")
        return frozenset(upper) or None

    def table(self, key: str) -> Table:
        self._read.add(key)
        return Table(self._data.get(key, {}), self.key_path(key))

    def tables(self, key: str) -> list[Table]:
        """Read an array of tables (``[[route]]`` in TOML)."""
        self._read.add(key)
        items = self._data.get(key, [])
        if not isinstance(items, list | tuple):
            raise PolicyError(self.key_path(key), f"expected a list of tables, got {describe(items)}")
        return [Table(item, f"{self.key_path(key)}[{index}]") for index, item in enumerate(items)]

    def secret(self, key: str) -> str | None:
        """Read a secret given literally or as ``{ env = "NAME" }`` (the recommended way)."""
        self._read.add(key)
        if key not in self._data:
            return None
        raw = self._data[key]
        if isinstance(raw, str):
            value = raw
        else:
            ref = Table(raw, self.key_path(key))
            name = ref.value("env", str, "")
            ref.finish()
            if not name:
                raise PolicyError(self.key_path(key), 'expected a string or { env = "VARIABLE" }')
            env_value = os.environ.get(name)
            if env_value is None:
                raise PolicyError(self.key_path(key), f"environment variable {name} is not set")
            value = env_value
        if len(value) < 16:
            raise PolicyError(
                self.key_path(key), "too short: use at least 16 characters (`shield keys generate` makes one)"
            )
        return value

    def finish(self) -> None:
        """Refuse keys nobody read: a typo must not silently disable protection."""
        for key in self._data:
            if key not in self._read:
                raise PolicyError(self.key_path(key), f"unknown key{suggest(key, self._read)}")
