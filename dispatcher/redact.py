"""What may leave the process in error text and log lines: never the input that caused them.

Pydantic's `ValidationError` prints `input_value=...` (a whole command, phone included);
`describe` keeps only where and what kind of error. `mask_phones` is the last line of
defence applied to every formatted log line (dispatcher/logs.py).
"""

from __future__ import annotations

import re

from pydantic import ValidationError

# Mainland mobile numbers, optionally with +86 and separators; bounded, no nested repeats.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
# Any long digit run in error text (ids are not made of bare digits; phones and ID cards are).
_DIGITS = re.compile(r"\d{7,}")
MAX_REASON = 500


def mask_phones(text: str) -> str:
    return _MOBILE.sub("[phone]", text)


def describe(exc: BaseException) -> str:
    """A one-line reason naming the exception and where it failed, without input values."""
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"  # msg, never input
            for e in exc.errors(include_input=False, include_url=False)
        ]
        text = f"{exc.error_count()} validation error(s) for {exc.title}: " + "; ".join(parts)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return _DIGITS.sub("[digits]", mask_phones(text.replace("\n", " ")))[:MAX_REASON]
