"""What the group is told about how many neighbours are needed is what the core decided
(a driver asked for beside a nurse: the bot said one neighbour while two were offered)."""

from __future__ import annotations

import re

import pytest

from dispatcher.api.replies import reply_text
from schemas.vocab import Category, Skill


def _told(text: str) -> int:
    m = re.search(r"(\d+)位", text)
    return int(m.group(1)) if m else 1


@pytest.mark.parametrize(
    ("skills", "helpers_needed"),
    [
        ((Skill.DRIVING, Skill.NURSE), 1),  # the seed story: 1 asked, 2 slots decided
        ((Skill.DRIVING, Skill.DOCTOR), 2),
        ((Skill.DRIVING,), 1),
        ((Skill.CARRYING,), 3),
        ((Skill.DOCTOR,), 1),
    ],
)
def test_the_reply_names_the_cores_number(world, skills, helpers_needed):
    spec = world.spec(skills=skills, helpers_needed=helpers_needed)
    opened = world.of_type(
        "request_opened", world.submit(skills=skills, helpers_needed=helpers_needed)
    )
    assert _told(reply_text(spec)) == opened[0].helpers_needed


def test_a_phone_slot_is_named_as_one(world):
    spec = world.spec(skills=(Skill.DRIVING, Skill.NURSE), category=Category.HOSPITAL_TRANSPORT)
    assert "其中1位电话指导" in reply_text(spec)
