"""How a household's vulnerability raises a request's urgency. Pure.

Never lowers: a classifier's or a caller's `critical` stays critical. The floors are the
catalogue's, per kind of request (`frail_urgency`, `alone_urgency`): a frail person's fall
or illness cannot wait for the normal ladder, and someone living alone who fell has
nobody at home to help them up. Any tagged household's request is at least normal.
"""

from __future__ import annotations

from collections.abc import Collection

from schemas.catalogue import entry
from schemas.households import Vulnerability as V
from schemas.vocab import Category, Urgency

_ORDER = (Urgency.LOW, Urgency.NORMAL, Urgency.URGENT, Urgency.CRITICAL)
FRAIL = frozenset({V.AGED_85_PLUS, V.DISABLED_CARE, V.DISABILITY})
ALONE = frozenset({V.LIVES_ALONE, V.WIDOWED_CHILDLESS})


def household_urgency(
    category: Category, urgency: Urgency, tags: Collection[V]
) -> tuple[Urgency, str | None]:
    """The urgency to dispatch with, and why it was raised (None: unchanged)."""
    if not tags:
        return urgency, None
    kind = entry(category)
    floors = [(Urgency.NORMAL, "a vulnerable household's need is never left low")]
    if not FRAIL.isdisjoint(tags):
        floors.append((kind.frail_urgency, "someone frail (85+, 失能, 残疾)"))
    if not ALONE.isdisjoint(tags):
        floors.append((kind.alone_urgency, "someone living alone (独居, 孤寡)"))
    floor, why = max(floors, key=lambda f: _ORDER.index(f[0]))
    if _ORDER.index(urgency) >= _ORDER.index(floor):
        return urgency, None
    return floor, why
