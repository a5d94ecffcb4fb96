"""Unit tests for the classifier's parts: normalisation, negation, counts, places, CLI."""

from __future__ import annotations

import io
import json

import pytest

from dispatcher.classify import Classification, classify
from dispatcher.classify.cli import main
from dispatcher.classify.counts import helpers_wanted
from dispatcher.classify.hanzi import detect_script, parse_number, to_simplified
from dispatcher.classify.matching import is_negated
from dispatcher.classify.normalise import normalise
from dispatcher.classify.places import place_hints
from schemas.vocab import Category, EmergencyNumber, Skill, Urgency


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("甚至", "甚至"),  # the old character table turned it into 什至
        ("著名", "著名"),  # … and this into 着名
        ("著火了", "着火了"),  # while 著 as a particle is 着
        ("陪著阿嬤", "陪着阿嬷"),
        ("頭髮", "头发"),
        ("網路斷了", "网络断了"),  # phrase level: Taiwan words become mainland ones
        ("裏面 裡面", "里面 里面"),
    ],
)
def test_opencc_converts_phrases(traditional: str, simplified: str) -> None:
    assert to_simplified(traditional) == simplified
    assert to_simplified(simplified) == simplified


def test_normalise_folds_width_script_case_and_pinyin_glosses() -> None:
    assert normalise("親愛(ài)的鄰居們，誰(shuí)能幫忙？") == "亲爱的邻居们,谁能帮忙?"
    # A gloss only right after a character, with a tone mark, up to seven letters.
    assert normalise("(ài)a(ài)愛(ai)愛(zhuàngggg)愛((ài)") == "(ài)a(ài)爱(ai)爱(zhuàngggg)爱((ài)"
    assert normalise("５号楼３单元　ＷｉＦｉ") == "5号楼3单元wifi"
    assert normalise("wifi  密码") == "wifi密码"
    assert normalise("wifi 5g") == "wifi 5g"
    assert normalise(" a b\t 1 中 c  d 2\n") == "a b 1中c d 2"
    assert normalise("🙏\u200d❤️") == "🙏❤"


def test_script_detection() -> None:
    assert detect_script("鄰居們，我家老人摔倒了") == "traditional"
    assert detect_script("邻居们，我家老人摔倒了") == "simplified"
    assert detect_script("邻居們") == "mixed"
    assert detect_script("hello") == "unknown"
    assert detect_script("甚至著名") == "simplified"  # valid in both: not traditional evidence
    assert detect_script("我妈头发白了") == "simplified"
    assert to_simplified("電梯卡住了") == "电梯卡住了"


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("3", 3),
        ("十", 10),
        ("十二", 12),
        ("二十三", 23),
        ("一百零二", 102),
        ("五零二", 502),
        ("两", 2),
    ],
)
def test_parse_number(token: str, value: int) -> None:
    assert parse_number(token) == value


@pytest.mark.parametrize(
    ("text", "cue", "negated"),
    [
        ("没有人受伤", "受伤", True),
        ("不是急事", "急", True),
        ("不需要帮忙了", "帮忙", True),
        ("有没有医生", "医生", False),  # 有没有 is a question, not a negation
        ("是不是中风了", "中风", False),
        ("需不需要帮忙", "帮忙", False),
        ("特别感谢", "感谢", False),
        ("没有,受伤了", "受伤", False),  # another clause
    ],
)
def test_negation_window(text: str, cue: str, negated: bool) -> None:
    assert is_negated(text, text.index(cue)) is negated


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("周六上午需要三四个人帮忙把钢琴抬上四楼", 3, 4),
        ("两三个人帮忙把冰箱搬上三楼", 2, 3),
        ("需要3个人帮忙搬家具", 3, 3),
        ("需要3-5个人", 3, 5),
        ("能不能来两个人帮我", 2, 2),
        ("急需一位会说闽南话的邻居", 1, 1),
        ("需要两个小伙子", 2, 2),
        ("找几个人帮忙", 2, 4),
        ("需要100个人帮忙", 20, 20),
        ("楼下有个冰箱要搬上四楼,求两位力气大的邻居", 2, 2),
        ("周六上午求五六个壮汉", 5, 6),
        ("求个好心人帮忙拎到三楼", 1, 1),  # "个" alone after a need verb: one
        ("能不能来个人帮我", 1, 1),
    ],
)
def test_helper_counts_take_the_lower_bound(text: str, low: int, high: int) -> None:
    found = helpers_wanted(normalise(text))
    assert found is not None and found[:2] == (low, high)


