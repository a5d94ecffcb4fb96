"""Audit s43 (configuration changed while requests are live), F2, F5, F6.

F2: a whistle contact (a department, the grid worker…) is a name on the community's list
that the push planner reaches through a push endpoint; one whose endpoint was removed,
re-owned by another community or never served it, or whose area the document does not
list, was accepted and then silently skipped by every whistle. Such changes are refused
when written; a configuration stored before (the worker's view still folds it) is said:
a warning per dropped contact and the staff-call report's reason.
F5: a time zone naming a tzdata folder ("America") was a 500 (IsADirectoryError).
F6: community quiet hours that start when they end (22:00-22:00) were accepted and shown as
applied, holding nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.staff_accounts import token_hash
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.policies import policy_for, refresh_policies
from dispatcher.config.view import ConfigView
from dispatcher.core.community import CommunityPolicy
from dispatcher.plans import scaled_plan_sets
from dispatcher.push.deliveries import CONTACTS_UNREACHABLE
from dispatcher.settings import Settings
from schemas.config import CommunityConfig, ConfigKind
from schemas.events import Event
from schemas.vocab import Category, Skill, Urgency
from tests.support.config_records import WRITTEN_AT, old_record
from tests.support.in_process import api_client
from tests.unit.conftest import COMMUNITY, T0, World
from tests.unit.test_api_clock import AuditPool, RecordingSink
from tests.unit.test_config_endpoint_names import bearer
from tests.unit.test_push_endpoint_owners import planner

OTHER = "other-community"
POLICE = {"role": "department", "name": "派出所", "endpoint": "dept-police"}
GRID_WORKER = {"role": "grid_worker", "name": "小林", "endpoint": "gw-lin"}
GRIDS = [
    {
        "grid_id": "g1",
        "compounds": [{"compound_id": "tuqiang", "buildings": [{"building_id": "3"}]}],
    }
]


def edits(view: ConfigView) -> Changes:
    return Changes(view=view, actor="li", now=WRITTEN_AT, production=False)


def applied(view: ConfigView, changes: Changes) -> None:
    for record in changes.outcome.records:
        assert view.apply(record)


def webhook(name: str) -> dict[str, Any]:
    return {"name": name, "kind": "webhook", "url": f"https://{name}.example/h"}


def doc(contacts: list[dict[str, Any]], endpoints: list[str], **more: Any) -> dict[str, Any]:
    return {
        "community_id": COMMUNITY,
        "display_name": "图强社区",
        "contacts": contacts,
        "push_endpoints": [webhook(n) for n in endpoints],
        **more,
    }


POLICE_EP = webhook("dept-police")


def configured() -> ConfigView:
    view = ConfigView()
    c = edits(view)
    c.document(COMMUNITY, doc([POLICE, GRID_WORKER], ["dept-police", "gw-lin"]))
    applied(view, c)
    return view


def refused(edit: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        edit()
    return caught.value


# --- F2a/b: the endpoint a contact is reached through -------------------------------------


def test_removing_an_endpoint_a_whistle_contact_is_reached_through_is_refused() -> None:
    view = configured()
    c = edits(view)
    error = refused(lambda: c.remove(ConfigKind.ENDPOINT, "dept-police"))
    assert error.code == "endpoint_in_use"
    assert COMMUNITY in str(error) and "派出所" in str(error)
    assert "dept-police" in view.endpoints  # nothing written
    # Once the contact is changed, the endpoint goes.
    c = edits(view)
    c.document(COMMUNITY, doc([GRID_WORKER], []))
    applied(view, c)
    c = edits(view)
    c.remove(ConfigKind.ENDPOINT, "dept-police")
    applied(view, c)
    assert "dept-police" not in view.endpoints


def test_re_owning_a_contacts_endpoint_to_another_community_is_refused() -> None:
    view = configured()
    error = refused(lambda: edits(view).endpoint(webhook("dept-police"), OTHER))
    assert error.code == "endpoint_in_use" and "派出所" in str(error)
    # Nor through the other community's own document.
    other = {"community_id": OTHER, "display_name": "别的社区"}
    error = refused(lambda: edits(view).document(OTHER, {**other, "push_endpoints": [POLICE_EP]}))
    assert error.code == "endpoint_in_use"
    # District-wide (no owner) still serves the community: taken.
    c = edits(view)
    c.endpoint(webhook("dept-police"), None)
    applied(view, c)
    assert view.endpoint_owner("dept-police") is None


def test_an_endpoint_that_never_reached_its_contact_may_still_change() -> None:
    """A contact stored before these checks, naming another community's endpoint: that
    endpoint's owner is not held hostage by it (it changes nothing for the contact)."""
    view = ConfigView()
    c = edits(view)
    c.endpoint(webhook("other-police"), OTHER)
    applied(view, c)
    stale = doc([{**POLICE, "endpoint": "other-police"}], [])
    del stale["push_endpoints"]
    assert view.apply(old_record(ConfigKind.COMMUNITY, COMMUNITY, stale, (COMMUNITY,)))
    c = edits(view)
    c.remove(ConfigKind.ENDPOINT, "other-police")
    assert [r.key for r in c.outcome.records] == ["endpoint/other-police"]


