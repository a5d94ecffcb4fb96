"""The category catalogue: everything the product decides per kind of request, in one table.

The classifier, the escalation ladder, the helper index, the volunteers' pages, the push
texts and the group replies all read it; none keeps a per-category table of its own. A new
category is a `Category` member plus one entry here (and, for the classifier to recognise
it, its words in `dispatcher/classify/lexicon.py`). `tests/unit/test_catalogue.py` adds one
and shows every reader handles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.vocab import (
    EMERGENCY_SERVICES,
    Category,
    EmergencyNumber,
    ReferralTarget,
    Role,
    Skill,
    Urgency,
)

_STAFF: Final = (Role.COMMUNITY_STAFF,)


@dataclass(frozen=True, slots=True)
class CategoryEntry:
    category: Category
    zh: str  # pages, push texts: one label everywhere
    en: str  # the dashboard's English view
    # The classifier's starting point before a message's own words raise or lower it.
    urgency: Urgency = Urgency.NORMAL
    skills: tuple[Skill, ...] = ()
    helpers: int = 1
    # Whom the requester must call when the request is life-threatening; None: 120 (a
    # life-threatening request always names a number, `requests.emergency_number_for`).
    emergency: EmergencyNumber | None = EmergencyNumber.AMBULANCE
    referral: ReferralTarget = ReferralTarget.AMBULANCE  # the ladder's EMERGENCY rung
    whistle_roles: tuple[Role, ...] = _STAFF  # who the WHISTLE rung reaches
    # A critical request of this kind means life or health at risk: tell them to call now.
    life_at_risk: bool = False
    # Its urgency is about time, not life (a computer, an errand, lifting, a repair): the
    # language model's bare "critical" is taken as urgent, since a critical one is told to
    # call 120 (`critical_is_life_threatening`); a red flag of the rules or a call the model
    # advises still makes it critical (`dispatcher/classify/merge.py`). Not `other`, a lost
    # person, a medical kind or companionship: a welfare check the rules miss ("我家老人独居，
    # 一天没接电话了" reads as companionship), called critical by the model, must still be
    # told to call.
    time_not_life: bool = False
    # An urgent one is also the property management's business (a burst pipe).
    property_when_urgent: bool = False
    # From a household with vulnerability tags (dispatcher/core/households.py): the least
    # urgency when someone there is frail (85+, 失能, 残疾), and when they live alone
    # (独居, 孤寡). Any tagged household's request is at least normal.
    frail_urgency: Urgency = Urgency.NORMAL
    alone_urgency: Urgency = Urgency.NORMAL
    # The contact card's button for this kind of need (一户一联络卡); None: no button.
    card_button: str | None = None
    # What a card press of this kind is told first: when to call now ({n}: the number).
    call_when_zh: str = "情况危急请立即拨打{n}！"

    @property
    def critical_is_life_threatening(self) -> bool:
        """Is a critical request of this kind one where life is at risk
        (`requests.life_threatening`)? A kind marked `life_at_risk`, and any whose last rung
        hands it to 120/110/119: unanswered, a critical `other` or errand is referred to 120,
        so its requester is told to call from the start, at intake and at the whistle, not
        first at the referral. Not a repair, handed to property (a critical burst pipe)."""
        return self.life_at_risk or self.referral in EMERGENCY_SERVICES


def _entries(*entries: CategoryEntry) -> dict[Category, CategoryEntry]:
    return {e.category: e for e in entries}


# Order is the classifier's tie-break between categories with equal votes: the more
# time-critical first.
CATALOGUE: Final[dict[Category, CategoryEntry]] = _entries(
    CategoryEntry(
        Category.LOST_PERSON,
        "寻人",
        "lost person",
        urgency=Urgency.URGENT,
        emergency=EmergencyNumber.POLICE,
        referral=ReferralTarget.POLICE,
        frail_urgency=Urgency.URGENT,
    ),
    CategoryEntry(
        Category.FALL,
        "摔倒",
        "fall",
        urgency=Urgency.URGENT,
        skills=(Skill.FIRST_AID, Skill.CARRYING),
        helpers=2,
        life_at_risk=True,
        frail_urgency=Urgency.URGENT,
        alone_urgency=Urgency.URGENT,  # nobody at home to help them up
        card_button="我摔倒了 / 家人摔倒了",
        call_when_zh="摔得起不来、头部受伤、出血或意识不清，请立即拨打{n}！",
    ),
    CategoryEntry(
        Category.HOSPITAL_TRANSPORT,
        "送医",
        "to hospital",
        urgency=Urgency.URGENT,
        skills=(Skill.DRIVING,),
        life_at_risk=True,
        frail_urgency=Urgency.URGENT,
    ),
    CategoryEntry(
        Category.MEDICAL,
        "身体不适",
        "medical",
        urgency=Urgency.URGENT,
        skills=(Skill.DOCTOR, Skill.NURSE),
        life_at_risk=True,
        frail_urgency=Urgency.URGENT,
        card_button="身体不舒服",
        call_when_zh="胸痛、喘不上气、说话不清或意识不清，请立即拨打{n}！",
    ),
    CategoryEntry(
        Category.REPAIR,
        "维修/险情",
        "repair",
        # A life-threatening repair is gas, fire or electricity.
        emergency=EmergencyNumber.FIRE,
        referral=ReferralTarget.PROPERTY,
        whistle_roles=(Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGEMENT),
        property_when_urgent=True,
        time_not_life=True,
    ),
    CategoryEntry(
        Category.CARRYING,
        "搬抬",
        "carrying",
        skills=(Skill.CARRYING,),
        helpers=2,
        time_not_life=True,
    ),
    CategoryEntry(
        Category.ERRAND,
        "跑腿买药",
        "errand",
        skills=(Skill.ERRANDS,),
        time_not_life=True,
        card_button="需要帮忙（买药、跑腿）",
    ),
    CategoryEntry(Category.COMPANIONSHIP, "陪伴照看", "companionship"),
    CategoryEntry(
        Category.TECH_HELP,
        "手机电脑求助",
        "tech help",
        skills=(Skill.TECH_HELP,),
        time_not_life=True,
    ),
    CategoryEntry(Category.OTHER, "其他求助", "other"),
)


def entry(category: Category) -> CategoryEntry:
    return CATALOGUE[category]


def label_zh(value: str) -> str:
    """The Chinese label for a category's wire value (a database row's); unknown: as is."""
    try:
        return CATALOGUE[Category(value)].zh
    except (ValueError, KeyError):
        return value


def labels() -> dict[str, dict[str, str]]:
    """Category value → {"zh": …, "en": …}: what the dashboard shows."""
    return {c.value: {"zh": e.zh, "en": e.en} for c, e in CATALOGUE.items()}
