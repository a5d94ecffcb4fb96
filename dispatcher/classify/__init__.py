"""Is this chat message a help request, and what kind? Pure, deterministic, fast.

    >>> from dispatcher.classify import classify
    >>> classify("我爸突然晕倒了，叫不醒！").emergency_number
    <EmergencyNumber.AMBULANCE: '120'>

Rule tables are compiled at import; `classify` does no I/O. Imports only the standard
library, pydantic and `schemas` (import-linter contract).
"""

from __future__ import annotations

from dispatcher.classify.hanzi import detect_script
from dispatcher.classify.model import Classification, PlaceHints
from dispatcher.classify.normalise import normalise
from dispatcher.classify.rules import classify_normalised
from dispatcher.classify.safety import apply_floor, red_flags
from schemas.vocab import Urgency

__all__ = ["MAX_CHARS", "RULES_CHARS", "Classification", "PlaceHints", "classify", "emergency_in"]

MAX_CHARS = 20_000  # never read past this: work stays bounded whatever a caller sends
RULES_CHARS = 2_000  # the rules read a message's start (the API accepts 2,000 characters)


_NOTHING_SAID = Classification(is_request=False, urgency=Urgency.NORMAL)


def emergency_in(text: str, *, use_model: bool = True) -> Classification:
    """The safety floor alone, for a text whose kind and urgency someone else decided (a
    bot's structured request): with a live red flag, critical with the number and advice
    `classify` would give; else not a request. No category rules, so a fraction of the cost."""
    return apply_floor(normalise(text[:MAX_CHARS]), _NOTHING_SAID, use_model=use_model)


def classify(text: str, *, use_model: bool = True) -> Classification:
    """Classify one chat message (simplified or traditional Chinese, any width).

    The rules read the first RULES_CHARS characters; the safety floor reads all of the
    first MAX_CHARS, so a red flag late in a long message still makes it critical.
    `use_model=False` leaves out the red-flag model (the rule tables alone)."""
    raw = text[:MAX_CHARS]
    folded = normalise(raw)  # once: the rules read its start, the floor all of it
    flags = red_flags(folded)
    # Red flags are found once when the rules read the whole text (the usual case).
    shared = flags if len(folded) <= RULES_CHARS else None
    rules = classify_normalised(folded[:RULES_CHARS], detect_script(raw[:RULES_CHARS]), shared)
    return apply_floor(folded, rules, flags, use_model=use_model)