# --- F2c/d: the contacts a community document lists ---------------------------------------


def test_a_contact_naming_another_communitys_endpoint_is_refused() -> None:
    view = ConfigView()
    c = edits(view)
    c.endpoint(webhook("other-police"), OTHER)
    applied(view, c)
    error = refused(
        lambda: edits(view).document(COMMUNITY, doc([{**POLICE, "endpoint": "other-police"}], []))
    )
    assert error.code == "foreign_endpoint"
    assert "派出所" in str(error) and "other-police" in str(error)
    assert OTHER not in str(error)  # whose it is stays theirs


def test_a_contact_naming_no_endpoint_is_still_refused() -> None:
    error = refused(lambda: edits(ConfigView()).document(COMMUNITY, doc([POLICE], [])))
    assert error.code == "unknown_endpoint" and "dept-police" in str(error)


@pytest.mark.parametrize(
    ("area", "said"),
    [
        ({"grid_id": "G1"}, "grid 'G1' is not among the community's grids (g1)"),
        ({"compound_id": "tuqaing"}, "compound 'tuqaing' is not among the compounds"),
        ({"grid_id": "g1", "compound_id": "x"}, "compounds of grid 'g1' (tuqiang)"),
        ({"compound_id": "tuqiang", "building_id": "33"}, "building '33' is not among"),
    ],
)
def test_a_contact_for_an_area_the_document_does_not_list_is_refused(
    area: dict[str, str], said: str
) -> None:
    contact = {**GRID_WORKER, **area}
    error = refused(
        lambda: edits(ConfigView()).document(COMMUNITY, doc([contact], ["gw-lin"], grids=GRIDS))
    )
    assert error.code == "unknown_area"
    assert "小林" in str(error) and said in str(error)


@pytest.mark.parametrize(
    ("area", "grids"),
    [
        ({"grid_id": "g1", "compound_id": "tuqiang", "building_id": "3"}, GRIDS),
        ({"building_id": "3"}, GRIDS),
        ({"grid_id": "g9", "building_id": "7"}, []),  # no grids listed: nothing to check
        ({"grid_id": "g1", "compound_id": "any"}, [{"grid_id": "g1"}]),  # no compounds listed
    ],
)
def test_a_contact_for_a_listed_area_or_where_none_are_listed_is_taken(
    area: dict[str, str], grids: list[dict[str, Any]]
) -> None:
    view = ConfigView()
    c = edits(view)
    c.document(COMMUNITY, doc([{**GRID_WORKER, **area}], ["gw-lin"], grids=grids))
    applied(view, c)
    assert [x.name for x in view.whistle_recipients(COMMUNITY)] == ["小林"]


# --- F2, stored before: the planner says what it drops --------------------------------------


def whistle_of(world: World) -> Event:
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit()
    while not [e for e in world.events if e.body.type == "whistle_blown"]:
        world.tick()
    return next(e for e in world.events if e.body.type == "whistle_blown")


def test_a_contact_stored_unreachable_is_warned_of_and_the_call_says_so() -> None:
    """Written before the refusals: the community lists 派出所 on an endpoint since removed.
    The whistle reaches nobody; the worker's log names the contact (role and name, no
    phone) and the staff-call report does not say nobody is listed."""
    view = ConfigView()
    stale = doc([POLICE], [])
    del stale["push_endpoints"]
    assert view.apply(old_record(ConfigKind.COMMUNITY, COMMUNITY, stale, (COMMUNITY,)))
    world = World()
    planned = planner(world, view).plan(whistle_of(world))
    assert planned.deliveries == []
    assert any("department '派出所'" in w and "dept-police" in w for w in planned.warnings)
    assert planned.call is not None
    assert planned.call.report.reason == CONTACTS_UNREACHABLE
    assert len(CONTACTS_UNREACHABLE) <= 200  # ReportStaffNotReached.reason


def test_a_reachable_contact_plans_no_warning() -> None:
    view = configured()
    world = World()
    planned = planner(world, view).plan(whistle_of(world))
    assert {d.endpoint for d in planned.deliveries} == {"dept-police", "gw-lin"}
    assert planned.warnings == []


# --- F5: a tzdata folder as the time zone ---------------------------------------------------


@pytest.mark.parametrize("zone", ["America", "Asia", "Etc"])
def test_a_time_zone_naming_a_tzdata_folder_is_refused_with_its_reason(zone: str) -> None:
    error = refused(
        lambda: edits(ConfigView()).community(
            {"community_id": "c1", "display_name": "x", "time_zone": zone}
        )
    )
    assert error.code == "invalid"
    assert f"unknown time zone {zone!r}" in str(error)


# --- F6: quiet hours that start when they end -----------------------------------------------

EMPTY_QUIET = {
    "community_id": "c1",
    "display_name": "x",
    "quiet_hours": {"start": "22:00", "end": "22:00"},
}


