"""Short Chinese replies a bot posts back to the group. Never a requester's or helper's phone
number or address; the community's own public hotlines (社区值班…) where a number is advised."""

from __future__ import annotations

from collections.abc import Sequence

from dispatcher.groupchat.texts import hotline_text
from schemas.catalogue import entry
from schemas.config import Hotline
from schemas.requests import RequestSpec
from schemas.vocab import EmergencyNumber, Urgency

_CALL_ADVICE = {
    EmergencyNumber.AMBULANCE: "请立即拨打120急救电话！",
    EmergencyNumber.FIRE: "请立即拨打119，并远离危险区域！",
    EmergencyNumber.POLICE: "请立即拨打110报警！",
}


def emergency_for(spec: RequestSpec) -> EmergencyNumber | None:
    """Life-threatening: the requester must call this number now, neighbours or not."""
    return spec.emergency()


# The contact card's submitter (`households.CARD_BOT`; that module imports this one): its
# page leads with its own call line for a kind where health is at risk (`call_when_zh`).
_CARD_BOT = "card"


def if_urgent(spec: RequestSpec) -> str:
    """For an urgent request about health (medical, to hospital, a fall) that is not
    life-threatening: the requester is told when to call, not ordered to (the critical
    line's "请立即拨打120急救电话！" is for life at risk now). A pregnant woman alone with
    pain asking for a lift (seed 1) waits for a neighbour who may not come; a request held
    for quiet hours was told it, one sent at once was not."""
    card = spec.source is not None and spec.source.bot_id == _CARD_BOT
    if spec.emergency() is not None or card:
        return ""
    kind = entry(spec.category)
    if not kind.life_at_risk or spec.urgency not in (Urgency.URGENT, Urgency.CRITICAL):
        return ""
    number = kind.emergency or EmergencyNumber.AMBULANCE
    return f"如情况紧急，请立即拨打{number.value}。"


def _call_first(spec: RequestSpec, advice: str | None) -> str:
    """The classifier's own advice (it knows a fire from a faint, and its number is the
    spec's `emergency_number`) wins over the plain call for `emergency_for`, the number the
    answer's `emergency_number` field names."""
    if advice:
        return advice if advice.endswith(("。", "！")) else advice + "。"
    number = emergency_for(spec)
    return _CALL_ADVICE[number] if number is not None else ""


def neighbours_needed(spec: RequestSpec) -> str:
    """How many neighbours the core will look for - its slots (`effective_needs`, the
    number its RequestOpened event carries), not the count the message asked for: a
    driver asked for beside a nurse is two slots, one of them guiding by phone."""
    needs = spec.effective_needs()
    total = sum(n.count for n in needs)
    by_phone = sum(n.count for n in needs if n.remote)
    if total == 1:
        return "附近能电话指导的邻居" if by_phone else "附近邻居"
    if by_phone == total:
        return f"{total}位能电话指导的邻居"
    if by_phone:
        return f"附近{total}位邻居（其中{by_phone}位电话指导）"
    return f"附近{total}位邻居"


def reply_text(
    spec: RequestSpec,
    advice: str | None = None,
    hotlines: Sequence[Hotline] = (),
    held_until: str | None = None,
) -> str:
    """`held_until`: the local time a request held for quiet hours goes out (never one
    that advises an emergency number: those are never held)."""
    if held_until is not None:
        return (
            f"已收到求助。现在是社区安静时段，将于{held_until}通知{neighbours_needed(spec)}。"
            "如情况紧急，请拨打120/110/119。" + hotline_text(hotlines)
        )
    # "正在通知": nobody has accepted yet (the group hears "已接单" when one does), so
    # nothing here or in the classifier's advice says that neighbours are coming.
    base = f"已收到求助，正在通知{neighbours_needed(spec)}" + (
        "，请保持电话畅通。" if has_phone(spec) else "。"
    )
    first = _call_first(spec, advice)
    if first:
        return f"{first}{hotline_text(hotlines)}同时{base}"
    urgent = if_urgent(spec)
    return f"{base}{urgent}{hotline_text(hotlines)}" if urgent else base


def merged_reply_text(
    spec: RequestSpec,
    advice: str | None = None,
    hotlines: Sequence[Hotline] = (),
    held_until: str | None = None,
    helpers_assigned: int = 0,
    staff_claimed: bool = False,
    staff_called: bool = False,
) -> str:
    """A second report of the same incident: one request, the reporter is told so, and
    told the truth about it. `held_until`: the earlier request is held for quiet hours
    until then (local HH:MM): nobody is asked before, so nobody is said to be on it (a
    merge key keeps a request that advises an emergency number, never held, apart from one
    that is not). `helpers_assigned`: neighbours who accepted it; none (the default: never
    claimed without knowing) and the reporter hears that nobody has yet, with the numbers
    to call, not that neighbours are on it: in a thin circle a second report comes
    precisely because nobody came. `staff_claimed`: a staff member took it on.
    `staff_called`: the whistle is recorded as blown (staff on duty and the whistle list
    called) and not as reaching nobody; this report's own climb to it (`ReportRepeated`)
    is still on its way, so it does not count here."""
    if held_until is not None:
        return (
            f"已收到，同一求助已登记。现在是社区安静时段，将于{held_until}通知附近邻居。"
            "如情况紧急，请拨打120/110/119。" + hotline_text(hotlines)
        )
    first = _call_first(spec, advice)
    if helpers_assigned > 0:
        base = "已收到，邻居们已在处理同一求助" + (
            "，请保持电话畅通。" if has_phone(spec) else "。"
        )
        if first:
            return f"{first}{hotline_text(hotlines)}{base}"
        urgent = if_urgent(spec)
        return f"{base}{urgent}{hotline_text(hotlines)}" if urgent else base
    staff = ""
    if staff_claimed:
        staff = "，社区工作人员已在跟进"
    elif staff_called:
        staff = "，已通知社区工作人员"
    base = f"已收到，同一求助已登记，暂时还没有邻居接单{staff}。"
    if first:  # the call-now line stays first
        return f"{first}{hotline_text(hotlines)}{base}{_keep_phone(spec)}"
    return f"{base}如情况紧急，请拨打120/110/119。{hotline_text(hotlines)}{_keep_phone(spec)}"


def has_phone(spec: RequestSpec) -> bool:
    """The requester left a phone (plain before sealing, its keyed digest after): a group
    bot's sender has none unless the household ledger gives one."""
    return bool(spec.contact.phone or spec.requester_phone_key)


def _keep_phone(spec: RequestSpec) -> str:
    """ "请保持电话畅通" only to a requester someone can call."""
    return "请保持电话畅通。" if has_phone(spec) else ""
