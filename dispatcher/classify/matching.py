"""Find a rule table's hits in a message: leftmost first, the first rule that matches there.

One pass over the message (`Scanner`: an Aho-Corasick automaton of the fixed words every
table's rules start with) finds where a rule could start; each table then tries its rules
only there. Longer patterns are tried first so "手机卡" (errand) wins over "手机" (tech help)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from itertools import count, islice
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Final, Generic, NamedTuple, TypeVar

import ahocorasick_rs

T = TypeVar("T")

# A negator, then at most three characters of the same clause, then the cue:
# 没有人受伤, 不是急事, 不需要帮忙. Look-behinds keep questions (有没有, 是不是, 需不需要,
# 用不用) from reading as negations.
_NEGATOR_WORD: Final = (
    r"(?<!有)没有|(?<!是)不是|(?<!用)不用|(?<!需)不需要|(?<!要)不要|无需|不必|并非|无人|"
    r"(?<![特分区级个性类差告])别(?![人的])"
)
_SAME_CLAUSE: Final = r"[^,.!?;:~\"'()\[\]【】\s]"
_NEGATION: Final = re.compile(rf"(?:{_NEGATOR_WORD}|(?<!有)没(?!有)){_SAME_CLAUSE}{{0,3}}$")
# A red flag asks more. A bare 没 mostly starts a verb of its own ("没看住掉水里了", "没多久
# 胸口疼", "没吃饭晕倒了": they tell of one), so it negates only right before the flag, one
# character at most between ("没晕倒", "没人晕倒", "没再抽"), or after a verb of noticing
# ("没听说着火"). Other negators keep three characters ("没有一个人晕倒", "不要让孩子掉水里").
# Never 没到/没等/没注意… ("没到预产期就要生了": before the due date, "没有看住": not watched).
_NOT_NEGATING: Final = r"(?!到|等|想到|注意|留神|看住|看好|站稳|多久|一会|过多久|过一会)"
_NOTICING: Final = r"听说|听到|看到|看见|发现|见到"
_RED_FLAG_NEGATION: Final = re.compile(
    rf"(?:(?:{_NEGATOR_WORD}){_NOT_NEGATING}{_SAME_CLAUSE}{{0,3}}"
    rf"|(?<!有)没(?!有){_NOT_NEGATING}{_SAME_CLAUSE}?"
    rf"|(?<!有)没(?:{_NOTICING}){_SAME_CLAUSE}{{0,2}})$"
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


def is_red_flag_negated(text: str, start: int) -> bool:
    """Whether a red flag at `start` is negated (`_RED_FLAG_NEGATION`)."""
    lo = max(0, start - _LOOKBACK)
    if _NEGATOR_START.search(text, lo, start) is None:
        return False
    return _RED_FLAG_NEGATION.search(text, lo, start) is not None


class Hit(NamedTuple, Generic[T]):
    rule: T
    start: int
    end: int
    text: str
    negated: bool


_new_hit: Final = tuple.__new__


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


_MAX_WORDS: Final = 64


def _words(items: Sequence[tuple[Any, Any]]) -> list[str] | None:
    """Every string a sequence of parsed regex items matches, in the order `re` tries them,
    when that is a short list of fixed words (else None)."""
    words = [""]
    for item in items:
        options = _item_words(item)
        if options is None or len(words) * len(options) > _MAX_WORDS:
            return None
        words = [w + o for w in words for o in options]  # `re` backtracks the last item first
    return words


def _item_words(item: tuple[Any, Any]) -> list[str] | None:
    op, value = item
    if op is sre_parse.LITERAL:
        return [chr(value)]
    if op is sre_parse.IN:
        chars = [chr(v) for o, v in value if o is sre_parse.LITERAL]
        return chars if len(chars) == len(value) else None
    if op is sre_parse.BRANCH:
        branches = [_words(b) for b in value[1]]
        if any(b is None for b in branches):
            return None
        return [w for b in branches for w in b or ()]
    if op is sre_parse.SUBPATTERN:
        _, add, remove, inner = value
        return None if add or remove else _words(inner)
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return [""]  # reads around, matches no character ("有(?<!谁有)空": words 有空…)
    if op is sre_parse.MAX_REPEAT:
        low, high, inner = value
        once = _words(inner)
        if once is None or high > 3:
            return None
        return _greedy(once, low, high)
    return None


def _greedy(once: list[str], low: int, high: int) -> list[str] | None:
    """A greedy repeat tries one more before stopping, each option in turn: x{0,1} → x, ""."""
    if high == 0:
        return [""]
    more = _greedy(once, max(low - 1, 0), high - 1)
    if more is None or len(once) * len(more) > _MAX_WORDS:
        return None
    return [o + m for o in once for m in more] + ([""] if low == 0 else [])


_LOOKAROUND: Final = re.compile(r"\(\?<?[=!]")


def _anchors(pattern: str) -> tuple[list[str], bool]:
    """Fixed words every match of `pattern` starts with (in the order `re` tries them), and
    whether they are all of it (the pattern matches exactly these words)."""
    items = list(sre_parse.parse(pattern).data)
    for cut in range(len(items), 0, -1):
        words = _words(items[:cut])
        if words is not None and all(words):
            return words, cut == len(items) and not _LOOKAROUND.search(pattern)
    return [], False


# For a big alternation still scanned by `re` (OpenCC's phrases in `hanzi`): at a position
# where some branch's first character stands, `re` tries the branches one by one; with a
# few hundred first characters that walk is most of a scan. A big one is therefore split
# into a tree of character-class look-aheads (four ways, down to sixteen first characters),
# so each position costs a few class checks and one short walk. Small ones stay one flat
# alternation, which `re` skips through faster.
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


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_KEPT_TEXTS: Final = 2  # the floor reads a long message whole, the rules its start


class Scanner:
    """One pass over a message for the fixed words every table's rules start with.

    Scanned by `re`, a big alternation tries its branches one by one at each position where
    one may start, and a message meets some twenty-five tables; an automaton per table
    still reads the text once per table. Here one Aho-Corasick automaton (`ahocorasick_rs`)
    of every table's words, built once, reads the text once and says, for each table, where
    its words stand. What it found is kept for the last text, per thread (for the last two
    long ones): the rules and the floor ask many tables about the same text.
    """

    def __init__(self) -> None:
        self._words: list[list[tuple[str, int]]] = []  # per table: (word, alternative)
        self._built: _Built | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def join(self, words: list[tuple[str, int]]) -> int:
        """Add a table's words (each with the alternative it starts); the table's id."""
        with self._lock:
            self._words.append(words)
            self._built = None  # rebuilt with the new table at the next scan
            return len(self._words) - 1

    def _automaton(self) -> _Built:
        built = self._built
        if built is None:
            with self._lock:
                index: dict[str, int] = {}
                owners: list[list[tuple[int, int]]] = []  # per word: (table, alternative)
                for table, words in enumerate(self._words):
                    for word, position in words:
                        if word not in index:
                            index[word] = len(owners)
                            owners.append([])
                        owners[index[word]].append((table, position))
                automaton = ahocorasick_rs.AhoCorasick(
                    list(index), implementation=ahocorasick_rs.Implementation.ContiguousNFA
                )
                built = self._built = (automaton, owners, max(map(len, index), default=1))
        return built

    def places(self, text: str, table: int) -> Iterable[int]:
        """Wherever a word of `table` stands in `text`, as start << _POSITION_BITS | the
        alternative it starts (one small number each: cheap to make and sort): by start, then
        in the table's order of trial."""
        last: tuple[_Built, str, dict[int, list[int]]] | None = getattr(self._local, "last", None)
        if last is not None and last[1] == text and last[0] is self._built:
            return last[2].get(table, _NOWHERE)  # the same text as the last question
        built = self._built or self._automaton()
        if len(text) > _CHUNK:
            return self._long_places(built, text, table)
        found = _read_chunk(built, text, 0)
        self._local.last = (built, text, found)
        return found.get(table, _NOWHERE)

    def _long_places(self, built: _Built, text: str, table: int) -> Iterator[int]:
        """A long text is read a chunk at a time, as far as a table is asked (the floor
        reads 20,000 characters, and often stops early)."""
        local = self._local
        if getattr(local, "built", None) is not built:
            local.built, local.kept = built, {}
        kept: dict[str, list[dict[int, list[int]]]] = local.kept
        chunks = kept.get(text)
        if chunks is None:
            if len(kept) >= _KEPT_TEXTS:
                kept.clear()
            chunks = kept[text] = []
        for k in count():
            if k == len(chunks):
                if k * _CHUNK >= len(text):
                    return
                chunks.append(_read_chunk(built, text, k * _CHUNK))
            yield from chunks[k].get(table, _NOWHERE)


