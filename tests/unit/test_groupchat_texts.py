"""What the asking group reads: no personal data, a name only when the helper opted in."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatcher.groupchat.texts import notified, update_for
from dispatcher.push.http import redact
from schemas.events import Event, HelperAssigned, HelperSetOff, RequestCancelled
from schemas.places import PlacePath
from schemas.requests import RequesterContact
from schemas.vocab import Party


def _event(body: HelperAssigned | HelperSetOff | RequestCancelled) -> Event:
    return Event(
        event_id="e1",
        community_id="c",
        request_id="r1",
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        caused_by="cmd",
        body=body,
    )


def _assigned(group_name: str | None) -> HelperAssigned:
    return HelperAssigned(
        offer_id="o1",
        helper_id="h1",
        slot=0,
        skills=(),
        remote=False,
        contact=RequesterContact(name="王女士", phone="13912345678", address="3号楼2单元501"),
        place=PlacePath(community_id="c", building_id="b3"),
        text="肚子疼",
        group_name=group_name,
    )


def test_the_group_hears_a_remote_helper_will_call_not_come() -> None:
    remote = _assigned(None).model_copy(update={"remote": True})
    assert update_for(_event(remote)) == "一位邻居已接单，将电话联系指导。"


def test_accepted_names_the_helper_only_when_opted_in() -> None:
    assert update_for(_event(_assigned(None))) == "一位邻居已接单，正在赶来。"
    assert update_for(_event(_assigned("林阿姨"))) == "一位邻居（林阿姨）已接单，正在赶来。"
    for text in (update_for(_event(_assigned("林阿姨"))) or "", notified(3)):
        assert "139" not in text and "501" not in text and "王女士" not in text


def test_on_my_way_tells_the_group_help_moves_without_who() -> None:
    coming = HelperSetOff(offer_id="o1", helper_id="h1", slot=0)
    assert update_for(_event(coming)) == "一位邻居已出发，正在路上。"
    calling = coming.model_copy(update={"remote": True})
    assert update_for(_event(calling)) == "一位邻居正在电话联系求助人。"


def test_cancelled() -> None:
    assert (
        update_for(_event(RequestCancelled(by=Party.REQUESTER)))
        == "求助已取消，已通知邻居不必前往。"
    )


def test_session_webhook_token_is_masked_in_logs() -> None:
    """httpx logs the URL it posts to; a sessionWebhook's session lets anyone post there."""
    url = "https://oapi.dingtalk.com/robot/sendBySession?session=c4a1b2secret"
    assert "c4a1b2secret" not in redact(f'HTTP Request: POST {url} "HTTP/1.1 200 OK"')


def test_the_group_hears_how_many_of_a_team_are_coming() -> None:
    team = _assigned(None).model_copy(update={"team_id": "帮帮团", "members": 3})
    assert update_for(_event(team)) == "帮帮团的3位邻居已接单，正在赶来。"
    alone = _assigned(None).model_copy(update={"team_id": "帮帮团", "members": 1})
    assert update_for(_event(alone)) == "一位邻居已接单，正在赶来。"


def test_the_reply_to_a_held_request_says_when_it_goes_out_with_the_hotlines() -> None:
    from dispatcher.api.replies import reply_text
    from schemas.config import Hotline
    from schemas.holds import RequestHeld
    from schemas.vocab import Category, Urgency
    from tests.unit.conftest import World

    until = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    duty = (Hotline(label="社区值班", number="0592-5550101"),)
    event = Event(
        event_id="e-held",
        community_id="c1",
        request_id="r1",
        occurred_at=until,
        caused_by="cmd",
        body=RequestHeld(until=until, local_time="07:00"),
    )
    assert update_for(event, duty) is None  # the immediate reply says it: not twice
    spec = World().spec(urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    held = reply_text(spec, None, duty, held_until="07:00")
    assert "安静时段" in held and "07:00" in held and "120" in held
    assert "社区值班 0592-5550101" in held
    # A number advised (life at risk): 120 first, the community's numbers after, never instead.
    critical = World().spec()
    said = reply_text(critical, None, duty)
    assert said.index("120") < said.index("0592-5550101")
    assert "0592" not in reply_text(critical)  # none configured: none said
