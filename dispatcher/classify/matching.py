"""Compile a rule table into one regex and find its non-negated hits in a message.

One alternation per table keeps a message to a handful of regex scans (microseconds);
longer patterns are tried first so "手机卡" (errand) wins over "手机" (tech help).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

T = TypeVar("T")

# A negator, then at most three characters of the same clause, then the cue:
# 没有人受伤, 不是急事, 不需要帮忙. Look-behinds keep questions (有没有, 是不是, 需不需要,
# 用不用) from reading as negations.
_NEGATION: Final = re.compile(
    r"(?:(?<!有)没有|(?<!是)不是|(?<!用)不用|(?<!需)不需要|(?<!要)不要|无需|不必|并非|无人|"
    r"(?<!有)没(?!有)|(?<![特分区级个性类差告])别(?![人的]))"
    r"[^,.!?;:~\"'()\[\]【】\s]{0,3}$"
)
_LOOKBACK: Final = 10
# Inner groups of a rule become non-capturing so `lastgroup` always names the rule.
_UNNAMED_GROUP: Final = re.compile(r"(?<!\\)\((?!\?)")


def is_negated(text: str, start: int) -> bool:
    return _NEGATION.search(text, max(0, start - _LOOKBACK), start) is not None


@dataclass(frozen=True, slots=True)
class Hit(Generic[T]):
    rule: T
    start: int
    end: int
    text: str
    negated: bool


class Table(Generic[T]):
    """Rules of one kind; `pattern_of` says which regex each rule carries."""

    def __init__(self, rules: Sequence[tuple[str, T]]) -> None:
        ordered = sorted(enumerate(rules), key=lambda item: -len(item[1][0]))
        self._rules: list[T] = [rule for _, (_, rule) in ordered]
        alternatives = [
            f"(?P<r{i}>{_UNNAMED_GROUP.sub('(?:', pattern)})"
            for i, (_, (pattern, _)) in enumerate(ordered)
        ]
        self._regex = re.compile("|".join(alternatives)) if alternatives else None
        # The same alternation without names: named groups hide the alternatives' first
        # characters from `re`, which then tries every rule at every position (40x slower).
        # The unnamed one finds where a hit starts; the named one, tried only there, says
        # which rule it is (same alternatives, same order: the same match).
        plain = [_UNNAMED_GROUP.sub("(?:", pattern) for _, (pattern, _) in ordered]
        self._find = re.compile("|".join(plain)) if plain else None

    def hits(self, text: str, limit: int | None = None) -> list[Hit[T]]:
        """Hits in order; at most `limit` of them (a long message full of cues stays cheap)."""
        if self._regex is None or self._find is None:
            return []
        found: list[Hit[T]] = []
        for located in self._find.finditer(text):
            if limit is not None and len(found) >= limit:
                break
            match = self._regex.match(text, located.start())
            group = match.lastgroup if match else None
            if match is None or group is None:  # pragma: no cover - same alternatives
                continue
            found.append(
                Hit(
                    rule=self._rules[int(group[1:])],
                    start=match.start(),
                    end=match.end(),
                    text=match.group(),
                    negated=is_negated(text, match.start()),
                )
            )
        return found


class Signal:
    """A plain list of patterns whose only question is: where does it occur?"""

    def __init__(self, name: str, patterns: Sequence[str]) -> None:
        self.name = name
        self._table: Table[str] = Table([(p, name) for p in patterns])

    def hits(self, text: str, *, keep_negated: bool = False) -> list[Hit[str]]:
        return [h for h in self._table.hits(text) if keep_negated or not h.negated]

    def first(self, text: str) -> Hit[str] | None:
        found = self.hits(text)
        return found[0] if found else None