@pytest.mark.parametrize(
    "text",
    ["我一个人在家", "我们家有两个老人", "放学两个小时了", "5岁男孩走丢了", "要个说法", "来个电话"],
)
def test_counts_that_are_not_helpers(text: str) -> None:
    assert helpers_wanted(normalise(text)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3号楼2单元", {"building": "3", "unit": "2"}),
        ("5栋1201", {"building": "5", "room": "1201", "floor": "12"}),
        ("5幢", {"building": "5"}),
        ("二单元", {"unit": "2"}),
        ("抬上四楼", {"floor": "4"}),
        ("住12楼", {"floor": "12"}),
        ("12楼3单元", {"building": "12", "unit": "3"}),
        ("七栋三单元", {"building": "7", "unit": "3"}),
        ("1#楼", {"building": "1"}),
        ("b栋", {"building": "B"}),
        ("3-2-802", {"building": "3", "unit": "2", "room": "802", "floor": "8"}),
        ("住在12-3-1201", {"building": "12", "unit": "3", "room": "1201", "floor": "12"}),
        # Not building-unit-room: digits or a dash run on before or after.
        ("1234-2-802", {}),
        ("0-3-2-802", {}),
        ("3-2-80211", {}),
        ("第五层", {"floor": "5"}),
        ("小区门口", {"spot": "小区门口"}),
        ("电话13812345678", {}),
        ("十万火急", {}),
    ],
)
def test_place_hints(text: str, expected: dict[str, str]) -> None:
    assert place_hints(normalise(text)) == expected


def test_pregnant_woman_from_the_seed() -> None:
    result = classify("亲爱的邻居们，我身体不舒服，谁能帮忙送我去医院？")
    assert result.is_request and result.category is Category.HOSPITAL_TRANSPORT
    assert Skill.DRIVING in result.skills and result.urgency is Urgency.URGENT
    same = classify("親愛(ài)的鄰居們，我身體不舒服，誰(shuí)能幫忙送我去醫(yī)院？")
    assert same.model_dump(exclude={"script"}) == result.model_dump(exclude={"script"})
    assert same.script == "traditional"


@pytest.mark.parametrize(
    ("text", "number", "property_too"),
    [
        ("我爸晕倒了，叫不醒", EmergencyNumber.AMBULANCE, False),
        ("楼道着火了", EmergencyNumber.FIRE, True),
        ("闻到很重的煤气味", EmergencyNumber.FIRE, True),
        ("电梯困人了", EmergencyNumber.FIRE, True),
        ("有人在打架，快报警", EmergencyNumber.POLICE, False),
        ("我家孩子走丢了", EmergencyNumber.POLICE, False),
    ],
)
def test_emergencies_name_the_right_number(
    text: str, number: EmergencyNumber, property_too: bool
) -> None:
    result = classify(text)
    assert result.urgency is Urgency.CRITICAL and result.advise_emergency_call
    assert result.emergency_number is number and result.notify_property is property_too
    assert result.advice and number.value in result.advice


def test_negated_red_flags_are_not_emergencies() -> None:
    for text in ("没有人受伤，大家不用担心", "不是煤气泄漏，是烧烤的味道", "没有着火，别担心"):
        result = classify(text)
        assert not result.is_request and not result.advise_emergency_call, text


@pytest.mark.parametrize(
    "text",
    [
        "楼下有个冰箱要搬上四楼，求两位力气大的邻居",  # the demo's miss: no ask was seen
        "樓下有個冰箱要搬上四樓，求兩位力氣大的鄰居",
        "旧沙发要抬下楼，求3名邻居",
        "钢琴要搬到5号楼，求几位壮汉",
    ],
)
def test_asking_for_a_count_of_people_is_a_request(text: str) -> None:
    result = classify(text)
    assert result.is_request and result.category is Category.CARRYING, result.reasons
    assert Skill.CARRYING in result.skills and not result.advise_emergency_call


def test_non_requests_have_no_category_and_low_urgency() -> None:
    result = classify("感谢昨天帮我搬东西的邻居们！")
    assert not result.is_request and result.category is None and result.urgency is Urgency.LOW
    assert result.reasons  # ops can see why


def test_cli_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["呼吸困难，胸口很闷，一个人在家"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["urgency"] == "critical" and out["emergency_number"] == "120"
    Classification.model_validate(out)


def test_cli_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("樓下有人暈倒了，快叫救護車！\n"))
    assert main(["-"]) == 0
    out = capsys.readouterr().out
    assert "\\u" not in out and json.loads(out)["is_request"] is True


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "stdin" in capsys.readouterr().out
