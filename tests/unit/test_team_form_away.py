"""The leader's checklist leaves out members away or busy (the helpers read model has it
since 0397): ticked by default, they made the core refuse the whole accept
(`member_unavailable`) and the leader start again."""

from __future__ import annotations

import re

from dispatcher.api.offer_pages import team_form
from dispatcher.record.read.requests import RequestSummary
from dispatcher.record.read.team_members import TeamMember

TEAM = ("帮帮团", 4)


def _boxes(form: str) -> list[tuple[str, str]]:
    return re.findall(r'name="member" value="([^"]+)"( checked)?', form)


def test_members_away_or_busy_are_not_listed_and_the_next_ones_are_ticked() -> None:
    members = [
        TeamMember("leader", "陈队长"),
        TeamMember("m1", "吴师傅", available=False),
        TeamMember("m2", "赵师傅"),
        TeamMember("m3", "钱阿姨"),
    ]
    summary = RequestSummary("carrying", "normal", "5号楼", "open", None, 2, 0)
    form = team_form("/l/o/t", TEAM, summary, members, "leader")
    assert _boxes(form) == [("m2", " checked"), ("m3", "")] and "吴师傅" not in form


def test_with_every_other_member_unavailable_the_leader_may_go_alone() -> None:
    members = [TeamMember("leader", "陈队长"), TeamMember("m1", "吴师傅", available=False)]
    summary = RequestSummary("carrying", "normal", "5号楼", "open", None, 2, 0)
    form = team_form("/l/o/t", TEAM, summary, members, "leader")
    assert _boxes(form) == [] and "暂时不便" in form and 'name="members"' not in form
