"""The OpenCC shortcut: a text without any character OpenCC would change is left as it is,
and the answer is always OpenCC's own. Script detection from the same stored sets."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import opencc
import pytest

from dispatcher.classify import classify
from dispatcher.classify.build_hanzi import _CLIB, SETS_PATH, _dict_files, _entries, build
from dispatcher.classify.decisions import corpus_texts
from dispatcher.classify.hanzi import (
    _AMBIGUOUS,
    _CLAUSE_MARKS,
    _CLAUSES_FROM,
    detect_script,
    to_simplified,
    unchanged_by_opencc,
)
from schemas.vocab import EmergencyNumber, Urgency

CORPUS = Path(__file__).resolve().parents[1] / "data" / "classifier_corpus"
TW2SP, T2S, S2T = opencc.OpenCC("tw2sp"), opencc.OpenCC("t2s"), opencc.OpenCC("s2t")
# Every CJK block OpenCC's dictionaries touch: unified, extension A, compatibility, ext. B.
CHARS = [
    chr(code)
    for block in ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2A6E0))
    for code in range(*block)
]


def test_the_stored_sets_are_what_the_installed_opencc_says() -> None:
    stored = json.loads(SETS_PATH.read_text(encoding="utf-8"))
    fresh = build(CORPUS)
    for key in ("opencc", "tw2sp_chars", "tw2sp_phrases", "t2s_changed", "s2t_changed"):
        assert stored[key] == fresh[key], f"{key}: rebuild with `classify build-hanzi`"
    witnesses = set(stored["tw2sp_witnesses"])
    assert all(not witnesses.isdisjoint(phrase) for phrase in stored["tw2sp_phrases"])
    assert len(stored["tw2sp_chars"]) > 4000 and "滑鼠" in stored["tw2sp_phrases"]


def test_the_shortcut_answers_as_opencc_does() -> None:
    texts = corpus_texts(CORPUS) + CHARS
    phrases = json.loads(SETS_PATH.read_text(encoding="utf-8"))["tw2sp_phrases"]
    texts += [f"我家的{phrase}坏了" for phrase in phrases]  # phrases of simplified characters
    assert [t for t in texts if to_simplified(t) != TW2SP.convert(t)] == []
    skipped = [t for t in corpus_texts(CORPUS) if unchanged_by_opencc(t)]
    assert len(skipped) > 500  # most messages never reach OpenCC
    assert to_simplified("我的滑鼠坏了") == "我的鼠标坏了"


def test_no_opencc_key_holds_a_clause_mark(tmp_path: Path) -> None:
    """What lets `to_simplified` send OpenCC only the clauses that change."""
    share = _CLIB / "share" / "opencc"
    spec = json.loads((share / "tw2sp.json").read_text(encoding="utf-8"))
    names = dict.fromkeys(_dict_files(spec))
    keys = [key for name in names for key, _ in _entries(share, name, tmp_path)]
    assert len(keys) > 7000
    marks = re.compile(f"[{_CLAUSE_MARKS}]")
    assert [key for key in keys if marks.search(key)] == []


def test_clause_by_clause_is_what_opencc_gives_for_the_whole() -> None:
    # As `normalise` hands them over (full-width marks folded), run together as in the bench.
    texts = [unicodedata.normalize("NFKC", t) for t in corpus_texts(CORPUS)]
    # 60 at a time: past _CLAUSES_FROM, so these go to OpenCC clause by clause.
    mixed = [",".join(texts[k : k + n]) for n in (3, 9, 60) for k in range(0, len(texts), n)]
    mixed += ["甚至著名.\n滑鼠壞了!我爸暈倒" * 60, "我爸…暈倒、叫不醒~ 鄰居\t快來," + "我们" * 600]
    assert sum(len(t) >= _CLAUSES_FROM for t in mixed) > 10
    assert [t for t in mixed if to_simplified(t) != TW2SP.convert(t)] == []


def _script_by_character(text: str) -> str:
    cjk = {ch for ch in text if "\u4e00" <= ch <= "\u9fff"}
    trad = any(T2S.convert(ch) != ch for ch in cjk)
    simp = any(
        T2S.convert(ch) == ch and ch not in _AMBIGUOUS and S2T.convert(ch) != ch for ch in cjk
    )
    if trad:
        return "mixed" if simp else "traditional"
    return "simplified" if cjk else "unknown"


def test_script_detection_follows_opencc_character_by_character() -> None:
    texts = (
        corpus_texts(CORPUS)[:-1] + [chr(c) for c in range(0x4E00, 0xA000, 7)] + ["邻居們", "hello"]
    )
    assert [t for t in texts if detect_script(t) != _script_by_character(t)] == []


@pytest.mark.parametrize("odd", ["\x00", "\ud800", "\x00著"])
def test_nul_and_lone_surrogates_do_not_hide_what_follows(odd: str) -> None:
    """OpenCC stops at a NUL (dropping the rest) and refuses lone surrogates."""
    for text in (f"鄰居{odd}我爸暈倒了，叫不醒", f"邻居{odd}我爸晕倒了，叫不醒"):
        result = classify(text)
        assert result.urgency is Urgency.CRITICAL, result.reasons
        assert result.emergency_number is EmergencyNumber.AMBULANCE
