"""Short Chinese replies a bot posts back to the group. Never a phone number or address."""

from __future__ import annotations

from dispatcher.core.ladder import emergency_number_for
from schemas.requests import RequestSpec
from schemas.vocab import EmergencyNumber

_CALL_ADVICE = {
    EmergencyNumber.AMBULANCE: "请立即拨打120急救电话！",
    EmergencyNumber.FIRE: "请立即拨打119，并远离危险区域！",
    EmergencyNumber.POLICE: "请立即拨打110报警！",
}


def emergency_for(spec: RequestSpec) -> EmergencyNumber | None:
    """Life-threatening: the requester must call the emergency number now, neighbours or not."""
    return emergency_number_for(spec.category) if spec.is_life_threatening() else None


def reply_text(spec: RequestSpec) -> str:
    number = emergency_for(spec)
    who = f"{spec.helpers_needed}位" if spec.helpers_needed > 1 else ""
    base = f"已收到求助，正在通知附近{who}邻居，请保持电话畅通。"
    if number is not None:
        return f"{_CALL_ADVICE[number]}同时{base}"
    return base
