"""Is this chat message a help request, and what kind? Pure, deterministic, fast.

    >>> from dispatcher.classify import classify
    >>> classify("我爸突然晕倒了，叫不醒！").emergency_number
    <EmergencyNumber.AMBULANCE: '120'>

Rule tables are compiled at import; `classify` does no I/O. Imports only the standard
library, pydantic and `schemas` (import-linter contract).
"""

from __future__ import annotations

from dispatcher.classify.model import Classification, PlaceHints
from dispatcher.classify.normalise import normalise
from dispatcher.classify.rules import classify_text
from dispatcher.classify.safety import apply_floor

__all__ = ["Classification", "PlaceHints", "classify"]


def classify(text: str) -> Classification:
    """Classify one chat message (simplified or traditional Chinese, any width)."""
    return apply_floor(normalise(text), classify_text(text))
