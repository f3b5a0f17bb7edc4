"""``mask_json``: masking a document outside the middleware (batch jobs, exports, tests)."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from shield.compiled import masking_stage
from shield.identity import Viewer
from shield.pipeline import Exchange, ResponsePipeline
from shield.policy import Policy

__all__ = ["mask_json"]


def mask_json(document: Any, policy: Policy | None = None, *, viewer: Viewer | None = None) -> Any:
    """Return a masked copy of ``document`` under ``policy``'s global rules.

    Without a policy only free-text detection applies. The input is never modified.

    >>> mask_json({"note": "call 13800138000"})
    {'note': 'call 138****8000'}
    """
    exchange = Exchange(scope={"type": "http"}, resolver=lambda _: viewer)
    masked, _ = _pipeline_for(policy or Policy()).document(copy.deepcopy(document), exchange)
    return masked


@lru_cache(maxsize=32)
def _pipeline_for(policy: Policy) -> ResponsePipeline:
    return ResponsePipeline([masking_stage(policy, ())])
