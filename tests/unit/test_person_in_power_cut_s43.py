"""A person to help down the stairs in a power cut is carrying, not an electrician's repair
(session 43 mass-incident audit A3).

"停电了电梯不能用，12楼有位老人腿不好，谁能帮忙扶她下楼" was repair/urgent with the skills
(electrical,) because the repair cue 停电 won the category: only electricians were offered it,
and a community of carrying or general neighbours was never asked. "老人下不了楼，需要人背下去"
was not a request at all. Beside a person to help down, up or to hospital, the outage words
are context (`lexicon.OUTAGE`), and being unable to get downstairs is a call for help.
"""

from __future__ import annotations

import pytest

from dispatcher.classify import classify
from schemas.vocab import Category, Skill, Urgency
from tests.unit.conftest import World

POWER_CUT_ASK = "停电了电梯不能用，12楼有位老人腿不好，谁能帮忙扶她下楼"


@pytest.mark.parametrize(
    "text",
    [
        POWER_CUT_ASK,
        "3号楼12楼，老人下不了楼，需要人背下去",
        "停电了，3号楼12楼，老人下不了楼，需要人背下去",
        "电梯坏了，我妈腿脚不便下不了楼，谁能帮忙背一下",
        "停电了电梯不能用，老人下不了楼",
        "断电了电梯停了，谁能帮忙搀一下老人下楼",
        # With a person or mobility word near it, "下不了楼" alone still asks (review of 3729acc).
        "我妈腿不好，下不了楼",
        "我腰扭了下不了楼，谁能背我下去",
    ],
)
def test_a_person_to_help_down_is_carrying_for_those_who_can(text: str) -> None:
    c = classify(text)
    assert c.is_request, c.reasons
    assert c.category is Category.CARRYING, (c.category, c.reasons)
    assert Skill.CARRYING in c.skills, c.skills
    assert Skill.ELECTRICAL not in c.skills, c.skills


def test_the_power_cut_still_says_how_soon() -> None:
    # The outage is context for the kind of help, not for the time: they are stuck now.
    assert classify(POWER_CUT_ASK).urgency is Urgency.URGENT


@pytest.mark.parametrize("text", ["停电了，谁会修电闸", "家里停电了，跳闸了，谁懂电帮忙看看"])
def test_a_genuine_power_repair_is_still_for_an_electrician(text: str) -> None:
    c = classify(text)
    assert c.is_request
    assert c.category is Category.REPAIR, c.reasons
    assert c.skills == (Skill.ELECTRICAL,), c.skills


def test_stuck_upstairs_beside_another_ask_keeps_that_ask() -> None:
    # Being unable to get down is the situation; what they ask for is the need.
    assert classify("隔壁的刘爷爷腿摔伤了下不了楼，谁能帮他买点菜").category is Category.ERRAND


def test_the_power_cut_request_is_offered_to_a_neighbour_who_can_carry() -> None:
    w = World()
    w.helper("carrier", skills=(Skill.CARRYING,))
    w.helper("driver", skills=(Skill.DRIVING,))
    c = classify(POWER_CUT_ASK)
    d = w.submit(
        category=c.category,
        urgency=c.urgency,
        skills=c.skills,
        helpers_needed=c.helpers_needed,
        text=POWER_CUT_ASK,
    )
    assert "carrier" in w.offered(d), w.offered(d)
