"""The response pipeline: small stages that all work on ONE parsed document.

The middleware parses a body once, hands the document to each stage in order and
serialises once. Masking is the first stage; later ones (sealed ids, pagination links,
record counting for quotas) plug in by implementing :class:`ResponseStage`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import Scope

from shield.identity import ANONYMOUS, Viewer, ViewerResolver
from shield.masking.document import DocumentMasker
from shield.masking.text import mask_text

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from shield.monitor import Refusal
    from shield.pagination import PageRequest
    from shield.quota_gate import Verdict
    from shield.records import RecordTally

__all__ = ["Exchange", "MaskingStage", "ResponsePipeline", "ResponseStage"]

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Exchange:
    """One request/response as the stages see it; the viewer is resolved on first use.

    ``identity`` is who tokens are bound to (see :mod:`shield.requester`); ``page`` is set on
    paginated routes by the request side. With record quotas, ``tally`` counts the raw
    document and ``settle`` charges it before the body leaves. ``headers`` are added to the
    response (``RateLimit``).
    """

    scope: Scope
    resolver: ViewerResolver
    identity: str = ""
    client_path: str = ""  # the path as the client sent it, below root_path (before IDs were opened)
    page: PageRequest | None = None
    tally: RecordTally | None = None
    masked: Counter[str] | None = None  # values masked, by kind: counted when metrics are on
    refusal: Refusal | None = None  # set when the response was refused after the app ran
    settle: Callable[[], Awaitable[Verdict]] | None = None
    headers: Headers = field(default_factory=list)
    status: int = 200
    _viewer: Viewer | None = field(default=None, repr=False)

    @property
    def viewer(self) -> Viewer:
        if self._viewer is None:
            self._viewer = self.resolver(self.scope) or ANONYMOUS
        return self._viewer


class ResponseStage(Protocol):
    """One step of response processing; it mutates or replaces the document."""

    @property
    def viewer_dependent(self) -> bool:
        """True when the output depends on who asks (it must not be shared-cached)."""
        ...

    def document(self, document: Any, exchange: Exchange) -> tuple[Any, int]:
        """Process a parsed JSON document; return it and how many values changed."""
        ...

    def text(self, text: str, exchange: Exchange) -> str:
        """Process free text (a text body, an SSE line); the same object when unchanged."""
        ...

    def headers(self, headers: Headers, exchange: Exchange) -> Headers:
        """Rewrite response headers (``Link``) before anything is sent; the same list when unchanged."""
        ...


class MaskingStage:
    """Personal-data masking, with unmasking for owners and privileged roles."""

    __slots__ = ("_masker", "_owner_aware", "_unmask_roles")

    def __init__(self, masker: DocumentMasker, *, owner_aware: bool, unmask_roles: frozenset[str]) -> None:
        self._masker = masker
        self._owner_aware = owner_aware
        self._unmask_roles = unmask_roles

    @property
    def viewer_dependent(self) -> bool:
        return self._owner_aware or bool(self._unmask_roles)

    def document(self, document: Any, exchange: Exchange) -> tuple[Any, int]:
        if not self.viewer_dependent:
            return self._masker.mask(document, tally=exchange.masked)
        viewer = exchange.viewer
        reveal = not self._unmask_roles.isdisjoint(viewer.roles)
        viewer_id = viewer.id if self._owner_aware else None
        return self._masker.mask(document, viewer_id=viewer_id, reveal=reveal, tally=exchange.masked)

    def text(self, text: str, exchange: Exchange) -> str:
        if self._unmask_roles and not self._unmask_roles.isdisjoint(exchange.viewer.roles):
            return text
        return mask_text(text, exchange.masked)

    def headers(self, headers: Headers, exchange: Exchange) -> Headers:
        return headers


class ResponsePipeline:
    """The ordered stages of one route."""

    __slots__ = ("stages", "viewer_dependent")

    def __init__(self, stages: Sequence[ResponseStage]) -> None:
        self.stages = tuple(stages)
        self.viewer_dependent = any(stage.viewer_dependent for stage in self.stages)

    def document(self, document: Any, exchange: Exchange) -> tuple[Any, int]:
        changes = 0
        for stage in self.stages:
            document, changed = stage.document(document, exchange)
            changes += changed
        return document, changes

    def text(self, text: str, exchange: Exchange) -> str:
        for stage in self.stages:
            text = stage.text(text, exchange)
        return text

    def headers(self, headers: Headers, exchange: Exchange) -> Headers:
        for stage in self.stages:
            headers = stage.headers(headers, exchange)
        return headers
