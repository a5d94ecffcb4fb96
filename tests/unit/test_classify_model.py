"""The red-flag n-gram model: shipped, loaded without scikit-learn, and only ever raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatcher.classify import classify
from dispatcher.classify.cli import main
from dispatcher.classify.normalise import normalise
from dispatcher.classify.redflag_model import (
    MODEL_PATH,
    RedFlagModel,
    _codes,
    _keys,
    load_model,
    ngrams,
)
from dispatcher.classify.safety import apply_floor, model_flag
from dispatcher.classify.train_model import TRAINING_FILES
from schemas.vocab import Urgency


def test_the_model_is_shipped_and_never_trained_on_the_test_split() -> None:
    model = load_model()
    assert model is not None and MODEL_PATH.stat().st_size < 1_000_000
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert "test" not in data["trained_on"] and "test" not in TRAINING_FILES
    assert set(model.classes) == {"110", "119", "120", "none"} and 0 < model.threshold < 1


def test_ngrams() -> None:
    assert ngrams("胸口疼") == {"胸", "口", "疼", "胸口", "口疼", "胸口疼"}


@pytest.mark.parametrize(("low", "high"), [(1, 1), (1, 3), (2, 3), (3, 3)])
@pytest.mark.parametrize("text", ["", "胸", "胸口", "胸口疼得厉害😣", "a b"])
def test_ngram_numbers_are_the_ngrams(text: str, low: int, high: int) -> None:
    """The numbers the model looks up are exactly `ngrams`' n-grams, one per occurrence."""
    numbers = _keys(_codes(text), low, high).tolist()

    def number(gram: str) -> int:  # each code point + 1 in 21 bits, the first highest
        return sum((ord(ch) + 1) << (21 * (len(gram) - 1 - k)) for k, ch in enumerate(gram))

    expected = [
        number(text[i : i + n]) for n in range(low, high + 1) for i in range(len(text) - n + 1)
    ]
    assert numbers == expected
    assert len(set(numbers)) == len(ngrams(text, low, high))


def test_a_toy_model_scores_by_its_weights() -> None:
    toy = RedFlagModel(
        {
            "classes": ["110", "119", "120", "none"],
            "intercept": [0.0, 0.0, 0.0, 2.0],
            "weights": {"心口": [0.0, 0.0, 6.0, 0.0]},
            "threshold": 0.5,
            "ngram_range": [1, 3],
        }
    )
    verdict = toy.verdict("心口那里不舒服")
    assert verdict is not None and verdict.number == "120" and verdict.probability > 0.9
    assert toy.verdict("今天天气不错") is None


def test_a_paraphrase_the_tables_miss_is_raised_by_the_model() -> None:
    text = normalise("我爸说心脏那里疼得受不了")
    found = model_flag(text)
    assert found is not None and found[0] == "medical" and found[1].startswith("model:120:")
    result = classify("我爸说心脏那里疼得受不了")
    assert result.urgency is Urgency.CRITICAL and result.emergency_number == "120"


@pytest.mark.parametrize("text", ["今天天气真好，大家早上好", "谢谢昨天帮我搬沙发的邻居"])
def test_chatter_stays_chatter(text: str) -> None:
    assert model_flag(normalise(text)) is None
    assert not classify(text).advise_emergency_call


def test_the_model_never_lowers() -> None:
    red = classify("我爸晕倒了，叫不醒")
    assert apply_floor(normalise("今天天气真好"), red) == red


def test_train_model_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train-model", "--help"])
    assert exit_.value.code == 0 and "scikit-learn" in capsys.readouterr().out


def test_drill_and_stories_are_not_raised_by_the_model(tmp_path: Path) -> None:
    assert model_flag(normalise("下周三消防演练，模拟楼道着火浓烟")) is None
