"""A helper stood down by a referral is told where it went: 物业 or a department, not
专业救援. Before, the core stood them down with reason "referred" whatever the target and
the push said "已转交专业救援处理" for a leaking pipe handed to property. The stand-down
now carries the target (`OffersStoodDown.to`, left out of the JSON when None, so events
written before it keep their bytes and still read 专业救援, or the held request's
target)."""

from __future__ import annotations

import pytest

from dispatcher.push import EndpointKind
from dispatcher.push.deliveries import community_group_endpoint
from schemas.commands import ReferRequest
from schemas.events import Event, OffersStoodDown
from schemas.vocab import ReferralTarget
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_core_claim_and_referral_s38 import _fall_with_one_on_the_way
from tests.unit.test_push_deliveries import planner, registry

ROBOTS = registry(
    ("default", EndpointKind.WEBHOOK),
    (community_group_endpoint(COMMUNITY), EndpointKind.WECOM),
)


def _referred(world: World, to: ReferralTarget) -> Event:
    """The stand-down of a fall (a first-aider on the way, a carrier offered) referred."""
    _fall_with_one_on_the_way(world)
    out = world.run(ReferRequest(request_id="req-1", to=to, department="街道"))
    [event] = [e for e in out.events if isinstance(e.body, OffersStoodDown)]
    return event


def _texts(world: World, event: Event) -> dict[str, str]:
    deliveries = planner(world, ROBOTS).plan(event).deliveries
    return {d.recipient or "": d.message.text for d in deliveries}


@pytest.mark.parametrize(
    ("to", "said"),
    [
        (ReferralTarget.PROPERTY, "（已转交物业处理）"),
        (ReferralTarget.DEPARTMENT, "（已转交相关部门处理）"),
    ],
)
def test_a_referral_elsewhere_tells_the_helpers_where_it_went(
    world: World, to: ReferralTarget, said: str
) -> None:
    event = _referred(world, to)
    texts = _texts(world, event)
    assert set(texts) == {"first-aider", "carrier"}  # the one on the way is told too
    for text in texts.values():
        assert said in text and "专业救援" not in text, text
    assert event.body.to is to  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "to", [ReferralTarget.AMBULANCE, ReferralTarget.POLICE, ReferralTarget.FIRE]
)
def test_a_referral_to_an_emergency_service_still_says_professional_rescue(
    world: World, to: ReferralTarget
) -> None:
    texts = _texts(world, _referred(world, to))
    assert set(texts) == {"carrier"}  # the first-aider is kept on the way
    assert "（已转交专业救援处理）" in texts["carrier"]


def test_a_stand_down_written_before_the_target_keeps_its_bytes_and_reads_the_request(
    world: World,
) -> None:
    event = _referred(world, ReferralTarget.PROPERTY)
    old = event.body.model_dump_json().replace(',"to":"property"', "")
    assert '"to"' not in old
    body = OffersStoodDown.model_validate_json(old)
    assert body.to is None and body.model_dump_json() == old
    older = event.model_copy(update={"body": body})
    # The request still held: its target (property) is the one the helpers hear.
    assert all("（已转交物业处理）" in t for t in _texts(world, older).values())
    # No longer held (pruned): not known, the earlier wording.
    world.state.requests.pop("req-1")
    assert all("（已转交专业救援处理）" in t for t in _texts(world, older).values())
