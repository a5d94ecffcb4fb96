"""Session 43 review R3 of the whistle contacts' reachability checks (2288f11).

- A contact's name is free text the planner logs when it cannot reach the contact: a phone
  or flat in it is refused when written, and one stored before is logged digits masked.
- The 409 `endpoint_in_use` names the contact's community and name only to staff who may
  act in that community (an endpoint's owner may be a string such as "siming.duty" that is
  also a community id: its staff may change the endpoint, not read siming's contacts).
- The referral's staff-call report blames unreachable contacts only when they are of the
  roles the referral calls (duty, grid worker), and warns of those only.
- What an edit keeps as stored (a stale contact, empty quiet hours) does not refuse an
  unrelated edit (`config set-community --hotline` sends the stored document back whole);
  and a contact's area may be a bot group's compound the document does not list."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.staff_accounts import token_hash
from dispatcher.config.view import ConfigView, endpoint_state
from dispatcher.push.deliveries import CONTACTS_UNREACHABLE, NOBODY_TO_CALL
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.settings import Settings
from schemas.config import ConfigKind
from schemas.events import Event
from schemas.vocab import Skill
from tests.support.config_records import old_record
from tests.support.in_process import api_client
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_api_clock import AuditPool, RecordingSink
from tests.unit.test_config_contacts_reached_s43 import (
    GRIDS,
    applied,
    doc,
    edits,
    refused,
    webhook,
)
from tests.unit.test_config_endpoint_names import bearer
from tests.unit.test_push_endpoint_owners import planner

OTHER = "other-community"
PHONE = "13812345678"


def stored(view: ConfigView, contacts: list[dict[str, Any]], **more: Any) -> None:
    """The community as a configuration written before these checks stored it."""
    state = doc(contacts, [], **more)
    del state["push_endpoints"]
    assert view.apply(old_record(ConfigKind.COMMUNITY, COMMUNITY, state, (COMMUNITY,)))


def first(world: World, kind: str) -> Event:
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit()
    for _ in range(400):
        if found := [e for e in world.events if e.body.type == kind]:
            return found[0]
        world.tick()
    raise AssertionError(f"no {kind}")


# --- a phone or flat in a contact's name -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        (f"王网格员{PHONE}", "contact_name_has_phone"),
        ("王网格员 138 1234 5678", "contact_name_has_phone"),
        ("物业3号楼2单元502室", "contact_name_has_flat"),
    ],
)
def test_a_phone_or_flat_in_a_contacts_name_is_refused_when_written(name: str, code: str) -> None:
    contact = {"role": "grid_worker", "name": name, "endpoint": "gw"}
    error = refused(lambda: edits(ConfigView()).document(COMMUNITY, doc([contact], ["gw"])))
    assert error.code == code
    assert "contacts.0.name" in str(error) and "5678" not in str(error) and "502" not in str(error)
    # A name only is taken.
    c = edits(ConfigView())
    c.document(COMMUNITY, doc([{**contact, "name": "3号楼物业王经理"}], ["gw"]))
    assert c.outcome.records


def test_a_name_stored_with_a_phone_is_logged_masked_by_the_planner() -> None:
    view = ConfigView()
    stored(view, [{"role": "grid_worker", "name": f"王网格员{PHONE}", "endpoint": "gone"}])
    world = World()
    planned = planner(world, view).plan(first(world, "whistle_blown"))
    lost = [w for w in planned.warnings if "unreachable" in w]
    assert len(lost) == 1 and "grid_worker" in lost[0] and "王网格员" in lost[0]
    said = lost[0].split("contact ")[1].split(" unreachable")[0]
    assert said == "grid_worker '王网格员[phone]'", lost[0]


# --- the referral counts only the roles it calls ---------------------------------------------


def test_an_unreachable_property_contact_is_not_what_the_referral_lacks() -> None:
    view = ConfigView()
    stored(view, [{"role": "property", "name": "物业", "endpoint": "gone"}])
    world = World()
    planned = planner(world, view).plan(first(world, "referred_to_emergency"))
    assert planned.call is not None
    assert planned.call.report.reason == NOBODY_TO_CALL
    assert not any("物业" in w for w in planned.warnings)


def test_an_unreachable_grid_worker_is_what_the_referral_lacks() -> None:
    view = ConfigView()
    stored(
        view,
        [
            {"role": "property", "name": "物业", "endpoint": "gone"},
            {"role": "grid_worker", "name": "小林", "endpoint": "gone-too"},
        ],
    )
    world = World()
    planned = planner(world, view).plan(first(world, "referred_to_emergency"))
    assert planned.call is not None
    assert planned.call.report.reason == CONTACTS_UNREACHABLE
    assert any("小林" in w for w in planned.warnings)
    assert not any("物业" in w for w in planned.warnings)


# --- what an edit keeps as stored ------------------------------------------------------------


@pytest.mark.parametrize(
    "contact",
    [
        {"role": "property", "name": "物业", "endpoint": "other-pm"},  # another community's
        {"role": "property", "name": "物业", "endpoint": "gone"},
        {"role": "property", "name": "物业", "endpoint": "pm", "compound_id": "nowhere"},
        {"role": "property", "name": f"物业{PHONE}", "endpoint": "pm"},
    ],
)
def test_a_stale_contact_kept_as_stored_lets_an_unrelated_edit_through(
    contact: dict[str, Any],
) -> None:
    view = ConfigView()
    c = edits(view)
    c.endpoint(webhook("other-pm"), OTHER)
    c.endpoint(webhook("pm"), COMMUNITY)
    applied(view, c)
    stored(view, [contact], grids=GRIDS)
    state = view.raw_state(ConfigKind.COMMUNITY, COMMUNITY)
    assert state is not None
    c = edits(view)
    c.document(COMMUNITY, {**state, "hotlines": [{"label": "社区值班", "number": "0592-5550101"}]})
    assert [r.key for r in c.outcome.records] == [f"community/{COMMUNITY}"]
    # Changed, it is a new contact: checked.
    changed = {**contact, "name": contact["name"] + "处"}
    assert refused(lambda: edits(view).document(COMMUNITY, {**state, "contacts": [changed]}))


def test_empty_quiet_hours_kept_as_stored_let_an_unrelated_edit_through() -> None:
    view = ConfigView()
    stored(view, [], quiet_hours={"start": "22:00", "end": "22:00"})
    state = view.raw_state(ConfigKind.COMMUNITY, COMMUNITY)
    assert state is not None
    c = edits(view)
    c.document(COMMUNITY, {**state, "display_name": "图强社区居委会"})
    assert [r.key for r in c.outcome.records] == [f"community/{COMMUNITY}"]
    changed = {**state, "quiet_hours": {"start": "23:00", "end": "23:00"}}
    error = refused(lambda: edits(view).document(COMMUNITY, changed))
    assert "start when they end" in str(error)


def test_a_contact_for_a_bot_groups_compound_the_document_does_not_list_is_taken() -> None:
    view = ConfigView()
    c = edits(view)
    group = {"community_id": COMMUNITY, "grid_id": "g1", "compound_id": "xinyuan"}
    c.bot({"bot_id": "b1", "communities": [COMMUNITY], "groups": {"grp": group}})
    applied(view, c)
    contact = {"role": "property", "name": "新苑物业", "endpoint": "pm", "compound_id": "xinyuan"}
    c = edits(view)
    c.document(COMMUNITY, doc([contact], ["pm"], grids=GRIDS))
    applied(view, c)
    assert [x.name for x in view.whistle_recipients(COMMUNITY, "g1", "xinyuan")] == ["新苑物业"]
    # A compound no group and no grid names is still a typo.
    typo = {**contact, "compound_id": "xinyaun"}
    error = refused(lambda: edits(view).document(COMMUNITY, doc([typo], ["pm"], grids=GRIDS)))
    assert error.code == "unknown_area"


# --- the 409 names the contact only to its community's staff ---------------------------------

DOTTED = "dotted-" + "o" * 40
BOTH = "both-" + "b" * 40
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


async def test_the_409_names_a_contact_only_to_staff_of_its_community(tmp_path: Path) -> None:
    """An endpoint seeded from the environment is owned by "siming.duty", a valid community
    id: staff scoped to it may delete the endpoint, and were told siming's contact."""
    staff = tmp_path / "staff.json"
    accounts = [
        {"name": "dotted", "token_sha256": token_hash(DOTTED), "communities": ["siming.duty"]},
        {
            "name": "both",
            "token_sha256": token_hash(BOTH),
            "communities": ["siming.duty", "siming"],
        },
    ]
    staff.write_text(json.dumps({"staff": accounts}))
    settings = Settings(staff_token="district-" + "d" * 40, staff_file=staff)
    deps = ApiDeps(settings=settings, sink=RecordingSink(), _pool=AuditPool())  # type: ignore[arg-type]
    view: ConfigView = deps.config
    ep = EndpointConfig.model_validate(
        {
            "name": "community-siming.duty",
            "kind": "webhook",
            "url": "https://x.example/h",
            "secret": SECRET,
        }
    )
    state = endpoint_state(ep, "siming.duty")
    assert view.apply(old_record(ConfigKind.ENDPOINT, ep.name, state, ("siming.duty",)))
    siming = {
        "community_id": "siming",
        "display_name": "思明",
        "contacts": [{"role": "department", "name": "思明派出所王所长", "endpoint": ep.name}],
    }
    assert view.apply(old_record(ConfigKind.COMMUNITY, "siming", siming, ("siming",)))
    async with api_client(create_app(settings, deps)) as client:
        url = f"/v1/admin/config/endpoints/{ep.name}"
        r = await client.delete(url, headers=bearer(DOTTED))
        assert r.status_code == 409, r.text
        assert r.json()["detail"]["reason"] == "endpoint_in_use"
        assert "王所长" not in r.text and "'siming'" not in r.text
        r = await client.delete(url, headers=bearer(BOTH))
        assert r.status_code == 409 and "思明派出所王所长" in r.text, r.text
    assert ep.name in view.endpoints
