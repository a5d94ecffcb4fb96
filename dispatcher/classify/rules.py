"""Decide: is it a request, what kind, how urgent, who can help, who else to call.

Order of the decision (each step explains itself in `reasons`):
1. a cancellation ("不需要帮忙了", "找到了") ends it: not a request; a request kept
   ("别全部取消，摔倒的还需要") without a red flag or a direct ask is marked ("keeps:") and
   read on as ever: only the platform route, knowing the sender's open requests, may take
   it for the one kept (with nothing open it is dispatched: a duplicate is the safe mistake);
2. a notice or an ad is not a request unless it asks someone directly ("谁能…");
3. thanks that come before any ask ("感谢昨天帮我搬东西的邻居") is not a request;
4. a live red flag (not negated) is always a request, critical, with an emergency number;
5. an information question ("请问物业电话是多少") without a situation is not a request;
6. otherwise a direct ask, a weak ask next to a situation, or a distress description is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Final, Literal

from dispatcher.classify import lexicon as lx
from dispatcher.classify.counts import helpers_wanted
from dispatcher.classify.hanzi import Script, detect_script
from dispatcher.classify.matching import Hit, LazyHits, Signal, Table
from dispatcher.classify.model import Classification, PlaceHints
from dispatcher.classify.normalise import normalise
from dispatcher.classify.places import place_hints
from dispatcher.classify.safety import advice_for, red_flags
from schemas.catalogue import CATALOGUE, entry
from schemas.vocab import Category, Skill, Urgency

# Tables compiled once at import: classify() itself does no I/O and no compilation.
_CATEGORY: Final = Table(lx.CATEGORY_CUES)
_SKILL: Final = Table(lx.SKILL_CUES)
_TRANSPORT: Final = Signal("transport", lx.TRANSPORT)
_OUTAGE: Final = Signal("outage", lx.OUTAGE)
_HOSPITAL: Final = Signal("hospital", lx.HOSPITAL)
_LOST: Final = Signal("lost", lx.LOST)
_ASK_DIRECT: Final = Signal("ask", lx.ASK_DIRECT)
_ASK_WEAK: Final = Signal("ask_weak", lx.ASK_WEAK)
_NOTICE: Final = Signal("notice", lx.NOTICE)
_AD: Final = Signal("ad", lx.AD)
_THANKS: Final = Signal("thanks", lx.THANKS)
_CANCEL: Final = Signal("cancel", lx.CANCEL)
_TAKE_BACK: Final = Signal("take_back", lx.TAKE_BACK)
_STILL_WANTED: Final = Signal("still_wanted", lx.STILL_WANTED)
_INFO: Final = Signal("info", lx.INFO_QUESTION)
_GREETING: Final = Signal("greeting", lx.GREETING)
_URGENT: Final = Signal("urgent", lx.URGENT)
_LOW: Final = Signal("low", lx.LOW)
_SCHEDULED: Final = Signal("scheduled", lx.SCHEDULED)
_ALONE: Final = Signal("alone", lx.ALONE)
_SOCIAL: Final = Signal("social", lx.SOCIAL)
_PAST: Final = Signal("past", [*lx.PAST, *lx.RETRACTED])
_MOBILITY: Final = re.compile("|".join(lx.MOBILITY))
# How far from "下不了楼" a person or mobility word may be ("老人腿脚不便，下不了楼").
_MOBILITY_BEFORE: Final = 10
_MOBILITY_AFTER: Final = 6
_BITTEN: Final = re.compile("被[^,.!?]{0,4}(?:咬|抓|挠|撞)")
# Asking whether something exists ("有没有游泳池") after "请问" is still just a question.
_EXISTENCE_ASKS: Final = ("有没有", "有人", "有懂", "有会")

Subject = Literal["child", "elder", "pet"]
_SUBJECTS: Final = Table[Subject](
    [(p, "child") for p in lx.CHILD]
    + [(p, "elder") for p in lx.ELDER]
    + [(p, "pet") for p in lx.PET]
)
# "迷路", "走失": a person even when nobody is named; "丢了", "不见了" alone may be keys.
_PERSON_LOST_WORDS: Final = ("迷路", "走丢", "走失", "找不到家", "找不到回家", "说不清", "问不出")

_RANK: Final = {Urgency.LOW: 0, Urgency.NORMAL: 1, Urgency.URGENT: 2, Urgency.CRITICAL: 3}
_STRETCHER_HELPERS: Final = 4  # the brief: four neighbours to carry a stretcher
_HOSPITAL_RUN_VOTES: Final = 5
_LOST_VOTES: Final = 6
_MAX_REASONS: Final = 24
KEEPS: Final = "keeps:"  # the reason marking a request kept (`keeps`)


def _subject_near(subjects: LazyHits[Subject], position: int) -> Subject | None:
    before = subjects.before(position)
    if before:
        return before[-1].rule
    first = subjects.head(1)
    return first[0].rule if first else None


def _possessive_before(subjects: LazyHits[Subject], text: str, position: int) -> bool:
    """The nearest person before owns what is lost ("女儿的玩具丢了"), is not lost."""
    before = subjects.before(position)
    return bool(before) and text.startswith("的", before[-1].end)


def _kept(text: str) -> Hit[str] | None:
    """A negated take-back word ("别全部取消", "不要撤销求助") with the situation tied to the
    request kept ("摔倒的还需要", "那条还要"): a request kept, not taken back
    (`lexicon.TAKE_BACK`)."""
    kept = next((h for h in _TAKE_BACK.hits(text, keep_negated=True) if h.negated), None)
    return kept if kept and _STILL_WANTED.hits(text, keep_negated=True) else None


def keeps(found: Classification) -> bool:
    """Read as a request, but worded as keeping one ("别全部取消，摔倒的还需要", marked
    `KEEPS` only without a red flag or a direct ask) and not critical (the floor or the model
    may raise it): the sender's own open request, if they have one, is what it names."""
    return (
        found.is_request
        and found.urgency is not Urgency.CRITICAL
        and not found.advise_emergency_call
        and any(r.startswith(KEEPS) for r in found.reasons)
    )


