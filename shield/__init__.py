"""shield: harden ASGI web APIs against bulk scraping.

>>> from shield import Policy, ShieldMiddleware  # doctest: +SKIP
>>> app = ShieldMiddleware(app, Policy.from_toml("shield.toml"))  # doctest: +SKIP
"""

from __future__ import annotations

from shield.errors import PolicyError, ShieldError, UnmaskableResponse
from shield.identity import Viewer
from shield.masking.api import mask_json
from shield.masking.text import mask_text
from shield.middleware import ShieldMiddleware
from shield.pipeline import Exchange, ResponseStage
from shield.policy import MaskingSettings, MaskRule, Policy, RoutePolicy

__all__ = [
    "Exchange",
    "MaskRule",
    "MaskingSettings",
    "Policy",
    "PolicyError",
    "ResponseStage",
    "RoutePolicy",
    "ShieldError",
    "ShieldMiddleware",
    "UnmaskableResponse",
    "Viewer",
    "mask_json",
    "mask_text",
]

__version__ = "0.1.0"
