"""Compile a rule table into one regex and find its non-negated hits in a message.

One alternation per table keeps a message to a handful of regex scans (microseconds);
longer patterns are tried first so "手机卡" (errand) wins over "手机" (tech help).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import islice
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Final, Generic, NamedTuple, TypeVar

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


# Every negator starts with one of these: most hits have none before them, and one scan of
# a character class is cheaper than trying the look-behind alternation at each position.
_NEGATOR_START: Final = re.compile("[没不无并别]")


def is_negated(text: str, start: int) -> bool:
    lo = max(0, start - _LOOKBACK)
    if _NEGATOR_START.search(text, lo, start) is None:
        return False
    return _NEGATION.search(text, lo, start) is not None


class Hit(NamedTuple, Generic[T]):
    rule: T
    start: int
    end: int
    text: str
    negated: bool


# Rewrites of a rule's start into alternatives that each start with a fixed character
# (same matches, same order of trial), so `re` can skip to them:
# "(?:a|b)rest" → a rest, b rest;  "(?:a)?rest" → a rest, rest;
# "(?<!x)c rest" → c(?<!xc) rest;  "\d{1,n}rest" → 0\d{0,n-1}rest … 9\d{0,n-1}rest.
_PLAIN = r"[^()|\\\[\]{}?*+.^$]{1,40}"
_LEADING_GROUP: Final = re.compile(rf"\(\?:((?:{_PLAIN}\|){{0,80}}{_PLAIN})\)(\??)(?![*+{{])")
_LEADING_LOOKBEHINDS: Final = re.compile(rf"((?:\(\?<!{_PLAIN}\)){{1,4}})([^()|\\\[\]{{}}?*+.^$])")
_LEADING_DIGITS: Final = re.compile(r"\\d\{1,(\d)\}")
_MAX_EXPANSION: Final = 64


def _expand(pattern: str, depth: int = 0) -> list[str]:
    if depth > 4:
        return [pattern]
    if group := _LEADING_GROUP.match(pattern):
        rest = pattern[group.end() :]
        heads = group.group(1).split("|") + ([""] if group.group(2) else [])
        expanded = [e for head in heads for e in _expand(head + rest, depth + 1)]
    elif behind := _LEADING_LOOKBEHINDS.match(pattern):
        char = behind.group(2)
        shifted = "".join(
            f"(?<!{inner}{char})" for inner in re.findall(r"\(\?<!([^)]*)\)", behind.group(1))
        )
        return [char + shifted + pattern[behind.end() :]]
    elif digits := _LEADING_DIGITS.match(pattern):
        width = int(digits.group(1))
        rest = pattern[digits.end() :]
        return [f"{d}\\d{{0,{width - 1}}}{rest}" for d in "0123456789"]
    else:
        return [pattern]
    return expanded if len(expanded) <= _MAX_EXPANSION else [pattern]


def _first_literal(pattern: str) -> str | None:
    """The character every match of `pattern` starts with, if there is one."""
    parsed = sre_parse.parse(pattern)
    if parsed.data and parsed.data[0][0] is sre_parse.LITERAL:
        return chr(parsed.data[0][1])
    return None


# At a position where some rule's first character stands, `re` tries the alternation's
# branches one by one; with a few hundred first characters that walk is most of a scan. A
# big table is therefore split into a tree of character-class look-aheads (four ways, down
# to sixteen first characters), so each position costs a few class checks and one short
# walk. Small tables stay one flat alternation, which `re` skips through faster.
_FLAT_UP_TO: Final = 64
_FAN_OUT: Final = 4
_LEAF: Final = 16


def _tree(chars: list[str], grouped: dict[str, str]) -> str:
    if len(chars) <= _LEAF:
        return "|".join(grouped[ch] for ch in chars)
    size = -(-len(chars) // _FAN_OUT)
    parts = [chars[i : i + size] for i in range(0, len(chars), size)]
    return "|".join(f"(?=[{re.escape(''.join(part))}])(?:{_tree(part, grouped)})" for part in parts)


def dispatch(grouped: dict[str, str]) -> str:
    """One pattern matching what the alternation of `grouped`'s values matches, where each
    value's matches start with its key (so at most one value can match at a position)."""
    if len(grouped) <= _FLAT_UP_TO:
        return "|".join(grouped.values())
    chars = sorted(grouped)
    return f"(?=[{re.escape(''.join(chars))}])(?:{_tree(chars, grouped)})"


