"""Short Chinese replies a bot posts back to the group. Never a phone number or address."""

from __future__ import annotations

from schemas.catalogue import entry
from schemas.requests import RequestSpec
from schemas.vocab import EmergencyNumber

_CALL_ADVICE = {
    EmergencyNumber.AMBULANCE: "请立即拨打120急救电话！",
    EmergencyNumber.FIRE: "请立即拨打119，并远离危险区域！",
    EmergencyNumber.POLICE: "请立即拨打110报警！",
}


def emergency_for(spec: RequestSpec) -> EmergencyNumber | None:
    """Life-threatening: the requester must call the emergency number now, neighbours or not."""
    return entry(spec.category).emergency if spec.is_life_threatening() else None


def _call_first(spec: RequestSpec, advice: str | None) -> str:
    """The classifier's own advice (it knows a fire from a faint) wins over the category's."""
    if advice:
        return advice if advice.endswith(("。", "！")) else advice + "。"
    number = emergency_for(spec)
    return _CALL_ADVICE[number] if number is not None else ""


def reply_text(spec: RequestSpec, advice: str | None = None) -> str:
    who = f"{spec.helpers_needed}位" if spec.helpers_needed > 1 else ""
    base = f"已收到求助，正在通知附近{who}邻居，请保持电话畅通。"
    first = _call_first(spec, advice)
    return f"{first}同时{base}" if first else base


def merged_reply_text(spec: RequestSpec, advice: str | None = None) -> str:
    """A second report of the same incident: one request, the reporter is told so."""
    base = "已收到，邻居们已在处理同一求助，请保持电话畅通。"
    first = _call_first(spec, advice)
    return f"{first}{base}" if first else base
