"""The team leader's accept form (api/offer_pages.team_form): a checklist of the team's
other members with the first ones ticked, as many as the request still needs; a count
when the read model knows no member yet (helpers recorded before names existed)."""

from __future__ import annotations

import re

from dispatcher.api.offer_pages import team_form
from dispatcher.record.read.requests import RequestSummary
from dispatcher.record.read.team_members import TeamMember

TEAM = ("帮帮团", 4)


def _summary(needed: int, assigned: int) -> RequestSummary:
    return RequestSummary("carrying", "normal", "5号楼", "open", None, needed, assigned)


def _boxes(form: str) -> list[tuple[str, str]]:
    return re.findall(r'name="member" value="([^"]+)"( checked)?', form)


MEMBERS = [TeamMember("leader", "陈队长"), TeamMember("m1", "吴师傅"), TeamMember("m2", "赵<b>")]


def test_the_first_members_are_ticked_as_many_as_still_needed_besides_the_leader() -> None:
    form = team_form("/l/o/t", TEAM, _summary(3, 1), MEMBERS, "leader")
    assert _boxes(form) == [("m1", " checked"), ("m2", "")]  # 2 open: the leader and m1
    assert 'name="named" value="1"' in form and "赵&lt;b&gt;" in form  # names escaped
    assert _boxes(team_form("/l/o/t", TEAM, _summary(4, 0), MEMBERS, "leader")) == [
        ("m1", " checked"),
        ("m2", " checked"),
    ]


def test_without_known_members_the_leader_gives_a_count_as_before() -> None:
    form = team_form("/l/o/t", TEAM, _summary(2, 0), [TeamMember("leader", "")], "leader")
    assert _boxes(form) == [] and 'name="members"' in form and 'value="2"' in form
    assert 'name="named"' not in form
