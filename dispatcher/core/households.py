"""How a household's vulnerability raises a request's urgency. Pure.

Never lowers: a classifier's or a caller's `critical` stays critical. The rules are the
community workers' own (the seeds' 独居高龄 lists): a frail person's fall or illness cannot
wait for the normal ladder, and someone living alone has nobody at home to wait with them.
"""

from __future__ import annotations

from collections.abc import Collection

from schemas.households import Vulnerability as V
from schemas.vocab import Category, Urgency

_ORDER = (Urgency.LOW, Urgency.NORMAL, Urgency.URGENT, Urgency.CRITICAL)
# Health: someone may be hurt or ill now.
_HEALTH = frozenset({Category.FALL, Category.MEDICAL, Category.HOSPITAL_TRANSPORT})
_FRAIL = frozenset({V.AGED_85_PLUS, V.DISABLED_CARE})
_ALONE = frozenset({V.LIVES_ALONE, V.WIDOWED_CHILDLESS})


def _at_least(urgency: Urgency, floor: Urgency) -> Urgency:
    return max(urgency, floor, key=_ORDER.index)


def household_urgency(
    category: Category, urgency: Urgency, tags: Collection[V]
) -> tuple[Urgency, str | None]:
    """The urgency to dispatch with, and why it was raised (None: unchanged)."""
    frail = not _FRAIL.isdisjoint(tags)
    alone = not _ALONE.isdisjoint(tags)
    floor = Urgency.LOW
    why: str | None = None
    if category in _HEALTH and (frail or (alone and category is Category.FALL)):
        # 独居 + 85+ falling, a 失能 person taken ill: at least urgent.
        floor, why = Urgency.URGENT, "frail or alone: a fall or illness is at least urgent"
    elif category is Category.LOST_PERSON and (frail or V.DISABILITY in tags):
        floor, why = Urgency.URGENT, "a frail or disabled person missing is at least urgent"
    elif frail or alone or V.DISABILITY in tags:
        floor, why = Urgency.NORMAL, "a vulnerable household's everyday need is not left low"
    raised = _at_least(urgency, floor)
    return raised, (why if raised is not urgency else None)