def _has_person(text: str, hit: Hit[lx.Cue]) -> bool:
    """A `needs_person` cue ("下不了楼") with someone who cannot manage the stairs near it;
    alone it made "下雨下不了楼，谁帮我扔个垃圾" a carrying request."""
    if not hit.rule.needs_person:
        return True
    start = max(0, hit.start - _MOBILITY_BEFORE)
    return _MOBILITY.search(text, start, hit.end + _MOBILITY_AFTER) is not None


def _outage_context(text: str, cues: list[Hit[lx.Cue]]) -> list[Hit[lx.Cue]]:
    """The repair cues that only say the power or the lift is out (`lexicon.OUTAGE`): beside
    a person to help, context; "谁会修电闸" is still a repair vote."""
    outages = _OUTAGE.hits(text)
    return [
        h
        for h in cues
        if h.rule.category is Category.REPAIR
        and any(o.start < h.end and h.start < o.end for o in outages)
    ]


def _min_urgency(a: Urgency, b: Urgency) -> Urgency:
    return a if _RANK[a] <= _RANK[b] else b


def _not_a_request(reasons: list[str], script: Script) -> Classification:
    return Classification(
        is_request=False,
        urgency=Urgency.LOW,
        script=script,
        reasons=tuple(reasons[:_MAX_REASONS]),
    )


def classify_text(raw: str) -> Classification:
    """The rules alone on a raw message (no safety floor)."""
    return classify_normalised(normalise(raw), detect_script(raw))


