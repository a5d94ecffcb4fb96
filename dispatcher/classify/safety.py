"""The safety floor: a red flag always yields `critical`, the right number and the advice.

The rules decide everything else, and they can be wrong in many ways (a "谢谢" before the
ask, a notice word, an unusual category). This check runs last, over the same normalised
text, and only ever raises: whatever the rules said, a live (not negated) red flag makes
the message a request, critical, with the emergency number and the advice of its kind.
What is not a live red flag: a negated one ("没有人晕倒"; a bare 没 only right before it), a
warning ("容易起火"), an animal's ("小狗被车撞了", but "被狗咬了" is a person's), a device's
("wifi又抽风了"), a leg cramp, a barbecue's smoke ("楼下烧烤好大的烟"), laughter's ("笑得我喘
不上气"), one already over ("心梗出院了"), an elder someone found rather than lost, one in the
clause of a drill or training word ("下周三消防演练，模拟着火疏散"), any in a notice about a drill
("【急救培训】…"), and one in the clause of a story told in the past with no ask in the message
("去年我爸也是心梗，幸好送得及时"). Only the flag's own clause: "3栋着火了，火很大，幸好是白天"
and "我爸刚才晕倒了，叫不醒，他以前有高血压" are emergencies; a flag that runs on from a past
clause into one saying now is judged by its last ("以前也晕倒过，这回叫不醒了"). A scare taken
back ("误报") silences the flags up to the end of its clause, and those after it unless said as
now ("刚才是误报，现在又闻到煤气味了" is live).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Final

from dispatcher.classify import lexicon as lx
from dispatcher.classify.matching import Hit, Signal, Table, is_red_flag_negated
from dispatcher.classify.model import Classification
from dispatcher.classify.redflag_model import load_model
from schemas.vocab import Skill, Urgency

_FLAGS: Final = Table(lx.RED_FLAGS)
_DRILL: Final = Signal("drill", lx.DRILL)
_PAST: Final = Signal("past", lx.PAST)
_RETRACTED: Final = Signal("retracted", lx.RETRACTED)
_ASK: Final = Signal("ask", lx.ASK_DIRECT)
_NOTICE_MARK: Final = Signal("notice_mark", lx.NOTICE_MARKERS)
_CLAUSE_MARKS: Final = ",.!?;"  # what `normalise` folds every clause mark and line break to
_CLAUSE_END: Final = re.compile(f"[{re.escape(_CLAUSE_MARKS)}]")
_HYPOTHETICAL: Final = re.compile("(?:" + "|".join(lx.HYPOTHETICAL) + ")[^,.!?]{0,4}$")
_PET: Final = re.compile("(?:" + "|".join(lx.PET) + ")[^,.!?]{0,6}$")
_BY_ANIMAL: Final = re.compile("被[^,.!?]{0,5}(?:" + "|".join(lx.PET) + ")")
# After the flag: over ("出院了"), or had once ("中风过"; not 过去/过来/过敏/过量/过后…).
_RECOVERED: Final = re.compile(
    "过(?![去来敏度量多分头火后])|[^,.!?]{0,6}(?:" + "|".join(lx.RECOVERED) + ")"
)
_HISTORY: Final = re.compile("(?:" + "|".join(lx.HISTORY_BEFORE) + ")[^,.!?]{0,4}$")
_HABITUAL: Final = re.compile("(?:" + "|".join(lx.HABITUAL) + ")[^,.!?]{0,4}$")
_FOUND_ELDER: Final = re.compile(lx.FOUND_ELDER)
_NUISANCE: Final = Signal("nuisance", lx.NUISANCE)
_DEVICE: Final = re.compile("|".join(lx.DEVICE))
_PERSON: Final = re.compile("|".join(lx.PERSON))
_NOT_DISTRESS: Final = re.compile("(?:" + "|".join(lx.NOT_DISTRESS) + ")[^,.!?]{0,3}$")
_FRESH: Final = re.compile("|".join(lx.FRESH))
_BREATH: Final = re.compile("喘|气|呼吸")
_CRAMPED: Final = re.compile("(?:" + "|".join(lx.CRAMPED) + ")(?:又|也|都)?$")
_COOKING: Final = re.compile("|".join(lx.COOKING))
_NOT_SMOKE_ONLY: Final = re.compile("[黑浓火焦糊]|[是有]烟")
# The same for the model: such a clause is not read ("笑得我喘不上气" read as breathing).
_LAUGHED_BREATH: Final = re.compile(
    "(?:" + "|".join(lx.NOT_DISTRESS) + ")[^,.!?]{0,3}(?:喘|气|呼吸)[^,.!?]{0,4}"
)
_LOOKBACK: Final = 10
_KIND_OF_NUMBER: Final[dict[str, lx.EmergencyKind]] = {
    "120": "medical",
    "119": "fire",
    "110": "crime",
}
_MAX_FLAGS: Final = 32  # enough to name every kind; a message full of them stays cheap


def _live(text: str, flag: Hit[lx.EmergencyKind]) -> bool:
    """Not negated, not a warning ("容易起火"), not had once ("得过脑梗", "中风过"), not
    over ("出院了"), not a habit ("天天冒烟": fire only), not about an animal ("小狗被车撞了"),
    not an elder found by the writer ("看到一个老爷爷迷路了")."""
    window = text[max(0, flag.start - _LOOKBACK) : flag.start]
    if is_red_flag_negated(text, flag.start):
        return False
    if _HYPOTHETICAL.search(window) or _HISTORY.search(window):
        return False
    if _RECOVERED.match(text, flag.end) or (flag.rule == "fire" and _HABITUAL.search(window)):
        return False
    if _PET.search(window) and not _BY_ANIMAL.search(window):
        return False  # the animal is hurt, unless it did the hurting ("被狗咬了")
    if flag.rule == "medical" and _not_a_body(flag, window):
        return False
    if flag.rule == "fire" and _cooking_smoke(flag, window):
        return False
    return flag.rule != "lost_elder" or not _FOUND_ELDER.search(text, 0, flag.start)


def _not_a_body(flag: Hit[lx.EmergencyKind], window: str) -> bool:
    """A device acting up ("wifi又抽风了": a seizure word after a device, no person named
    before it in the clause), or laughter or spice taking the breath ("笑得我喘不上气")."""
    before = _CLAUSE_END.split(window)[-1]  # the flag's clause only
    if "抽" in flag.text and _DEVICE.search(before) and not _PERSON.search(before):
        return True
    if flag.text == "抽筋" and _CRAMPED.search(window):
        return True  # a leg cramp
    return bool(_NOT_DISTRESS.search(window) and _BREATH.search(flag.text))


def _cooking_smoke(flag: Hit[lx.EmergencyKind], window: str) -> bool:
    """Smoke after a barbecue in its clause ("楼下烧烤好大的烟"), with no black or thick smoke,
    no room full of it ("全是烟", "有烟") and no fire word in the flag."""
    if "烟" not in flag.text or _NOT_SMOKE_ONLY.search(flag.text):
        return False
    return _COOKING.search(_CLAUSE_END.split(window)[-1]) is not None


def red_flags(text: str) -> list[Hit[lx.EmergencyKind]]:
    """Live red flags in a normalised text, in the order they were said.

    A notice about a drill has none. A flag in the clause of a drill word ("模拟着火") has
    none, nor one in the clause of a story told in the past ("去年", "幸好") unless the
    message also asks someone directly: other clauses keep theirs. A scare taken back
    ("误报") with no direct ask silences every flag up to the end of its clause, and those
    after it unless their clause says now ("刚才是误报，现在又闻到煤气味了")."""
    flags = [h for h in _FLAGS.hits(text, limit=_MAX_FLAGS) if _live(text, h)]
    if not flags or _drill_notice(text):
        return []
    upto = _retracted_upto(text)
    if upto is not None:
        after = [h for h in flags if h.start > upto]
        flags = [h for h in after if _fresh(text, *_clause(text, h.start, h.end))]
    told = _told_at(text)
    return [h for h in flags if not _any_within(told, *_judged_clause(text, h))]


def _judged_clause(text: str, flag: Hit[lx.EmergencyKind]) -> tuple[int, int]:
    """The clauses a flag is judged by: all it spans ("晕倒了,叫不醒"), or only its last when
    what it spans after its first clause says now ("以前也晕倒过,这回叫不醒了")."""
    low, high = _clause(text, flag.start, flag.end)
    after = _CLAUSE_END.search(text, flag.start, flag.end)
    if after and _fresh(text, after.end(), flag.end):
        return _clause(text, flag.end - 1, flag.end)
    return low, high


def _fresh(text: str, low: int, high: int) -> bool:
    """Whether text[low:high] says now ("现在", "这回", "又")."""
    return _FRESH.search(text, low, high) is not None


def _drill_notice(text: str) -> bool:
    """A notice about a drill: no flag is live."""
    return bool(_DRILL.first(text) and _NOTICE_MARK.first(text))


def _retracted_upto(text: str) -> int | None:
    """With a scare taken back ("误报", "虚惊") and no direct ask: where the clause of the
    last retraction ends (no flag up to there is live); else None."""
    if not _RETRACTED.first(text) or _ASK.first(text):
        return None  # (`first`: most messages hold no retraction word, and it answers at once)
    retracted = _RETRACTED.hits(text)
    return _clause(text, retracted[-1].start, retracted[-1].end)[1]


def _told_at(text: str) -> list[int]:
    """Where drill words and, with no direct ask in the message, past words stand (sorted)."""
    told = [h.start for h in _DRILL.hits(text)]
    past = _PAST.hits(text)
    if past and not _ASK.first(text):
        told = sorted(told + [h.start for h in past])
    return told


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around text[start:end] (a flag may span several: "晕倒了,叫不醒")."""
    low = max(text.rfind(mark, 0, start) for mark in _CLAUSE_MARKS) + 1
    after = _CLAUSE_END.search(text, end)
    return low, after.start() if after else len(text)


