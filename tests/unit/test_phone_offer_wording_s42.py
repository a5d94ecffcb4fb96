"""Session 42 audit (H2, finding 2): an offer of a phone need (`WaveOffer.remote`: a nurse
who guides by phone, searched across the whole community) was pushed with the in-person
wording "需要1位邻居帮忙（护士），您能来吗？" / "能来：…". It now asks for a call, says
无需前往, and names its links 能帮忙 / 帮不了; an in-person offer reads as before. The
page side: tests/integration/test_phone_offer_page_s42.py."""

from __future__ import annotations

from schemas.commands import UpsertHelper
from schemas.requests import SkillNeed
from schemas.vocab import Skill
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import ROBOTS, offer_to, planner, registry, with_channels


def _offer_text(world: World, helper: str) -> str:
    event = offer_to(world, helper)
    [d] = planner(world, registry(*ROBOTS)).plan(event).deliveries
    return d.message.text


def test_an_offer_of_a_phone_need_does_not_ask_the_helper_to_come() -> None:
    world = World()
    with_channels(world, "nurse")
    profile = world.state.helpers["nurse"].profile.model_copy(update={"skills": (Skill.NURSE,)})
    world.run(UpsertHelper(profile=profile))
    world.submit(skills=(), needs=(SkillNeed(skills=(Skill.NURSE,)),), helpers_needed=1)
    assert offer_to(world, "nurse").body.remote, "the offer is for a phone need"
    text = _offer_text(world, "nurse")
    assert "您能来吗" not in text and "能来：" not in text, text
    assert "需要1位邻居电话指导（护士），您方便打个电话吗？无需前往。" in text, text
    assert "能帮忙：" in text and "帮不了：" in text, text


def test_an_in_person_offer_still_asks_the_helper_to_come() -> None:
    world = World()
    with_channels(world, "driver")
    profile = world.state.helpers["driver"].profile.model_copy(update={"skills": (Skill.DRIVING,)})
    world.run(UpsertHelper(profile=profile))
    world.submit(skills=(Skill.DRIVING,), helpers_needed=1)
    assert not offer_to(world, "driver").body.remote
    text = _offer_text(world, "driver")
    assert "您能来吗" in text and "能来：" in text and "无需前往" not in text, text
