"""Group messages for a request's life. Pure. Never a phone number, address or name
(a helper's display name only if they opted in: `name_in_group` on their profile)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from dispatcher.classify import Classification
from dispatcher.push.channels.wecom import plain_markdown
from dispatcher.push.recipients import ROLE_ZH
from dispatcher.redact import mask_phones
from schemas.config import Hotline
from schemas.events import (
    Event,
    HelperAssigned,
    HelperSetOff,
    HelperWithdrawn,
    ReferredToEmergency,
    RequestCancelled,
    RequestExpired,
    RequestPaused,
    RequestReferred,
    RequestResolved,
    RingEscalated,
    WhistleBlown,
)
from schemas.holds import RequestHeld, RequestReleased
from schemas.staff_actions import RequestClaimed, WhistleReportedBack
from schemas.vocab import Party, ReferralTarget, Ring, Urgency

_REFERRAL = {
    ReferralTarget.AMBULANCE: "请立即拨打120急救电话！",
    ReferralTarget.POLICE: "请立即拨打110报警！",
    ReferralTarget.FIRE: "请立即拨打119！",
    ReferralTarget.PROPERTY: "已转交物业处理。",
    ReferralTarget.DEPARTMENT: "已转交相关部门处理。",
}
_NUMBERS = (ReferralTarget.AMBULANCE, ReferralTarget.POLICE, ReferralTarget.FIRE)
# Where a referred request went, as the group hears it after the referral.
_HANDED_TO = {
    ReferralTarget.AMBULANCE: "求助已转交120急救，请等候专业救援、保持电话畅通。",
    ReferralTarget.POLICE: "求助已转交110，请等候民警到场、保持电话畅通。",
    ReferralTarget.FIRE: "求助已转交119消防，请等候专业救援、保持电话畅通。",
    ReferralTarget.PROPERTY: "求助已转交物业处理。",
    ReferralTarget.DEPARTMENT: "求助已转交相关部门处理。",
}
# Requests that end: the thread closes, later messages from the sender are new requests.
CLOSING = (RequestResolved, RequestCancelled, RequestExpired, RequestReferred)

# A requester's short reply that ends their request: taken back ("不用了") or solved
# ("已经解决了，谢谢邻居"). Solved is a resolve, never a cancel: a cancellation stands the
# helpers on their way down ("求助人已取消") and refuses their 已完成, so the help a neighbour
# just gave, and its hours, were lost. Both in one reply ("不用了，已经解决"): solved.
# Taken back as people say it: "不用了" / "不用啦", "不需要帮忙了", "好了，不用来了",
# "不用麻烦了"; never the question "需不需要帮忙" / "用不用帮忙". An emergency beside the
# words is still dispatched (`cancels`).
_CANCEL = re.compile(
    r"(?<!需)(?<!用)(?:不用|不需要)(?:(?:帮忙|帮助|麻烦|来|过来|上来|上门)?(?:了|啦|喽|咯)"
    r"|帮忙|帮助|麻烦)"
)
# "取消求助" / "撤销求助" said, not negated in its clause ("不要取消求助", "先别撤销求助") nor
# asked ("取消求助吗？"): both were read as the words and ended the request.
_TAKE_BACK = re.compile(r"(?:取消|撤销)求助")
# A take-back word negated in its clause ("别全部取消，摔倒的还需要", "王奶奶摔倒那条还要，不用
# 全部取消", "不要撤销求助"): the sender keeps their request (`keeps`); with 还需要, 那条… beside
# it the classifier reads the fall named there as the request kept, not a new one.
_TAKE_BACK_WORD = re.compile(r"取消|撤销|撤回")
_NEGATED_IN_CLAUSE = re.compile(r"[不别勿莫没][^，,。.！!？?；;]*$")
# A keep is a negator bound to the take-back word ("别取消", "不用全部取消", "先别撤销"): any
# 不/没 earlier in the clause counted, so "不用了取消吧" / "我妈没事了取消吧" (a closed 不…了 or
# 没事了, then the cancel) read as keeping one, and the sender's only open request, critical,
# was spared (`keeps_some`).
_KEEP_BOUND = re.compile(r"(?:别|不要|不用|不必|勿|莫)(?:再|先|都|全部|全都|急着)?$")
# A new occurrence beside keep words ("那条别取消，楼下李爷爷也摔倒了", "现在又漏水了",
# "另外…", "还有…"): news, not the request kept; dispatched (`new_occurrence`). "摔倒的也还
# 需要" speaks of the kept one.
_NEW_OCCURRENCE = re.compile(r"也(?!还)|又|另外|另一|还有|再次")
# A clause that points at a request ("摔倒的还需要", "王奶奶摔倒那条还要", "摔倒的别取消"):
# the situation in it is the request's, not news (`names_kept`).
_REFERS = re.compile(
    r"的(?:还|仍|仍然|也还)(?:需要|要|得|在等|没)|[那这]条|[那这]个求助|的先?(?:别|不要|不用|勿)"
)
_CLAUSE = re.compile(r"[^，,。.！!？?；;\s]+")
# "全部取消": every open request of the sender's in the group ends, the critical ones too (a
# plain "不用了" ends those only when they are the sender's one open request: `spared`).
# Only as the whole reply, give or take politeness ("好的，全部取消吧，谢谢"): the note that
# asks for it invites "不要全部取消", "先不用全部取消", "摔倒的别全部取消" and "全部取消吗？",
# and one of those taken for it stood down the fall the sender meant to keep.
_ALL = re.compile(
    r"(?:好的?|嗯|行|对|是的?|那就?|就|请|麻烦|帮我)*(?:全部都?|全都)取消掉?(?:吧|了|啦|哈|呀)*"
    r"(?:谢谢(?:大家|邻居|你|您)?|多谢|辛苦了?|吧|了|啦)*"
)
_PUNCT = re.compile(r"[\s，,。.！!、~～…]+")
# Solved: a verb of getting it done ("修好", "搞定", "处理好"…) said as done, with 已/已经
# before it or 了/啦 after it ("请帮忙解决" is no answer), or "已经好了" / "没事了". Never as
# a question ("修好了吗？", "搞定了没", "是不是好了") nor negated or not yet ("还没修好", "没搞定",
# "快修好了", "解决不了"; "早就修好了" is left open too): `_says_solved` rejects those by the
# words just before and after, and the request stays open for the neighbour or staff.
_DONE = "解决|修好|修复|搞定|搞好|弄好|整好|处理好|处理完|办好|办妥"
_SOLVED = re.compile(
    rf"(?:已经?|都)(?:{_DONE})|(?:{_DONE})(?:了|啦|喽|咯)|已经好了|已经没事|没事了|没事啦"
)
_NOT_YET_BEFORE = re.compile(
    r"(?:没|没有|未|不|别|快|快要|就|要|将|能|会|等|等到|如果|要是|可能|应该|是否|是不是|有没有)$"
)
_NOT_YET_AFTER = re.compile(r"^(?:了|啦|喽|咯)?(?:吗|么|嘛|吧|呢|没|不|\?|？)")
# Nor someone else's word or a guess: a reporting or hedging word anywhere before the
# match ("物业说修好了", "以为搞定了", "听说已经解决了", "本来弄好了", "好像没事了"); nor
# taken back anywhere after it by a contrast or relapse ("修好了，可还在漏水", "弄好了但是
# 还是不行", "修好了又坏了"). Both leave the request open, at the price of some true
# "solved" read as nothing ("还以为修不好，结果修好了"): the requester can still say "不用了"
# and staff can close it, while closing one still needed stands its helpers down.
_HEARSAY_BEFORE = re.compile(
    r"说|讲|告诉|通知|称|以为|本来|原来|好像|似乎|貌似|应该|可能|估计|大概|也许|觉得|感觉"
    r"|看着|看起来|是不是|是否"
)
_UNDONE_AFTER = re.compile(
    r"可(?!以)|但|不过|然而|只是|却|反而|结果|还是|还在|还没|还有|又|仍|依然|依旧|照样"
    r"|没用|不行|没好|不好|坏了"
)


NAME_MAX = 32
# What a name may not hold as typed (refused where names come in: the join form, the admin
# API): controls (newline, tab), format characters (bidi overrides, zero-width), line and
# paragraph separators.
_UNSHOWABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def unshowable(text: str) -> str | None:
    """The first character of `text` a group's message could not show as typed ("U+000A"),
    or None."""
    found = next((c for c in text if unicodedata.category(c) in _UNSHOWABLE), None)
    return None if found is None else f"U+{ord(found):04X}"


def shown_name(text: str) -> str:
    """An opted-in helper's name or a team's, as the group sees it: one line of plain text.
    Controls, format and unassigned characters go (a newline forging a second line from the
    bot, a bidi override turning the line around), whitespace runs are one space, the
    characters markup acts on (Feishu's `<at user_id="all">`, `[text](link)`) are their
    full-width look-alikes, a phone is [phone] (none goes into a group's text); then at most
    NAME_MAX characters."""
    line = " ".join(text.split())  # newlines, tabs, line separators: one space
    kept = "".join(c for c in line if not unicodedata.category(c).startswith("C"))
    return mask_phones(plain_markdown(kept.strip()))[:NAME_MAX]


def hotline_text(hotlines: Sequence[Hotline]) -> str:
    """The community's configured numbers, said after 120/110/119 (never instead of them)."""
    if not hotlines:
        return ""
    return "也可联系" + "、".join(f"{h.label} {h.number}" for h in hotlines) + "。"


# The end of a request's lifetime, as it happened: closed by the core with a helper
# assigned who never pressed 已完成 (RequestResolved by SYSTEM), expired with nobody
# assigned, or expired after staff claimed it.
SYSTEM_CLOSED = "求助已到时结束。如仍需帮助，请重新求助或联系社区。"
EXPIRED = "暂时没有邻居接单，求助已结束。如仍需帮助，请联系社区。"
# Expired after the only neighbour(s) who accepted withdrew: someone did take it.
EXPIRED_WITHDRAWN = (
    "接单的邻居未能前来，也暂时没有其他邻居接单，求助已结束。如仍需帮助，请联系社区。"
)
# A helper withdrew and the re-wave asked nobody new (`HelperWithdrawn.offers_sent` 0): the
# whistle blew again (its own message says whom it reached), a life-threatening request was
# referred again.
WITHDRAWN_ASKING = "一位邻居临时无法前来，正在联系其他邻居。"
WITHDRAWN_NOBODY = "一位邻居临时无法前来，暂时没有其他邻居可以联系。"
EXPIRED_CLAIMED = "求助已到时结束；社区工作人员已跟进，如仍需帮助请联系社区。"
WHISTLE_CALLED = "已通知社区值班人员协助。"
WHISTLE_NOBODY = "暂未联系上社区值班人员"
# A cancellation that stood neighbours down (open offers, helpers on their way), or none.
CANCELLED_STOOD_DOWN = "求助已取消，已通知邻居不必前往。"
CANCELLED = "求助已取消。"
# A closing reply ("不用了") from a sender with no request of theirs open in the group.
NO_OPEN_REQUEST = "未找到您在本群进行中的求助。"
# A reply keeping the sender's requests ("别全部取消", `keeps`): nothing ended, nothing new.
KEPT = "好的，您的求助仍在进行，未取消。"


def spared(n: int, *, ended: bool = True) -> str:
    """A closing reply of a sender with several open requests ended the everyday ones, not
    `n` critical ones (a 网格员 relaying a fall and groceries means the groceries by "买菜的
    不用了", whichever was asked last); `ended` False: all of them were critical, none ended."""
    count = "一" if n == 1 else str(n)
    if not ended:
        return f"您的{count}条紧急求助仍在进行，均未取消。如确已不需要，请回复“全部取消”。"
    return f"另有{count}条紧急求助仍在进行。如也已不需要，请回复“全部取消”。"


NOBODY_NEAR = "附近暂时没有可联系的邻居。"


def _numbers(hotlines: Sequence[Hotline]) -> str:
    return "、".join(f"{h.label} {h.number}" for h in hotlines)


def _whistle_text(body: WhistleBlown, people: int | None, hotlines: Sequence[Hotline]) -> str:
    """Staff on duty offered the request (`staff_helper_ids`) or people of the whistle list
    called: they were told. Neither: nobody was, and the group is sent to the community's
    numbers instead of being told someone is coming. No neighbour asked at all before it
    (`neighbours_asked` 0): the group, told at first that neighbours were coming, hears
    that none was found, and a life-threatening request to call the number again (not
    only at the referral, minutes later, or for a normal one never). Neighbours asked, a
    life-threatening request's group still hears the number after the staff sentence:
    staff on duty never replace 120/110/119."""
    if body.staff_helper_ids or people is None or people > 0:
        staff = WHISTLE_CALLED
    elif not hotlines:
        staff = WHISTLE_NOBODY + "，如需帮助请联系社区。"
    else:
        staff = f"{WHISTLE_NOBODY}，请拨打社区电话：{_numbers(hotlines)}。"
    number = body.emergency_number
    target = ReferralTarget(number.value) if number is not None else None
    if body.neighbours_asked != 0:  # some asked, or not known (an older event)
        return staff + still_call(target)
    call = _REFERRAL[target] if target is not None else ""
    return NOBODY_NEAR + call + staff


def paused_withdrawal(local_time: str) -> str:
    """A helper withdrew while the ladder is paused for quiet hours until `local_time`.
    Not that the search goes on then: a request whose end the pause moved there ends then
    (`paused_text`)."""
    return (
        f"一位邻居临时无法前来。现在是社区安静时段，{local_time}前暂不联系其他邻居。"
        "如情况紧急，请拨打120/110/119。"
    )


def paused_text(local_time: str) -> str:
    """The ladder paused for quiet hours until `local_time` (`RequestPaused`). Only that
    nobody new is asked before then: a pause moves a request's end that came sooner to its
    own end (`ladder.paused_for_quiet_hours`), and such a request ends then rather than going
    on; the event does not say which (it carries the pause's end, not the request's)."""
    return f"现在是社区安静时段，{local_time}前暂不联系更多邻居。已通知的邻居仍可接单。"


def still_call(advised: ReferralTarget | None) -> str:
    """The call-now line repeated at a request's end or when nobody else can come, for a
    request whose requester was told to call 120/110/119 (`EmergencyCallAdvised`)."""
    if advised is None or advised not in _NUMBERS:
        return ""
    return "如情况仍危急，" + _REFERRAL[advised]


def _withdrawal_text(
    body: HelperWithdrawn, hotlines: Sequence[Hotline], advised: ReferralTarget | None
) -> str:
    """Not while referred or paused (`update_for`). "正在联系其他邻居" only when the re-wave
    asked someone (or the event does not say: written before `offers_sent`)."""
    if body.offers_sent is None or body.offers_sent > 0:
        return WITHDRAWN_ASKING
    call = still_call(advised)
    return WITHDRAWN_NOBODY + (call + hotline_text(hotlines) if call else "")


def notified(count: int) -> str:
    return f"已通知{count}位附近邻居，请稍候。"


def _referral_text(body: ReferredToEmergency, hotlines: Sequence[Hotline]) -> str:
    """The emergency rung's message. With a neighbour on the way the group is not told
    nobody comes, and is still told to call: a neighbour never replaces 120/110/119.
    To property or a department the rung hands nothing on itself (it asks the duty officer
    or grid worker to, when there is one): the group is sent there, never told "已转交"
    (staff's own `RequestReferred` says that)."""
    if body.to not in _NUMBERS:
        contact = _contact(body.to, hotlines)
        if not body.helpers_coming:
            return "暂时没有邻居能及时赶到，" + contact
        return "已有邻居在路上。如还需" + _WHO[body.to] + "处理，" + contact
    if not body.helpers_coming:
        return "暂时没有邻居能及时赶到。" + _REFERRAL[body.to] + hotline_text(hotlines)
    return "已有邻居在路上，但仍" + _REFERRAL[body.to] + hotline_text(hotlines)


_WHO = {ReferralTarget.PROPERTY: "物业", ReferralTarget.DEPARTMENT: "相关部门"}


def _contact(to: ReferralTarget, hotlines: Sequence[Hotline]) -> str:
    """Whom the group contacts itself for `to` (property, a department): property's own
    configured number (a hotline labelled 物业…) when there is one, the others after it."""
    own = [h for h in hotlines if to is ReferralTarget.PROPERTY and "物业" in h.label]
    others = [h for h in hotlines if h not in own]
    if own:
        return f"请直接联系物业：{_numbers(own)}。" + hotline_text(others)
    who = "物业" if to is ReferralTarget.PROPERTY else "相关部门或社区"
    return f"请直接联系{who}。" + hotline_text(others)


def update_for(
    event: Event,
    hotlines: Sequence[Hotline] = (),
    *,
    claimed: bool = False,
    whistle_people: int | None = None,
    stood_down: bool | None = None,
    referred: ReferralTarget | None = None,
    paused_until: str | None = None,
    advised: ReferralTarget | None = None,
    accepted_before: bool = False,
    phone: bool = True,
) -> str | None:
    """The group's message for `event`, or None when the group need not hear of it.
    `hotlines`: the community's configured numbers, added where a number is advised.
    `claimed`: staff took the request on (RequestClaimed); its expiry then says so, never
    that nobody came. `whistle_people`: how many people of the community's whistle list
    (its contacts and role endpoints, not the group robot) the whistle calls; None when
    the caller cannot tell, and the whistle's text then counts on that list. `stood_down`:
    whether a cancellation told neighbours not to come (it stood down open offers or
    assignments); False: nobody was offered or on the way (held for quiet hours, no offer
    sent, every offer ended), and the group hears only that it was cancelled; None when the
    caller cannot tell. `referred`: where the request was handed on before `event` (a
    helper kept after a referral to 120/110/119 withdrawing), None while it was not.
    `paused_until`: the community's local HH:MM until which a ladder paused for quiet hours
    (`RequestPaused`) asks nobody new, when a helper withdraws during the pause; None when the
    request is not paused. `advised`: the number the requester was told to call
    (`EmergencyCallAdvised`), repeated when a withdrawal leaves nobody asked and at the
    request's end; None when none was (or the caller cannot tell). `accepted_before`: a
    neighbour accepted the request earlier (and withdrew): its expiry does not say that
    nobody took it. `phone`: the requester left a phone (False: a platform sender with none
    in the household ledger); without one nobody is promised a call, a remote helper
    reaches them in the group."""
    body = event.body
    if isinstance(body, RequestHeld | RequestReleased):
        # The immediate reply already said when a held request goes out (the API applies
        # the core's rule at the command's time); the offers' "已通知N位" says it went.
        return None
    if isinstance(body, RequestPaused):
        # A chore already climbing when quiet hours began: nothing new goes out until then.
        return paused_text(body.local_time)
    if isinstance(body, HelperAssigned):
        if body.signed_up_by is not None:
            return None  # a member their leader signed up: the leader's message counted them
        # The name only when the helper opted in (the core sets group_name then).
        name = shown_name(body.group_name or "")
        who = f"一位邻居（{name}）" if name else "一位邻居"
        team = shown_name(body.team_id or "")
        if team and body.members > 1:  # a team's leader, for n members
            who = f"{team}的{body.members}位邻居"
        # A remote helper (a doctor guiding by phone) calls; nobody says they are coming.
        # With no phone left (a group bot's sender) they reach the requester in the group.
        if body.remote:
            return f"{who}已接单，" + ("将电话联系指导。" if phone else "将在群内联系您。")
        return f"{who}已接单，正在赶来。"
    if isinstance(body, HelperSetOff):
        # No name here at all: "on my way" says that help moves, not who (the assignment
        # message already named an opted-in helper).
        if body.remote:
            return "一位邻居正在" + ("电话" if phone else "群内") + "联系求助人。"
        return "一位邻居已出发，正在路上。"
    if isinstance(body, HelperWithdrawn):
        if referred is not None:
            # Kept on after a referral to 120/110/119: nobody else is asked (the request
            # stays with the professionals), so the group is not told someone is.
            return "一位邻居临时无法前来。" + _HANDED_TO[referred]
        if paused_until is not None:
            # Paused for quiet hours: nobody else is asked before they end, so the group is
            # not told someone is now, and is sent to 120 and staff meanwhile (as a request
            # held for them is, `replies.reply_text`).
            return paused_withdrawal(paused_until) + hotline_text(hotlines)
        return _withdrawal_text(body, hotlines, advised)
    if isinstance(body, RingEscalated):
        # Only the widest ring is news to the group; empty inner rings are skipped at once.
        return "正在扩大到全社区范围寻找邻居。" if body.to_ring is Ring.COMMUNITY else None
    if isinstance(body, WhistleBlown):
        return _whistle_text(body, whistle_people, hotlines)
    if isinstance(body, RequestClaimed):
        return "社区工作人员已接手，会尽快联系您。"
    if isinstance(body, WhistleReportedBack):
        # The role only (网格员, 物业…), never who: the group hears that someone came.
        return f"{ROLE_ZH.get(body.role, '社区')}已报到，正在协助处理。"
    if isinstance(body, ReferredToEmergency):
        return _referral_text(body, hotlines)
    if isinstance(body, RequestResolved):
        if body.by is Party.SYSTEM:
            # The lifetime ran out with a helper assigned (ladder.end_of_lifetime): nobody
            # said it was solved.
            return SYSTEM_CLOSED + still_call(advised) + hotline_text(hotlines)
        return "求助已解决，谢谢各位邻居！"
    if isinstance(body, RequestCancelled):
        return CANCELLED if stood_down is False else CANCELLED_STOOD_DOWN
    if isinstance(body, RequestExpired):
        # Staff took it on ("社区工作人员已接手…" was said): not "nobody took it".
        # A neighbour who accepted and withdrew: someone did take it.
        ended = EXPIRED_CLAIMED if claimed else EXPIRED_WITHDRAWN if accepted_before else EXPIRED
        return ended + still_call(advised) + hotline_text(hotlines)
    if isinstance(body, RequestReferred):
        # Handed to 120/110/119, neighbours already on their way go on (the core keeps them
        # assigned): say so, as the ladder's own emergency rung does.
        if body.helpers_coming and body.to in _NUMBERS:
            return "求助已转交处理。已有邻居在路上，但仍" + _REFERRAL[body.to]
        return "求助已转交处理。" + (_REFERRAL.get(body.to, ""))
    return None


# A report merged into a request another group raised is this group's co-report: its
# thread is recorded under the sender marked so (`co_reporter`), which "不用了" then finds
# only to withdraw, never as a request of the sender's own to cancel.
CO_REPORT = "co-report:"
CO_REPORT_WITHDRAWN = (
    "已撤回本群的报告。这条求助由其他群发起，仍在处理中，本群不再接收它的进展；"
    "如需取消，请由发起求助的群回复，或联系社区。"
)


def co_reporter(sender_id: str) -> str:
    """The sender of a merged report, as its group's thread records them."""
    return CO_REPORT + sender_id


def is_cancel_reply(text: str) -> bool:
    """ "不用了" / "已经解决": short, and worded as no longer needed (taken back or solved).
    The wording alone; whether a message ends the request is `cancels` (the classifier's
    answer comes first), and whether as solved `is_solved_reply`."""
    return len(text) <= 40 and (
        _CANCEL.search(text) is not None
        or _says_solved(text)
        or ends_all(text)
        or _takes_back(text)
    )


def _takes_back(text: str) -> bool:
    if _asked(text):
        return False
    return any(not _NEGATED_IN_CLAUSE.search(text, 0, m.start()) for m in _TAKE_BACK.finditer(text))


def keeps(text: str) -> bool:
    """A short reply that keeps the sender's requests: a take-back word ("取消", "撤销") with
    its negator bound to it ("别全部取消，摔倒的还需要", "不要撤销求助"), and no closing wording
    of its own (`is_cancel_reply`)."""
    return len(text) <= 40 and not is_cancel_reply(text) and keeps_some(text)


def keeps_some(text: str) -> bool:
    """Some request is said to be kept ("摔倒的别取消"), whatever else the reply says ("买菜的
    不用了，摔倒的别取消" ends the everyday ones, never a critical one even if it is the only one
    open). The negator is bound to the take-back word (`_KEEP_BOUND`): "不用了取消吧" keeps
    nothing."""
    return any(_KEEP_BOUND.search(text, 0, m.start()) for m in _TAKE_BACK_WORD.finditer(text))


def names_kept(text: str, word: str) -> bool:
    """`word` (a situation read in `text`) is said of the request kept, in a clause that
    points at it ("摔倒的还需要", "王奶奶摔倒那条还要"), not told beside the keep words ("那条
    别取消，我爸摔倒了")."""
    return any(word in c and _REFERS.search(c) for c in _CLAUSE.findall(text))


def new_occurrence(text: str) -> bool:
    """Keep words beside news of a new occurrence ("那条别取消，楼下李爷爷也摔倒了", "那条先
    别取消，现在又漏水了"): the situation told is not the request kept."""
    return _NEW_OCCURRENCE.search(text) is not None


def _asked(text: str) -> bool:
    return text.rstrip(" 。.！!~～").endswith(("?", "？", "吗", "么", "嘛", "呢"))


def ends_all(text: str) -> bool:
    """A closing reply that ends every open request of the sender's, the critical ones
    included: "全部取消" / "全都取消吧，谢谢" as the whole reply (`_ALL`), never asked ("全部
    取消吗？") nor negated ("不要全部取消", "摔倒的别全部取消": no "全部取消" at all, and
    the rest of the reply, "买菜的不用了", ends only what a plain one does)."""
    if _asked(text):
        return False
    return _ALL.fullmatch(_PUNCT.sub("", text)) is not None


def is_solved_reply(text: str) -> bool:
    """A closing reply (`is_cancel_reply`) that says the need was met ("已经解决了，谢谢邻居",
    "修好了，谢谢", "不用了，已经解决"): the request is resolved by the requester, not
    cancelled, so a helper who came still presses 已完成 and their minutes count."""
    return len(text) <= 40 and _says_solved(text)


def _says_solved(text: str) -> bool:
    """Some solved wording (`_SOLVED`) said as done by the requester: not asked, negated or
    still to come, not reported or guessed, and not contradicted later in the message."""
    question = text.rstrip("。.！!~～ ").endswith(("?", "？"))
    return not question and any(
        not _NOT_YET_BEFORE.search(text, 0, m.start())
        and not _NOT_YET_AFTER.match(text[m.end() :])
        and not _HEARSAY_BEFORE.search(text, 0, m.start())
        and not _UNDONE_AFTER.search(text, m.end())
        for m in _SOLVED.finditer(text)
    )


def cancels(text: str, found: Classification) -> bool:
    """Does the requester's `text` take back their open request? Only when the classifier
    (`found`, for this very text) sees no help request in it: "不用了，我妈晕倒了，没有呼吸了"
    is a new emergency, never a cancel."""
    calm = found.urgency in (Urgency.LOW, Urgency.NORMAL) and not found.advise_emergency_call
    return not found.is_request and calm and is_cancel_reply(text)