def _read_chunk(built: _Built, text: str, low: int) -> dict[int, list[int]]:
    """Per table, the places of words that start in text[low : low + _CHUNK]."""
    automaton, owners, longest = built
    high = low + _CHUNK
    window = text if low == 0 and high >= len(text) else text[low : high + longest - 1]
    found: dict[int, list[int]] = {}
    for word, start, _ in _matches(automaton, window):
        if start + low >= high:
            continue  # the next chunk's
        place = (start + low) << _POSITION_BITS
        for owner, position in owners[word]:
            if owner in found:
                found[owner].append(place | position)
            else:
                found[owner] = [place | position]
    for each in found.values():
        each.sort()
    return found


_Built = tuple[ahocorasick_rs.AhoCorasick, list[list[tuple[int, int]]], int]
_CHUNK: Final = 4096
_NOWHERE: Final[list[int]] = []
_POSITION_BITS: Final = 16
_POSITION_MASK: Final = (1 << _POSITION_BITS) - 1


def _matches(automaton: ahocorasick_rs.AhoCorasick, text: str) -> list[tuple[int, int, int]]:
    try:
        return automaton.find_matches_as_indexes(text, overlapping=True)
    except UnicodeEncodeError:  # a lone surrogate (in no word): same length, in UTF-8
        return automaton.find_matches_as_indexes(_SURROGATE.sub("\ufffd", text), overlapping=True)