class Table(Generic[T]):
    """Rules of one kind, matched as one alternation: leftmost hit first, then the first
    rule (longest pattern) that matches there, then on after its end.

    `re` scans a plain alternation fast only when every alternative starts with a fixed
    character (it then skips to those characters); one rule starting with "(疼|痛)" or a
    look-behind makes it try every rule at every position. So the rules are split: those
    with a fixed first character in one regex, the others in another; the leftmost start
    of either is where the alternation would match, and the rules that can start with that
    character, in order, say which rule it is. Same hits, several times faster.
    """

    def __init__(self, rules: Sequence[tuple[str, T]]) -> None:
        ordered = sorted(enumerate(rules), key=lambda item: -len(item[1][0]))
        self._rules: list[T] = [rule for _, (_, rule) in ordered]
        # (pattern, rule index), in the alternation's order, starts rewritten by `_expand`.
        alternatives = [
            (expanded, index)
            for index, (_, (pattern, _)) in enumerate(ordered)
            for expanded in _expand(_UNNAMED_GROUP.sub("(?:", pattern))
        ]
        self._each = [re.compile(pattern) for pattern, _ in alternatives]
        self._rule_of = [index for _, index in alternatives]
        by_first: dict[str, list[int]] = defaultdict(list)
        anywhere: list[int] = []
        for position, (pattern, _) in enumerate(alternatives):
            first = _first_literal(pattern)
            if first is None:
                anywhere.append(position)
            else:
                by_first[first].append(position)
        self._anywhere = anywhere
        self._candidates = {ch: sorted(ids + anywhere) for ch, ids in by_first.items()}
        # First characters all of whose alternatives belong to one rule (every character of
        # a Signal): a match there needs no second look to know its rule.
        self._one_rule = {
            ch: self._rules[self._rule_of[ids[0]]]
            for ch, ids in self._candidates.items()
            if len({self._rule_of[i] for i in ids}) == 1
        }
        # The fixed-start finder groups alternatives by their first character ("电(?:脑|线…)"):
        # `re` then checks each first character once per position, not every alternative.
        # Alternatives with different first characters never match at the same position,
        # so the grouping changes no match.
        grouped = {
            ch: f"{re.escape(ch)}(?:{'|'.join(alternatives[i][0][1:] for i in ids)})"
            if all(alternatives[i][0][0] == ch for i in ids)
            else "|".join(alternatives[i][0] for i in ids)
            for ch, ids in by_first.items()
        }
        finders = [dispatch(grouped), "|".join(alternatives[i][0] for i in anywhere)]
        self._finders = [re.compile(f) for f in finders if f]

    def _rule_at(self, text: str, start: int) -> T:
        """The rule of the one finder's match at `start` (the first alternative, in order,
        that matches there)."""
        ch = text[start]
        if ch in self._one_rule:
            return self._one_rule[ch]
        each = self._each
        position = next(p for p in self._candidates[ch] if each[p].match(text, start))
        return self._rules[self._rule_of[position]]

    def first_live(self, text: str) -> Hit[T] | None:
        """The first hit that is not negated (the hits before it are not built)."""
        if len(self._finders) != 1 or self._anywhere:
            return next((h for h in self.iter_hits(text) if not h.negated), None)
        for found in self._finders[0].finditer(text):
            start = found.start()
            if not is_negated(text, start):
                return Hit(self._rule_at(text, start), start, found.end(), found.group(), False)
        return None

    def _identify(self, text: str, start: int) -> tuple[re.Match[str], int] | None:
        for position in self._candidates.get(text[start], self._anywhere):
            match = self._each[position].match(text, start)
            if match is not None:
                return match, self._rule_of[position]
        return None  # pragma: no cover - a finder matched here, so some rule does

    def hits(self, text: str, limit: int | None = None) -> list[Hit[T]]:
        """Hits in order; at most `limit` of them (a long message full of cues stays cheap)."""
        return list(islice(self.iter_hits(text), limit))

    def iter_hits(self, text: str) -> Iterator[Hit[T]]:
        """Hits in order, found as they are asked for."""
        if len(self._finders) == 1 and not self._anywhere:
            # One finder whose matches are exactly the hits: no re-search between hits.
            for found in self._finders[0].finditer(text):
                start = found.start()
                yield Hit(
                    self._rule_at(text, start),
                    start,
                    found.end(),
                    found.group(),
                    is_negated(text, start),
                )
            return
        ahead = [finder.search(text) for finder in self._finders]
        pos = 0
        while True:
            for k, match in enumerate(ahead):
                if match is not None and match.start() < pos:
                    ahead[k] = self._finders[k].search(text, pos)
            starts = [m.start() for m in ahead if m is not None]
            if not starts:
                return
            start = min(starts)
            identified = self._identify(text, start)
            if identified is None:  # pragma: no cover
                pos = start + 1
                continue
            match, index = identified
            yield Hit(
                self._rules[index], start, match.end(), match.group(), is_negated(text, start)
            )
            pos = max(match.end(), start + 1)


class LazyHits(Generic[T]):
    """Hits read from a table only as far as a question needs them ("is there one?", "the
    first three", "those before position p"): a long message rarely needs them all."""

    def __init__(self, hits: Iterator[Hit[T]]) -> None:
        self._hits = hits
        self._seen: list[Hit[T]] = []
        self._done = False

    def _read(self) -> bool:
        hit = None if self._done else next(self._hits, None)
        if hit is None:
            self._done = True
            return False
        self._seen.append(hit)
        return True

    def head(self, count: int) -> list[Hit[T]]:
        while len(self._seen) < count and self._read():
            pass
        return self._seen[:count]

    def before(self, position: int) -> list[Hit[T]]:
        """Every hit that starts before `position`."""
        while (not self._seen or self._seen[-1].start < position) and self._read():
            pass
        return [h for h in self._seen if h.start < position]

    def all(self) -> list[Hit[T]]:
        while self._read():
            pass
        return self._seen


class Signal:
    """A plain list of patterns whose only question is: where does it occur?"""

    def __init__(self, name: str, patterns: Sequence[str]) -> None:
        self.name = name
        self._table: Table[str] = Table([(p, name) for p in patterns])

    def hits(self, text: str, *, keep_negated: bool = False) -> list[Hit[str]]:
        return [h for h in self._table.hits(text) if keep_negated or not h.negated]

    def first(self, text: str) -> Hit[str] | None:
        return self._table.first_live(text)

    def lazy(self, text: str) -> LazyHits[str]:
        """The non-negated hits, found as they are asked for."""
        return LazyHits(h for h in self._table.iter_hits(text) if not h.negated)
