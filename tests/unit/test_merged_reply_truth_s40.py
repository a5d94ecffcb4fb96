"""A report merged into an earlier request is told the truth about it (session 40 audit):
"邻居们已在处理同一求助" only when a neighbour accepted it. With nobody yet (in a thin
circle the second report comes precisely because nobody came) it hears that nobody has,
with 120/110/119 and the community's numbers; a life-threatening one keeps its call-now
line first either way. Failed on the old text, which said neighbours were on it whenever
the earlier request was open and not held."""

from __future__ import annotations

from dispatcher.api.replies import merged_reply_text
from schemas.config import Hotline
from schemas.requests import RequestSpec
from schemas.vocab import Category, Urgency
from tests.unit.conftest import World

DUTY = (Hotline(label="社区值班", number="0592-5550101"),)
ON_IT = "邻居们已在处理"
NOBODY_YET = "同一求助已登记，暂时还没有邻居接单"


def _urgent() -> RequestSpec:
    """Not life-threatening, never held for quiet hours."""
    return World().spec(urgency=Urgency.URGENT, category=Category.ERRAND, skills=())


def test_nobody_accepted_is_not_told_neighbours_are_on_it() -> None:
    said = merged_reply_text(_urgent(), None, DUTY)
    assert ON_IT not in said, said
    assert NOBODY_YET in said
    assert "120/110/119" in said and "社区值班 0592-5550101" in said
    assert "社区工作人员" not in said  # nobody claimed it: not said either


def test_a_neighbour_accepted_keeps_the_old_text() -> None:
    said = merged_reply_text(_urgent(), None, DUTY, helpers_assigned=1)
    assert said == "已收到，邻居们已在处理同一求助，请保持电话畅通。"


def test_staff_claimed_with_no_neighbour_says_staff_follow_up() -> None:
    said = merged_reply_text(_urgent(), None, DUTY, staff_claimed=True)
    assert NOBODY_YET in said and "社区工作人员已在跟进" in said and ON_IT not in said
    assert "社区值班 0592-5550101" in said


def test_life_threatening_keeps_the_call_now_line_first_either_way() -> None:
    critical = World().spec()  # a fall, critical: 120
    for assigned in (0, 2):
        said = merged_reply_text(critical, None, DUTY, helpers_assigned=assigned)
        assert said.startswith("请立即拨打120急救电话！"), said
        assert said.index("120") < said.index("0592-5550101")
        assert (ON_IT in said) == (assigned > 0), said
        assert (NOBODY_YET in said) == (assigned == 0), said
    # The classifier's own advice (a fire: 119) stays first too.
    fire = merged_reply_text(critical, "请立即拨打119，并远离危险区域", DUTY)
    assert fire.startswith("请立即拨打119，并远离危险区域。") and NOBODY_YET in fire


def test_held_for_quiet_hours_still_says_when() -> None:
    spec = World().spec(urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    said = merged_reply_text(spec, None, DUTY, held_until="07:00")
    assert "安静时段" in said and "07:00" in said and ON_IT not in said