SCANNER: Final = Scanner()


class Table(Generic[T]):
    """Rules of one kind, matched like one alternation of them: leftmost hit first, then the
    first rule (longest pattern) that matches there, then on after its end.

    Every rule's start is rewritten (`_expand`) into alternatives that each begin with fixed
    words (`_anchors`). A match can start only where one of its words stands, so trying the
    alternatives found at each such place (`Scanner`), in order, finds what the alternation
    finds. An alternative that is a fixed word needs no regex: where it stands, it matches.
    """

    def __init__(self, rules: Sequence[tuple[str, T]], scanner: Scanner = SCANNER) -> None:
        ordered = sorted(enumerate(rules), key=lambda item: -len(item[1][0]))
        rules_in_order: list[T] = [rule for _, (_, rule) in ordered]
        # (pattern, rule), in the alternation's order, starts rewritten by `_expand`.
        alternatives = [
            (expanded, rules_in_order[index])
            for index, (_, (pattern, _)) in enumerate(ordered)
            for expanded in _expand(_UNNAMED_GROUP.sub("(?:", pattern))
        ]
        # An alternative that is a few fixed words becomes one alternative per word, in the
        # order `re` tries them; any other stays one regex, tried where one of its words stands.
        self._rule: list[T] = []
        self._length: list[int] = []  # of the fixed word; 0: the regex decides
        self._each: list[re.Pattern[str] | None] = []
        words: list[tuple[str, int]] = []
        for pattern, rule in alternatives:
            anchors, whole = _anchors(pattern)
            if not anchors:
                raise ValueError(f"a rule must start with a fixed character: {pattern!r}")
            if whole:
                words += [(word, len(self._rule) + k) for k, word in enumerate(anchors)]
                self._rule += [rule] * len(anchors)
                self._length += [len(word) for word in anchors]
                self._each += [None] * len(anchors)
            else:
                # A word that extends another ("修好" after "修") finds no other place.
                shortest = [
                    w for w in anchors if not any(w.startswith(v) for v in anchors if v != w)
                ]
                words += [(word, len(self._rule)) for word in shortest]
                self._rule.append(rule)
                self._length.append(0)
                self._each.append(re.compile(pattern))
        self._scanner = scanner
        if len(self._rule) > _POSITION_MASK:
            raise ValueError(f"too many alternatives for one table: {len(self._rule)}")
        self._id = scanner.join(words)

    def first_live(self, text: str) -> Hit[T] | None:
        """The first hit that is not negated (the hits after it are not looked for)."""
        places = self._scanner.places(text, self._id)
        if not places:
            return None  # most tables asked about a message have no word in it
        return next((h for h in self._hits_at(text, places) if not h.negated), None)

    def hits(self, text: str, limit: int | None = None) -> list[Hit[T]]:
        """Hits in order; at most `limit` of them (a long message full of cues stays cheap)."""
        return list(islice(self.iter_hits(text), limit))

    def iter_hits(self, text: str) -> Iterator[Hit[T]]:
        """Hits in order, found as they are asked for."""
        return self._hits_at(text, self._scanner.places(text, self._id))

    def _hits_at(self, text: str, places: Iterable[int]) -> Iterator[Hit[T]]:
        length, each, rule = self._length, self._each, self._rule
        after = 0  # where the last hit ended: the next starts there or later
        for place in places:
            start = place >> _POSITION_BITS
            if start < after:
                continue
            position = place & _POSITION_MASK
            end = start + length[position]
            if end == start:
                match = each[position].match(text, start)  # type: ignore[union-attr]
                if match is None:
                    continue
                end = match.end()
            after = end
            # tuple.__new__ directly: a NamedTuple's own __new__ is one more Python call per hit.
            yield _new_hit(
                Hit, (rule[position], start, end, text[start:end], is_negated(text, start))
            )


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

    _made: Final[dict[tuple[str, tuple[str, ...]], Table[str]]] = {}

    def __init__(self, name: str, patterns: Sequence[str]) -> None:
        self.name = name
        # The same list read in two modules (the rules and the floor) is one table.
        key = (name, tuple(patterns))
        if key not in self._made:
            self._made[key] = Table([(p, name) for p in patterns])
        self._table = self._made[key]

    def hits(self, text: str, *, keep_negated: bool = False) -> list[Hit[str]]:
        return [h for h in self._table.hits(text) if keep_negated or not h.negated]

    def first(self, text: str) -> Hit[str] | None:
        return self._table.first_live(text)

    def lazy(self, text: str) -> LazyHits[str]:
        """The non-negated hits, found as they are asked for."""
        return LazyHits(h for h in self._table.iter_hits(text) if not h.negated)
