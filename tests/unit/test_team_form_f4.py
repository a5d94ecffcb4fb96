"""Review 31 (regteams): the leader's checklist leaves out members the core would refuse -
assigned to the request already or who declined it - so a default press is not refused
whole; with every other member out, the leader may still go alone (never the count form,
which holds slots for nobody)."""

from __future__ import annotations

import re

from dispatcher.api.offer_pages import team_form
from dispatcher.record.read.requests import RequestSummary
from dispatcher.record.read.team_members import TeamMember

TEAM = ("帮帮团", 3)
MEMBERS = [TeamMember("leader", "陈队长"), TeamMember("m1", "吴师傅"), TeamMember("m2", "赵师傅")]


def _summary(needed: int, assigned: int) -> RequestSummary:
    return RequestSummary("carrying", "normal", "5号楼", "open", None, needed, assigned)


def _boxes(form: str) -> list[tuple[str, str]]:
    return re.findall(r'name="member" value="([^"]+)"( checked)?', form)


def test_members_assigned_or_who_declined_are_not_listed_nor_ticked() -> None:
    form = team_form("/l/o/t", TEAM, _summary(3, 1), MEMBERS, "leader", {"m1"})
    assert _boxes(form) == [("m2", " checked")] and "吴师傅" not in form


def test_with_every_other_member_out_the_leader_goes_alone_by_name() -> None:
    form = team_form("/l/o/t", TEAM, _summary(3, 0), MEMBERS, "leader", {"m1", "m2"})
    assert _boxes(form) == [] and 'name="named" value="1"' in form
    assert 'name="members"' not in form and "您可以自己去" in form