def _any_within(places: list[int], low: int, high: int) -> bool:
    """Whether one of the sorted `places` lies in [low, high)."""
    at = bisect_left(places, low)
    return at < len(places) and places[at] < high


def _live_clauses(text: str) -> str:
    """The text without its drill and past clauses (as `red_flags` reads them), for the
    model: "" when none is."""
    if _drill_notice(text):
        return ""
    told = _told_at(text)
    upto = _retracted_upto(text)
    if not told and upto is None:
        return text
    kept, low = [], 0
    for end in [*(m.start() for m in _CLAUSE_END.finditer(text)), len(text)]:
        said_now = upto is None or (low > upto and _fresh(text, low, end))
        if end > low and said_now and not _any_within(told, low, end):
            kept.append(text[low:end])
        low = end + 1
    return ",".join(kept)


def model_flag(text: str) -> tuple[lx.EmergencyKind, str] | None:
    """The n-gram model's red flag (kind, reason) when the rule tables found none, read
    from the clauses a red flag would be live in."""
    model = load_model()
    if model is None or _NUISANCE.first(text):
        return None
    text = _LAUGHED_BREATH.sub(",", _live_clauses(text)).strip(",")
    if not text:
        return None
    verdict = model.verdict(text)
    if verdict is None:
        return None
    return _KIND_OF_NUMBER[verdict.number], f"model:{verdict.number}:{verdict.probability}"


