"""What the asking group hears when a helper withdraws (去不了了) while the chore's ladder is
paused for the community's quiet hours (`RequestPaused`, session 39), session 40.

The core rightly asks nobody until they end, but the group heard "一位邻居临时无法前来，
正在联系其他邻居。" - nobody is contacted at night. Now it hears that nobody else is asked
before the quiet hours' end (the community's local time, as the pause's own text says; not
that the search goes on then: test_paused_to_the_end_group_s40) and, for anything urgent,
to call 120/110/119 and the community's numbers (as a held request's reply advises). The
pause may come in the withdrawal's own decision (quiet hours began since the last rung: the
replacement it would send is not sent) or before it; the loop may have read it or
(restarted since) find it only in the read model's event log. Outside a pause the text is
unchanged.
"""

from __future__ import annotations

from typing import Any

from dispatcher.groupchat import texts
from dispatcher.ops.live_feed import public_view
from schemas.commands import WithdrawHelper
from schemas.events import Event, HelperWithdrawn
from tests.support import group_posts
from tests.support.group_posts import thread_row
from tests.unit.conftest import World
from tests.unit.test_group_truth_s39 import DUTY
from tests.unit.test_quiet_hours_pause_s39 import at, chore, world

OLD = "一位邻居临时无法前来，正在联系其他邻居。"
PAUSED = (
    "一位邻居临时无法前来。现在是社区安静时段，07:00前暂不联系其他邻居。"
    "如情况紧急，请拨打120/110/119。也可联系社区值班 0571-8888 0000。"
)


class ReadModel:
    """The loop's statements on a stand-in of PostgreSQL: request r's thread, its posts
    always recorded, its row (never referred) and the event log's pauses as the world's."""

    def __init__(self, w: World) -> None:
        self.w = w

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        assert "api_group_threads" in query
        return [thread_row("r")]

    async def fetchval(self, query: str, *args: Any) -> Any:
        assert "api_group_posts" in query
        return True

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        if "FROM requests" in query:
            return {"referred_to": None, "closed_at": None}
        assert "FROM event_log" in query and "request_paused" in query, query
        request_id, before = args
        paused = [
            e
            for e in self.w.events
            if e.request_id == request_id
            and e.body.type == "request_paused"
            and e.occurred_at <= before
        ]
        if not paused:
            return None
        last = paused[-1]
        return {"occurred_at": last.occurred_at, "body": last.body.model_dump(mode="json")}

    async def execute(self, query: str, *args: Any) -> None:
        return None


async def heard(w: World, *batches: list[Event]) -> list[str]:
    return await group_posts.heard(ReadModel(w), DUTY, lambda: w.now, *batches)


def accepted_before_quiet_hours() -> tuple[World, str]:
    """A chore at 21:50 (quiet hours 22:00-07:00), its first neighbour accepted at once."""
    w = world()
    w.now = at(6, 21, 50)
    chore(w)
    helper = w.offered()[0]
    w.accept(helper, "r")
    return w, helper


def withdraws(w: World, helper: str) -> list[Event]:
    return list(w.run(WithdrawHelper(request_id="r", helper_id=helper)).events)


async def test_a_withdrawal_that_pauses_the_ladder_tells_the_group_when_it_goes_on() -> None:
    w, helper = accepted_before_quiet_hours()
    w.now = at(6, 22, 10)
    decision = withdraws(w, helper)
    # Quiet hours began since: the replacement is not sent, the ladder pauses in this decision.
    assert [e.body.type for e in decision] == ["helper_withdrawn", "request_paused"]
    # Said once, with when and what to do meanwhile: the pause's own text would repeat it.
    assert await heard(w, decision) == [PAUSED]


async def test_a_withdrawal_during_a_pause_begun_before_it_says_the_same() -> None:
    w = world()
    w.now = at(6, 21, 50)
    chore(w)
    helper = w.offered()[0]
    pause = list(w.tick("r").events)  # 22:00: the rung's wait ran out, the ladder pauses
    assert [e.body.type for e in pause] == ["request_paused"]
    w.now = at(6, 22, 5)
    w.accept(helper, "r")  # the offer already out can still be accepted
    w.now = at(6, 23, 30)
    gone = withdraws(w, helper)
    assert [e.body.type for e in gone] == ["helper_withdrawn"]  # nobody else asked
    # The pause read in an earlier batch, or only in the read model (the API restarted).
    for batches in ([pause, gone], [gone]):
        said = (await heard(w, *batches))[-1]
        assert said == PAUSED, said
        assert "正在联系其他邻居" not in said


async def test_a_withdrawal_before_the_pause_still_says_others_are_asked() -> None:
    w, helper = accepted_before_quiet_hours()
    w.now = at(6, 21, 55)
    before = withdraws(w, helper)  # still before quiet hours: a replacement goes out
    assert "request_paused" not in [e.body.type for e in before]
    assert OLD in await heard(w, before)
    # The next night's pause is in the log now; the withdrawal of the evening before it
    # (replayed) was on a ladder still climbing.
    w.now = at(6, 22, 0)
    later: list[Event] = []
    while not later:
        later = [e for e in w.tick("r").events if e.body.type == "request_paused"]
    assert OLD in await heard(w, before)  # found in the log only
    assert OLD in await heard(w, later, before)  # read by the loop too


def test_the_text_follows_the_pause() -> None:
    gone = Event(
        event_id="e1",
        community_id="c",
        request_id="r",
        occurred_at=at(6, 23),
        caused_by="cmd",
        body=HelperWithdrawn(offer_id="o1", helper_id="h1", slot=0, no_show=False),
    )
    assert texts.update_for(gone) == OLD
    assert texts.update_for(gone, DUTY, paused_until="07:00") == PAUSED
    said = texts.update_for(gone, paused_until="06:30")  # no hotline configured
    assert said == PAUSED.split("也可联系")[0].replace("07:00", "06:30"), said


def test_the_dashboards_live_feed_shows_the_pause_and_its_end() -> None:
    """Before, the feed dropped `request_paused` (not among its public kinds)."""
    w, helper = accepted_before_quiet_hours()
    w.now = at(6, 22, 10)
    [pause] = [e for e in withdraws(w, helper) if e.body.type == "request_paused"]
    view = public_view(pause)
    assert view is not None
    assert view["type"] == "request_paused" and view["local_time"] == "07:00", view
    assert view["until"] == at(7, 7).isoformat().replace("+00:00", "Z"), view
