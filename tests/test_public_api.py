"""The curated public API: a change here is a conscious decision, not drift."""

from __future__ import annotations

import shield

EXPECTED = {
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
}


def test_exports_do_not_drift() -> None:
    assert set(shield.__all__) == EXPECTED
    public = {name for name in vars(shield) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(shield, name)).__name__ == "module"}
    assert public - modules - {"annotations"} == EXPECTED


def test_mask_json_leaves_its_input_alone() -> None:
    document = {"note": "call me on 13800138000", "nested": [{"tel": 13912345678}]}
    masked = shield.mask_json(document)
    assert document == {"note": "call me on 13800138000", "nested": [{"tel": 13912345678}]}
    assert "13800138000" not in str(masked)
    assert "13912345678" not in str(masked)
    assert masked["note"].startswith("call me on 138")


def test_mask_json_applies_policy_rules() -> None:
    policy = shield.Policy.from_dict(
        {"mask": [{"field": "secret", "kind": "drop"}, {"field": "nick", "kind": "redact"}]}
    )
    masked = shield.mask_json({"secret": "x", "nick": "tommy", "keep": "plain words"}, policy)
    assert "secret" not in masked
    assert masked["nick"] != "tommy"
    assert masked["keep"] == "plain words"