def test_quiet_hours_that_start_when_they_end_are_refused() -> None:
    error = refused(lambda: edits(ConfigView()).community(EMPTY_QUIET))
    assert error.code == "invalid"
    assert "quiet_hours start when they end (22:00-22:00)" in str(error)
    c = edits(ConfigView())  # a real night is taken
    c.community({**EMPTY_QUIET, "quiet_hours": {"start": "22:00", "end": "07:00"}})
    assert len(c.outcome.records) == 1


def test_such_quiet_hours_stored_before_are_read_as_none_not_as_applied(
    caplog: pytest.LogCaptureFixture,
) -> None:
    view = ConfigView()
    assert view.apply(old_record(ConfigKind.COMMUNITY, "c1", EMPTY_QUIET))  # the rest kept
    community = view.community("c1")
    assert community is not None and community.display_name == "x"
    plans = scaled_plan_sets(1.0)
    policy = policy_for(community, plans)
    assert policy.summary()["quiet_hours"] is None  # the worker's /stats
    spec = World().spec(urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    assert policy.quiet_until(spec, T0) is None
    policies: dict[str, CommunityPolicy] = {}
    refresh_policies(policies, view.communities(), plans)
    assert "c1" in policies
    assert "quiet hours start when they end" in caplog.text


# --- through the staff API (in process: no Kafka, so 409 config_fixed after the checks) -----

DISTRICT = "district-" + "d" * 40
OTHER_STAFF = "other-" + "o" * 40


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ApiDeps]]:
    staff = tmp_path / "staff.json"
    account = {
        "name": "staff-other",
        "token_sha256": token_hash(OTHER_STAFF),
        "communities": [OTHER],
    }
    staff.write_text(json.dumps({"staff": [account]}))
    settings = Settings(staff_token=DISTRICT, staff_file=staff)
    deps = ApiDeps(settings=settings, sink=RecordingSink(), _pool=AuditPool())  # type: ignore[arg-type]
    c = edits(deps.config)
    c.document(COMMUNITY, doc([POLICE, GRID_WORKER], ["dept-police", "gw-lin"]))
    applied(deps.config, c)
    async with api_client(create_app(settings, deps)) as client:
        yield client, deps


async def test_the_api_refuses_deleting_a_contacts_endpoint_with_409_endpoint_in_use(
    api: tuple[httpx.AsyncClient, ApiDeps],
) -> None:
    client, deps = api
    r = await client.delete("/v1/admin/config/endpoints/dept-police", headers=bearer(DISTRICT))
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["reason"] == "endpoint_in_use"
    assert "派出所" in r.json()["detail"]["message"]
    r = await client.put(
        "/v1/admin/config/endpoints/dept-police",
        json={**POLICE_EP, "community_id": OTHER},
        headers=bearer(DISTRICT),
    )
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "endpoint_in_use", r.text
    assert "dept-police" in deps.config.endpoints
    # gw-lin too while 小林 is reached through it; once not, the delete passes the check
    # (and meets this Kafka-less API's config_fixed).
    r = await client.delete("/v1/admin/config/endpoints/gw-lin", headers=bearer(DISTRICT))
    assert r.json()["detail"]["reason"] == "endpoint_in_use"
    c = edits(deps.config)
    c.document(COMMUNITY, doc([POLICE], []))
    applied(deps.config, c)
    r = await client.delete("/v1/admin/config/endpoints/gw-lin", headers=bearer(DISTRICT))
    assert r.json()["detail"]["reason"] == "config_fixed", r.text


async def test_another_communitys_staff_get_the_403_not_the_contacts_name(
    api: tuple[httpx.AsyncClient, ApiDeps],
) -> None:
    client, _ = api
    r = await client.delete("/v1/admin/config/endpoints/dept-police", headers=bearer(OTHER_STAFF))
    assert r.status_code == 403, r.text
    assert "派出所" not in r.text
    doc_other = {"display_name": "别的社区", "push_endpoints": [POLICE_EP]}
    r = await client.put(
        f"/v1/admin/config/communities/{OTHER}", json=doc_other, headers=bearer(OTHER_STAFF)
    )
    assert r.status_code == 403, r.text
    assert "派出所" not in r.text


async def test_the_api_answers_a_folder_time_zone_and_empty_quiet_hours_with_422(
    api: tuple[httpx.AsyncClient, ApiDeps],
) -> None:
    client, _ = api
    for bad, said in (
        ({"time_zone": "America"}, "unknown time zone 'America'"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "start when they end"),
        ({"contacts": [{**GRID_WORKER, "grid_id": "G1"}], "grids": GRIDS}, "grid 'G1'"),
    ):
        body = {"display_name": "图强社区", "push_endpoints": [webhook("gw-lin")], **bad}
        r = await client.put(
            f"/v1/admin/config/communities/{COMMUNITY}", json=body, headers=bearer(DISTRICT)
        )
        assert r.status_code == 422, (bad, r.text)
        assert said in r.json()["detail"]["message"]


def test_what_is_refused_when_written_still_parses_when_read() -> None:
    """The refusals are the write path's: a document stored before keeps its community."""
    CommunityConfig.model_validate(EMPTY_QUIET)
    stale = {**doc([{**GRID_WORKER, "grid_id": "G1"}], [], grids=GRIDS)}
    del stale["push_endpoints"]
    CommunityConfig.model_validate(stale)
