"""A helper's windows (quiet hours, availability) are local clock times: a time carrying a
UTC offset is refused wherever a profile can enter — the schema itself, so the helper page,
the admin upsert, the roster ledger and commands read from Kafka all refuse it alike.

Review finding: the personal page took `start=00:00+14:00`; the next request that
considered the helper then failed in the worker (`can't compare offset-naive and
offset-aware times`) and was dead-lettered although its requester had been told 202.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from dispatcher.api.admin import HelperIn
from dispatcher.roster.cells import parse_availability
from schemas.commands import Command, SetDoNotDisturb, UpsertHelper, new_command
from schemas.helpers import STORED, HelperProfile, TimeWindow, WeeklyWindow
from schemas.records import HelperState

AWARE = ("00:00+14:00", "22:00:00+08:00", "07:00Z", time(22, tzinfo=UTC))
PLACE = {"community_id": "c1"}
T0 = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)


def profile_doc(**windows: Any) -> dict[str, Any]:
    return {"helper_id": "h1", "place": PLACE, **windows}


@pytest.mark.parametrize("aware", AWARE)
def test_every_window_refuses_a_time_with_an_offset(aware: Any) -> None:
    with pytest.raises(ValidationError, match="no UTC offset"):
        TimeWindow(start=aware, end="07:00")
    with pytest.raises(ValidationError, match="no UTC offset"):
        TimeWindow(start="22:00", end=aware)
    with pytest.raises(ValidationError, match="no UTC offset"):
        WeeklyWindow.model_validate({"window": {"start": aware, "end": "07:00"}})
    as_json = aware.isoformat() if isinstance(aware, time) else aware
    quiet = {"start": as_json, "end": "07:00"}
    with pytest.raises(ValidationError, match="no UTC offset"):
        HelperProfile.model_validate(profile_doc(do_not_disturb=quiet))
    with pytest.raises(ValidationError, match="no UTC offset"):
        HelperProfile.model_validate(profile_doc(availability=[{"window": quiet}]))
    # A local time is kept as it is.
    w = TimeWindow.model_validate({"start": "22:00", "end": "07:00"})
    assert (w.start, w.end) == (time(22), time(7))
    assert w.contains(datetime(2031, 5, 4, 23, tzinfo=timezone(timedelta(hours=8))).time())


def test_commands_from_kafka_with_an_offset_are_undecodable() -> None:
    """What the worker reads: such a command is dead-lettered alone, never applied."""
    good = SetDoNotDisturb(helper_id="h1", window=TimeWindow(start=time(22), end=time(7)))
    doc = new_command(good, community_id="c1", issued_at=T0).model_dump(mode="json")
    assert Command.model_validate(doc).body == good
    doc["body"]["window"]["start"] = "00:00:00+14:00"
    with pytest.raises(ValidationError, match="no UTC offset"):
        Command.model_validate_json(json.dumps(doc))
    upsert = UpsertHelper(profile=HelperProfile.model_validate(profile_doc()))
    doc = new_command(upsert, community_id="c1", issued_at=T0).model_dump(mode="json")
    doc["body"]["profile"]["availability"] = [{"window": {"start": "08:00+01:00", "end": "09:00"}}]
    with pytest.raises(ValidationError, match="no UTC offset"):
        Command.model_validate_json(json.dumps(doc))


def test_the_admin_upsert_refuses_an_offset_and_the_roster_ledger_makes_none() -> None:
    """`upsert_helper` answers a ValueError from `to_profile` with 422 invalid_helper; the
    ledger's cells (dispatcher/roster/cells.py) build local times from the text."""
    body = {
        "helper_id": "h1",
        "place": PLACE,
        "do_not_disturb": {"start": "00:00+14:00", "end": "07:00"},
    }
    with pytest.raises(ValueError, match="no UTC offset"):
        HelperIn.model_validate(body).to_profile()
    weekly = {
        "helper_id": "h1",
        "place": PLACE,
        "availability": [{"start": "08:00Z", "end": "09:00"}],
    }
    with pytest.raises(ValueError, match="no UTC offset"):
        HelperIn.model_validate(weekly).to_profile()
    naive = {**body, "do_not_disturb": {"start": "22:00", "end": "07:00"}}
    assert HelperIn.model_validate(naive).to_profile().do_not_disturb == TimeWindow(
        start=time(22), end=time(7)
    )
    for text in ("周一至周五 18:00-22:00", "周末全天", "晚上", "随时"):
        for w in parse_availability(text):
            assert w.window.start.tzinfo is None and w.window.end.tzinfo is None


def test_a_stored_record_from_before_keeps_its_clock_time_and_loses_the_offset() -> None:
    """The worker's tables may hold a profile the old code accepted: read with `STORED` it
    is repaired (22:00 stays 22:00 local), and the core can compare it again."""
    rec = {
        "profile": profile_doc(
            do_not_disturb={"start": "00:00:00+14:00", "end": "23:59:00"},
            availability=[{"window": {"start": "08:00:00Z", "end": "20:00:00"}}],
        )
    }
    with pytest.raises(ValidationError, match="no UTC offset"):
        HelperState.model_validate(rec)  # never silently, outside a stored record
    profile = HelperState.model_validate(rec, context=STORED).profile
    assert profile.do_not_disturb == TimeWindow(start=time(0), end=time(23, 59))
    assert profile.availability[0].window == TimeWindow(start=time(8), end=time(20))
    local = profile.local_time(datetime(2031, 5, 4, 17, tzinfo=UTC)).time()
    assert profile.do_not_disturb.contains(local)  # 01:00 local: no TypeError
    assert profile.availability[0].contains(0, local) is False
