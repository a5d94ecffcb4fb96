"""The asking group hears whether the whistle called anyone for the request's own place
(session 43, config audit F1).

The push engine calls the contacts covering the request's place, fixed at intake
(`DeliveryPlanner._recipients` over its spec's). The group loop judged from the group's
place in the live bots configuration: a group re-pointed to another grid while its request
was open was told "已通知社区值班人员协助" though nobody was called. The intake now records
the request's place ids on the raising group's thread (migration 0419), and the loop counts
for that place; a thread recorded before (no place) is still read by the group's live
place.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from dispatcher.groupchat.bots import GroupPlace
from dispatcher.groupchat.loop import GroupReplies, whistle_people
from dispatcher.push import EndpointKind
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from schemas.commands import SubmitRequest
from schemas.config import WhistleRecipient
from schemas.events import Event
from schemas.places import PlacePath
from schemas.vocab import Skill
from tests.support.group_posts import drained, thread_row
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_group_texts_truth_s38 import Pool, Sender
from tests.unit.test_platform_redelivery import (  # noqa: F401 - `tables`: the fixture
    Clock,
    Tables,
    app_for,
    message,
    post,
    tables,
)
from tests.unit.test_push_deliveries import registry
from tests.unit.test_whistle_recipients import planner as whistle_planner

# The whistle's line (the World's request is grave: the 120 line follows either).
NOBODY = "暂未联系上社区值班人员"
CALLED = "已通知社区值班人员协助。"
# The community's one contact: the grid worker of grid g1 only.
GRID_WORKER = WhistleRecipient(role="grid_worker", name="小林", endpoint="gw-lin", grid_id="g1")
REGISTRY = registry(("gw-lin", EndpointKind.WEBHOOK))
# Staff re-point the group to grid g1 (PUT /bots/{id}) while its request, raised there when
# the group was in grid g2, is open.
RE_POINTED = GroupPlace(community_id=COMMUNITY, grid_id="g1", compound_id="tuqiang")


def _owner(endpoint: str) -> str | None:
    return COMMUNITY


def _whistled_in_g2() -> tuple[World, Event]:
    world = World()
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit(place=World.place(grid="g2", household="hh-requester"))
    while not world.of_type("whistle_blown"):
        world.tick()
    return world, next(e for e in world.events if e.body.type == "whistle_blown")


def _people_called(world: World, whistle: Event) -> int:
    """Whom the worker's push engine calls for the whistle: people, not the group robot."""
    planner = dataclasses.replace(
        whistle_planner(world, ("gw-lin", EndpointKind.WEBHOOK)),
        whistle_recipients=lambda community_id: [GRID_WORKER],
        endpoint_owner=_owner,
    )
    return len([d for d in planner.plan(whistle).deliveries if d.data.get("role") != "group"])


class _Threads(Pool):
    """The raising group's thread as the intake recorded it (with or without a place)."""

    def __init__(self, place: PlacePath | None) -> None:
        super().__init__(claimed=False)
        self.place = place

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        assert "api_group_threads" in query and "request_place" in query, query
        stored = None if self.place is None else threads.place_ids(self.place).model_dump_json()
        return [{**thread_row("req-1"), "request_place": stored}]


async def _heard(whistle: Event, place: PlacePath | None) -> list[str]:
    """What the raising group (bot/g1, mapped to grid g1 now) hears of the whistle."""
    pool, sender = _Threads(place), Sender()

    async def get() -> Any:
        return pool

    g = GroupReplies(
        sender,  # type: ignore[arg-type]
        get,
        clock=lambda: whistle.occurred_at,
        whistle_people=lambda community_id, place=None: whistle_people(
            community_id, REGISTRY, _owner, [GRID_WORKER], place
        ),
        group_place=lambda bot_id, group_id: (
            RE_POINTED if (bot_id, group_id) == ("bot", "g1") else None
        ),
    )
    g._last_purge = time.monotonic()  # no purge in this stand-in
    try:
        await g.handle([whistle])
        await drained(g)
    finally:
        await g.close()
    return sender.sent


async def test_a_group_re_pointed_mid_request_hears_nobody_was_called_when_nobody_was() -> None:
    world, whistle = _whistled_in_g2()
    assert _people_called(world, whistle) == 0  # the g1 grid worker does not cover g2
    raised = world.request().spec.place  # what the intake recorded on the thread
    [said] = await _heard(whistle, raised)
    assert said.startswith(NOBODY) and CALLED not in said, said


async def test_the_group_hears_staff_were_called_when_the_requests_place_is_covered() -> None:
    """The recorded place decides both ways: a request recorded in g1 is covered by g1's
    grid worker (the control: not "nobody" for every recorded place)."""
    _, whistle = _whistled_in_g2()
    in_g1 = World.place(grid="g1", household="hh-requester")
    [said] = await _heard(whistle, in_g1)
    assert said.startswith(CALLED), said


async def test_a_thread_recorded_before_0419_is_read_by_the_groups_live_place() -> None:
    """No place on the thread (recorded by an API before migration 0419, or a co-report's):
    the group's place in the live configuration, as before."""
    _, whistle = _whistled_in_g2()
    [said] = await _heard(whistle, None)
    assert said.startswith(CALLED), said  # the group is in g1 now: g1's grid worker


def test_only_the_places_ids_are_recorded_never_the_flat_or_household() -> None:
    world, _ = _whistled_in_g2()
    full = world.request().spec.place
    assert full.unit is not None and full.household_id is not None  # the World's place has them
    kept = threads.place_ids(full)
    assert kept == PlacePath(
        community_id=COMMUNITY, grid_id="g2", compound_id="tuqiang", building_id=full.building_id
    )
    stored = kept.model_dump_json()
    for private in (full.unit, full.household_id, str(full.floor)):
        assert f'"{private}"' not in stored and f": {private}" not in stored, stored


async def test_the_intake_records_the_requests_place_on_the_raising_thread(
    tables: Tables,  # noqa: F811 - the imported fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the platform route: the thread the intake records carries the place ids of
    the spec it queues (the place the worker calls the whistle's contacts for)."""
    recorded: list[Thread] = []

    async def record(pool: Any, thread: Thread, sender_id: str) -> None:
        recorded.append(thread)

    monkeypatch.setattr(threads, "record", record)
    app = app_for(tables, Clock())
    r = await post(app, message("3号楼2单元502室有老人摔倒了，快来人帮忙", "m-place"))
    assert r.status_code == 200 and r.json()["is_request"], r.text
    [spec] = [c.body.spec for c in tables.sent if isinstance(c.body, SubmitRequest)]
    [thread] = recorded
    assert spec.place.building_id == "b3" and spec.place.building_name == "3号楼"
    assert thread.place == threads.place_ids(spec.place)
    assert thread.place == PlacePath(
        community_id=spec.community_id, grid_id="g1", compound_id="c1", building_id="b3"
    )  # ids only: no name, unit, floor or household
