"""``Location`` headers that name a route with sealed IDs, whatever route answered.

A ``201 Created`` on ``POST /users`` names ``/users/100031``: the raw, sequential ID that the
sealed route ``/users/{id}`` hides everywhere else, and the count of users with it. Every
response's ``Location`` and ``Content-Location`` that name such a route get its IDs sealed for
the caller. A route's own redirects are left to its own stages (``ResealStage``, pagination),
which also turn native offsets into cursors there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shield.sealing import LOCATION_HEADERS, LinkResealer

__all__ = ["LocationSealer"]

Headers = list[tuple[bytes, bytes]]


class LocationSealer:
    """The routes with sealed parameters, as seen from one route (``own``, or None)."""

    __slots__ = ("_own", "_resealers")

    def __init__(self, resealers: Sequence[LinkResealer], own: LinkResealer | None) -> None:
        self._resealers = tuple(resealers)
        self._own = own

    def headers(self, headers: Headers, identity: Callable[[], str], request_path: str, root_path: str) -> Headers:
        """``headers`` with the IDs in their locations sealed; the same list when none named a sealed route.

        ``identity`` is called only when a location needs sealing (it may resolve the caller).
        """
        if not any(name.lower() in LOCATION_HEADERS for name, _ in headers):
            return headers
        caller: list[str] = []  # resolved once, on first need

        def seal(text: str) -> str:
            if self._own is not None and self._own.names(text, request_path, root_path):
                return text  # the route's own link: its stages seal it (and only once)
            for resealer in self._resealers:
                if resealer is self._own:
                    continue
                if not caller:
                    caller.append(identity())
                sealed = resealer.url(text, caller[0], request_path, root_path)
                if sealed != text:
                    return sealed
            return text

        def sealed(name: bytes, value: bytes) -> bytes:
            if name.lower() not in LOCATION_HEADERS:
                return value
            text = value.decode("latin-1")
            new = seal(text)
            return value if new == text else new.encode("latin-1")

        out = [(name, sealed(name, value)) for name, value in headers]
        return out if any(new is not old for (_, new), (_, old) in zip(out, headers, strict=True)) else headers
