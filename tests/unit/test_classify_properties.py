"""Property tests: classify never raises, its output always validates, it is deterministic."""

from __future__ import annotations

import importlib
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.classify import Classification, classify
from dispatcher.classify.hanzi import to_simplified
from dispatcher.classify.lexicon import EMERGENCIES

# The module, not the function `dispatcher.classify` re-exports under the same name.
nm = importlib.import_module("dispatcher.classify.normalise")

# Arbitrary unicode, plus text built from the words the rules look at, so the property
# runs through the interesting branches and not only through "no rule fired".
_WORDS = st.sampled_from(
    str.split(
        "谁能 帮忙 晕倒 没有 不是 不需要 通知 感谢 3号楼 二单元 四楼 三四个人 着火 煤气味 孩子 "
        "走丢 老人 迷路 狗 丢了 买药 搬 漏水 不急 明天 救命 有没有 ？ ！ ， 。 🆘 ５ 號樓 鄰居 醫院"
    )
)
_TEXT = st.one_of(st.text(), st.lists(_WORDS | st.text(max_size=3), max_size=12).map("".join))


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_classify_never_raises_and_output_validates(text: str) -> None:
    result = classify(text)
    again = Classification.model_validate_json(result.model_dump_json())
    assert again == result
    assert result == classify(text)
    assert result.helpers_needed >= 1
    if result.advise_emergency_call:
        assert result.is_request and result.urgency == "critical" and result.advice
    if result.emergency_number is not None:
        assert any(e.number == result.emergency_number for e in EMERGENCIES.values())


def _plain_normalise(text: str) -> str:
    """`normalise` without its shortcuts (NFKC quick check, no-whitespace path)."""
    folded = unicodedata.normalize("NFKC", text)
    folded = nm._LONG_DIGITS.sub(lambda m: m.group()[: nm._KEPT_DIGITS], folded)
    folded = nm._PINYIN_GLOSS.sub("", folded)
    folded = nm._INVISIBLE.sub("", folded)
    folded = to_simplified(folded).casefold()
    folded = folded.translate(str.maketrans(dict(nm._PUNCT)))
    folded = nm._SPACE.sub(nm._fold_space, folded.strip())
    folded = nm._KEEP_SPACE.sub(nm._SPACE_MARK, folded).replace(" ", "")
    return folded.replace(nm._SPACE_MARK, " ")


# Full-width forms, combining marks after them, every kind of space, pinyin glosses.
_FORMS = st.sampled_from(
    list("，！？：；（）　Ａａ１́̈\u00a0\u2003\u2028\n\t ()現xiàn著甚至。、…～「」")
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_TEXT, st.lists(_FORMS | _WORDS, max_size=20).map("".join)))
def test_normalise_shortcuts_change_nothing(text: str) -> None:
    assert nm.normalise(text) == _plain_normalise(text)
