"""What text PostgreSQL and Kafka can hold: one rule for every input that reaches them."""

from __future__ import annotations

import re

# Text that reaches PostgreSQL or Kafka: text and jsonb cannot hold U+0000, and UTF-8 no
# lone surrogate (JSON's "\ud800" decodes to one). One rule for every input that gets there
# (API bodies, config documents, the join form, ledger cells); it lives at the bottom
# layer, so schemas and every layer above can share it.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NUL = "must not contain the NUL character (U+0000)"


def unstorable(text: str) -> str | None:
    """Why PostgreSQL or Kafka could not hold `text`, or None."""
    if text.isascii():  # most fields (ids, numbers): no surrogate, a substring search
        return _NUL if "\x00" in text else None
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return _NUL
    return f"must not contain a lone surrogate (U+{ord(found.group()):04X})"


_SEQUENCES = (list, tuple, set, frozenset)
_WALKED = (dict, *_SEQUENCES)  # tuples: isinstance is faster with them than with unions
_Path = tuple["_Path", object] | None  # (parent, key): cheap to extend, joined only to report


def _joined(path: _Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(str(key))
    return ".".join(reversed(parts))


def unstorable_in(value: object) -> str | None:
    """The first string anywhere in `value` (lists, tuples, sets, dict keys and values) that
    `unstorable` refuses: "where: why" ("why" alone for a string), or None. Iterative: a deep
    document cannot exhaust the stack."""
    if isinstance(value, str):  # the common case, on every field of every API body
        return unstorable(value)
    if not isinstance(value, _WALKED):
        return None
    todo: list[tuple[_Path, object]] = [(None, value)]
    while todo:
        path, item = todo.pop()
        if isinstance(item, str):
            if why := unstorable(item):
                return f"{_joined(path)}: {why}" if path is not None else why
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and (why := unstorable(key)):
                    return f"a key in {_joined(path) or 'the document'}: {why}"
                todo.append(((path, key), inner))
        elif isinstance(item, _SEQUENCES):
            todo.extend(((path, i), inner) for i, inner in enumerate(item))
    return None