def kinds_of(flags: list[Hit[lx.EmergencyKind]]) -> list[lx.EmergencyKind]:
    """Kinds by priority (EMERGENCIES order); "救命" alone only when no cause is named."""
    said = {h.rule for h in flags}
    if len(said) > 1:
        said.discard("rescue")
    return [kind for kind in lx.EMERGENCIES if kind in said]


def advice_for(kinds: list[lx.EmergencyKind]) -> str | None:
    return " ".join(dict.fromkeys(lx.EMERGENCIES[k].advice for k in kinds)) or None


def apply_floor(
    text: str,
    result: Classification,
    flags: list[Hit[lx.EmergencyKind]] | None = None,
    *,
    use_model: bool = True,
) -> Classification:
    """Raise `result` to what the red flags in `text` demand; never lower anything.
    `flags`: `red_flags(text)` when the caller already has them; `use_model=False`: the
    rule tables alone (to measure what the model adds)."""
    flags = red_flags(text) if flags is None else flags
    if flags:
        kinds = kinds_of(flags)
        said = [f"floor:{h.rule}:{h.text}" for h in flags[:3]]
    elif use_model and (found := model_flag(text)):
        kinds, said = [found[0]], [f"floor:{found[1]}"]
    else:
        return result
    numbered = [k for k in kinds if lx.EMERGENCIES[k].number is not None]
    primary = lx.EMERGENCIES[(numbered or kinds)[0]]
    number = primary.number or result.emergency_number
    if (
        result.is_request
        and result.urgency is Urgency.CRITICAL
        and result.advise_emergency_call
        and (number is None or result.emergency_number is not None)
    ):
        return result  # the rules already did what the floor demands
    skills = [*result.skills, *(s for k in kinds for s in lx.EMERGENCIES[k].skills)]
    unique = tuple(dict.fromkeys(s for s in skills if s is not Skill.GENERAL)) or (Skill.GENERAL,)
    advice = " ".join(dict.fromkeys(filter(None, [advice_for(kinds), result.advice])))
    return result.model_copy(
        update={
            "is_request": True,
            "category": result.category or primary.category,
            "urgency": Urgency.CRITICAL,
            "skills": unique,
            "advise_emergency_call": True,
            "emergency_number": number,
            "notify_property": result.notify_property
            or any(lx.EMERGENCIES[k].notify_property for k in kinds),
            "advice": advice,
            "reasons": (*result.reasons, *said),
        }
    )