def classify_normalised(
    text: str, script: Script, red: list[Hit[lx.EmergencyKind]] | None = None
) -> Classification:
    """The rules alone on an already normalised text (`normalise.normalise`); `red`: the
    text's red flags when the caller already has them (the floor reads the same ones)."""
    reasons: list[str] = []

    red = red_flags(text) if red is None else red
    cues_all = _CATEGORY.hits(text)
    cues = [h for h in cues_all if not h.negated and _has_person(text, h)]
    skill_cues = [h for h in _SKILL.hits(text) if not h.negated]
    reasons += [f"negated:{h.text}" for h in cues_all if h.negated]
    subjects = LazyHits(_SUBJECTS.iter_hits(text))  # read only if someone's role matters

    # A lost person is a cue whose meaning depends on who is lost.
    emergencies: dict[lx.EmergencyKind, int] = {}  # kind → where it was said
    for flag in red:
        emergencies.setdefault(flag.rule, flag.start)
        reasons.append(f"red_flag:{flag.rule}:{flag.text}")
    lost_category: Category | None = None
    for lost in _LOST.hits(text):
        subject = _subject_near(subjects, lost.start)
        if not lost.text.startswith(_PERSON_LOST_WORDS) and (
            subject is None or _possessive_before(subjects, text, lost.start)
        ):
            continue  # "钥匙丢了", "女儿的玩具丢了": a thing, not a person
        reasons.append(f"lost:{subject or 'person'}:{lost.text}")
        if subject == "child":
            emergencies.setdefault("lost_child", lost.start)
        lost_category = Category.OTHER if subject == "pet" else Category.LOST_PERSON
        break
    if len(emergencies) > 1:
        emergencies.pop("rescue", None)  # "救命" plus a known cause: use the cause

    # Is it a request at all?
    asks = _ASK_DIRECT.lazy(text)
    direct = asks.head(3)  # all of them only for an information question, below
    weak = _ASK_WEAK.first(text)
    reasons += [f"ask:{h.text}" for h in direct]
    if cancel := _CANCEL.first(text):
        return _not_a_request([*reasons, f"cancelled:{cancel.text}"], script)
    if not direct and not emergencies and (kept := _kept(text)):
        # "别全部取消，摔倒的还需要": maybe the fall they keep, maybe news to a bot that knows
        # nothing open (a new fall dropped as "kept" was dispatched to nobody). Marked only:
        # the platform route, which knows the sender's open requests, decides (`keeps`).
        reasons.append(f"{KEEPS}{kept.text}")
    if not direct and (notice := _NOTICE.first(text) or _AD.first(text)):
        return _not_a_request(
            [*reasons, f"{'notice' if notice.rule == 'notice' else 'ad'}:{notice.text}"], script
        )
    thanks = _THANKS.first(text)
    if thanks and not direct:
        first_ask = weak.start if weak else len(text)
        first_flag = min(emergencies.values(), default=len(text))
        if thanks.start < first_ask and thanks.start < first_flag:
            return _not_a_request([*reasons, f"thanks:{thanks.text}"], script)
    transport = _TRANSPORT.first(text)
    hospital = _HOSPITAL.first(text) if transport else None
    hospital_run = bool(transport and hospital)
    situation = bool(cues) or lost_category is not None or hospital_run
    if not emergencies:
        distress = [h for h in cues if h.rule.distress]
        if (social := _SOCIAL.first(text)) and not distress and "陪" not in text:
            return _not_a_request([*reasons, f"social:{social.text}"], script)
        if not direct and (past := _PAST.first(text)):
            return _not_a_request([*reasons, f"past:{past.text}"], script)
        info = _INFO.first(text)
        asked_after = info is not None and any(
            h.start >= info.end and not h.text.startswith(_EXISTENCE_ASKS) for h in asks.all()
        )
        if info and not situation and not asked_after:
            return _not_a_request([*reasons, f"info_question:{info.text}"], script)
        if not direct and not (weak and situation) and not distress and lost_category is None:
            greeting = _GREETING.first(text)
            return _not_a_request(
                [*reasons, f"greeting:{greeting.text}" if greeting else "no_ask_no_situation"],
                script,
            )
        if distress and not direct:
            reasons.append(f"distress:{distress[0].text}")

    # A person to help down the stairs or to hospital in a power cut: the outage words are
    # why, not the need ("停电了电梯不能用，谁能帮忙扶她下楼" went to electricians only).
    context = (
        _outage_context(text, cues) if hospital_run or any(h.rule.person for h in cues) else []
    )
    reasons += [f"context:{h.text}" for h in context]

    # What kind of help: votes per category; an emergency decides on its own.
    votes: dict[Category, int] = defaultdict(int)
    first_ask = direct[0].start if direct else len(text)
    for hit in cues:
        if hit.rule.category is not None and hit not in context:
            # What follows "谁能…" is what is asked for; before it, often the background.
            votes[hit.rule.category] += hit.rule.weight + (hit.start > first_ask)
    if transport and hospital:
        votes[Category.HOSPITAL_TRANSPORT] += _HOSPITAL_RUN_VOTES
        reasons.append(f"hospital_run:{transport.text}+{hospital.text}")
    if lost_category is not None:
        votes[lost_category] += _LOST_VOTES
    primary = next((kind for kind in lx.EMERGENCIES if kind in emergencies), None)
    emergency = lx.EMERGENCIES[primary] if primary else None
    if emergency and primary != "rescue":
        category = emergency.category
        if category is Category.MEDICAL and transport and hospital:
            category = Category.HOSPITAL_TRANSPORT  # in labour, asking for a ride: a driver
    elif votes:
        # Equal votes: the catalogue's order (the more time-critical first) decides.
        order = list(CATALOGUE)
        category = max(order, key=lambda c: (votes.get(c, 0), -order.index(c)))
    else:
        category = Category.OTHER
    medical = [h.start for h in cues if h.rule.category is Category.MEDICAL]
    animal_hurt = (
        not emergency
        and category is Category.MEDICAL
        and bool(medical)
        and _subject_near(subjects, medical[0]) == "pet"
        and not _BITTEN.search(text)  # "被狗咬了": a person hurt by an animal
    )
    if animal_hurt:
        category = Category.OTHER  # an injured animal: any neighbour, not a doctor
    reasons += [f"cue:{h.rule.category or 'skill'}:{h.text}" for h in cues[:6]]

    # How urgent.
    if emergency:
        urgency = Urgency.CRITICAL
    else:
        urgency = entry(category).urgency
        for hit in cues:
            if hit.rule.category == category and hit.rule.urgency is not None:
                urgency = max(urgency, hit.rule.urgency, key=_RANK.__getitem__)
        for hit in context:  # the power cut still says how soon they must get down
            if hit.rule.urgency is not None:
                urgency = max(urgency, hit.rule.urgency, key=_RANK.__getitem__)
        if lost_category == category == Category.OTHER:
            urgency = Urgency.NORMAL  # a lost pet: today, not within the hour
        urgent = _URGENT.first(text)
        if urgent and category is Category.TECH_HELP and urgent.text == "突然":
            urgent = None  # "微信突然登不上了": sudden, not urgent
        if urgent:
            urgency = max(urgency, Urgency.URGENT, key=_RANK.__getitem__)
            reasons.append(f"urgent:{urgent.text}")
        if scheduled := _SCHEDULED.first(text):
            urgency = _min_urgency(urgency, Urgency.NORMAL)
            reasons.append(f"scheduled:{scheduled.text}")
        if low := _LOW.first(text):
            urgency = Urgency.LOW
            reasons.append(f"not_urgent:{low.text}")
    if alone := _ALONE.first(text):
        reasons.append(f"alone:{alone.text}")

    # Who can help.
    skills: list[Skill] = []
    if emergency:
        for kind in lx.EMERGENCIES:
            if kind in emergencies:
                skills += lx.EMERGENCIES[kind].skills
    skills += entry(category).skills
    # Care skills depend on who is cared for; a strong care word counts even when the
    # message is mainly about something else ("小的发烧…帮我照看一下大的").
    care = [h.start for h in cues if h.rule.category == Category.COMPANIONSHIP]
    if care and (category == Category.COMPANIONSHIP or votes[Category.COMPANIONSHIP] >= 3):
        subject = _subject_near(subjects, care[0])
        if subject == "child":
            skills.append(Skill.CHILD_CARE)
        elif subject == "elder" or category == Category.COMPANIONSHIP:
            skills.append(Skill.ELDER_CARE)
    for hit in cues:
        # Side topics add their skills, except in an emergency ("她在微信上说…").
        side = not emergency and votes.get(hit.rule.category or category, 0) >= 2
        if (hit.rule.category == category or side) and hit not in context:
            skills += hit.rule.skills
    for skill_hit in skill_cues:
        skills += skill_hit.rule.skills
    if transport:
        skills.append(Skill.DRIVING)
    if animal_hurt:
        skills = [Skill.GENERAL]  # whoever can help an animal, not a doctor
    unique = tuple(dict.fromkeys(skills))
    if len(unique) > 1:
        unique = tuple(s for s in unique if s is not Skill.GENERAL)
    unique = unique or (Skill.GENERAL,)

    # How many.
    wanted = helpers_wanted(text)
    if wanted:
        low_count, high_count, said = wanted
        reasons.append(f"count:{said}→{low_count}")
    else:
        low_count = entry(category).helpers
        if "担架" in text:
            low_count = _STRETCHER_HELPERS
        high_count = low_count

    places = place_hints(text)
    return Classification(
        is_request=True,
        category=category,
        urgency=urgency,
        skills=unique,
        helpers_needed=low_count,
        helpers_max=high_count,
        advise_emergency_call=emergency is not None,
        emergency_number=emergency.number if emergency else None,
        notify_property=any(lx.EMERGENCIES[k].notify_property for k in emergencies)
        or (entry(category).property_when_urgent and urgency is Urgency.URGENT)
        # The outage read as context still tells the property when someone is stuck now
        # ("停电了，电梯里困着人，老人下不了楼"), not for a fridge to carry up.
        or (bool(context) and urgency in (Urgency.URGENT, Urgency.CRITICAL)),
        place_hints=PlaceHints(**places),
        advice=advice_for([k for k in lx.EMERGENCIES if k in emergencies]),
        script=script,
        reasons=tuple(reasons[:_MAX_REASONS]),
    )
