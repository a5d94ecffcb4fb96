"""Property tests: classify never raises, its output always validates, it is deterministic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.classify import Classification, classify
from dispatcher.classify.lexicon import EMERGENCIES

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
