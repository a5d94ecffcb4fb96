"""A helper staff release as not coming (WithdrawHelper(no_show=True)) is told, on the
channel their offer reached; one who withdrew themselves (去不了了) is not: they know."""

from __future__ import annotations

from dispatcher.push import PushKind
from schemas.commands import WithdrawHelper
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import ROBOTS, offered, planner, registry  # noqa: F401


def _withdrawn(world: World, helper_id: str, no_show: bool) -> list:
    world.accept(helper_id)
    out = world.run(WithdrawHelper(request_id="req-1", helper_id=helper_id, no_show=no_show))
    (event,) = [e for e in out.events if e.body.type == "helper_withdrawn"]
    return planner(world, registry(*ROBOTS)).plan(event).deliveries


def test_a_no_show_is_told_they_no_longer_hold_it(offered: World) -> None:  # noqa: F811
    (d,) = _withdrawn(offered, "private-driver", no_show=True)
    assert (d.endpoint, d.kind, d.recipient) == ("default", PushKind.CANCELLATION, "private-driver")
    assert d.message.title == "您已无需前往"
    assert "社区将另找邻居接手" in d.message.text and "无需再前往" in d.message.text, d.message.text
    assert "已安排" not in d.message.text  # nobody holds it yet: the ladder asks again
    assert "未到场" not in d.message.text  # no blame: it may reach a group robot
    assert "13800000000" not in d.message.text and "501" not in d.message.text


def test_a_helper_who_withdrew_themselves_is_not_told_again(offered: World) -> None:  # noqa: F811
    assert _withdrawn(offered, "private-driver", no_show=False) == []
