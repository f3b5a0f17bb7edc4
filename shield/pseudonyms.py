"""Keyed pseudonyms of identity keys: what stores, logs and metrics hold instead of the keys.

An API key, a session cookie or an IP address is a credential or personal data; a plain hash
of an address can be reversed by trying them all. A BLAKE2b MAC under the policy's
``secrets.hash_key`` (or a key made for this process when there is none) cannot.
"""

from __future__ import annotations

import hashlib
import os

from shield.requester import IdentityKey

__all__ = ["IdentityHasher"]

_DIGEST_BYTES = 12
_CACHE_SIZE = 8192
# Without a configured key: one per process, so every middleware (and store) of this worker agrees.
_PROCESS_KEY = os.urandom(32)


class IdentityHasher:
    """``source|hex digest`` of an identity key, cached (one caller's keys recur on every request)."""

    __slots__ = ("_cache", "_key")

    def __init__(self, key: bytes | None = None) -> None:
        self._key = (key or _PROCESS_KEY)[:64]
        self._cache: dict[IdentityKey, str] = {}

    def __call__(self, key: IdentityKey) -> str:
        found = self._cache.get(key)
        if found is None:
            raw = key.value.encode("utf-8", "surrogatepass")
            mac = hashlib.blake2b(raw, digest_size=_DIGEST_BYTES, key=self._key, person=b"shield identity")
            found = f"{key.source}|{mac.hexdigest()}"
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = found
        return found
