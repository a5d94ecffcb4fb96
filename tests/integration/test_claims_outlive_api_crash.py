"""A press that claimed something and then failed, or whose API died before Kafka's ack,
is never lost or used up with nothing sent (review finding: offer, recipient and sign-up
claims were burned).

The crash is real: the press goes to an API whose commands topic does not exist (topics are
never auto-created), so its send waits for Kafka; once the claim is in PostgreSQL that API
is SIGKILLed and the API started again as usual. The transient failure is real too: a
PostgreSQL trigger fails the recipient link's audit row once.

- an offer link: the next press sends the stored accept, the team leader's member included;
  with the sweeper on and nobody pressing, the sweeper sends it, members included;
- a recipient's claim link: a failed audit row or a crash leaves it usable, the next press
  claims; with the sweeper on, the sweeper sends it;
- a sign-up's approval: a crash leaves it pending; approving again adds the helper;
- a team count that is no count (`members=²`) is refused with 422, claiming nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest

from dispatcher.recipient_links import recipient_links
from dispatcher.testing.stack import LocalStack, Proc
from tests.support import builders
from tests.support.held_ends import resolve
from tests.support.links import offer_path
from tests.support.team_offers import team_request
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
CSV = "text/csv; charset=utf-8"
COMMUNITY = "crash-claims"
NAVIGATE = {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
ROSTER = (
    "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
    "leader-1,陈队长,13800000203,c1,图强小区,g1,5号楼,搬运,否,志愿者,帮帮团(队长)\n"
    "member-1,吴师傅,13800000204,c1,图强小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
    "member-2,赵师傅,13800000205,c1,图强小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
)
SWEEPER_OFF = {"DISPATCH_RECONCILE_ENABLED": "false"}  # only the presses send
SWEEPER_ON = {
    "DISPATCH_RECONCILE_ENABLED": "true",
    "DISPATCH_RECONCILE_GRACE_SECONDS": "2",
    "DISPATCH_RECONCILE_INTERVAL_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.extra_env.update(SWEEPER_OFF)
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        r = await client.post(
            f"/v1/admin/communities/{COMMUNITY}/roster",
            content=ROSTER.encode(),
            headers={**STAFF, "content-type": CSV},
        )
        assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    yield stack


# ------------------------------------------------------------------------- the crash
async def _answering(stack: LocalStack, proc: Proc) -> None:
    """Up (liveness only: its commands topic is absent, so it is never ready)."""

    async def live() -> bool:
        assert proc.alive(), proc.log_tail()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=2) as c:
            with contextlib.suppress(httpx.HTTPError):
                return (await c.get("/healthz")).status_code == 200
        return False

    await eventually(live, what="the API answering")


async def crash_mid_send(
    stack: LocalStack,
    press: Callable[[], Awaitable[Any]],
    claimed: Callable[[], Awaitable[bool]],
    restart_env: dict[str, str],
) -> None:
    """Press on an API whose Kafka send cannot complete, SIGKILL it once `claimed`, and
    start the API again (with `restart_env`). That API's commands topic does not exist
    (topics are never auto-created): its send waits up to 10 s for the topic's metadata."""
    next(p for p in reversed(stack.procs) if p.name == "api" and p.alive()).stop()
    absent = stack.env(DISPATCH_COMMANDS_TOPIC=stack.topic("commands-absent"))
    doomed = stack.spawn("api", "api", env=absent)
    try:
        await _answering(stack, doomed)
        pressed = asyncio.create_task(press())
        await eventually(claimed, timeout=8, what="the claim made, Kafka's ack not come")
        assert not pressed.done(), pressed.result()
    finally:
        doomed.kill()  # SIGKILL: no release, no rollback but PostgreSQL's own
    with contextlib.suppress(httpx.HTTPError):
        await pressed
    stack.extra_env.update(restart_env)
    await stack.start_api()


async def row_locked(db: asyncpg.Connection, sql: str, *args: object) -> bool:
    """Another transaction holds the row (FOR UPDATE NOWAIT refused)."""
    try:
        async with db.transaction():
            await db.fetchval(sql + " FOR UPDATE NOWAIT", *args)
    except asyncpg.LockNotAvailableError:
        return True
    return False


# ------------------------------------------------------------------------- offers
async def assigned(db: asyncpg.Connection, rid: str) -> list[tuple[str, str | None]] | None:
    rows = await db.fetch(
        "SELECT helper_id, signed_up_by FROM assignments WHERE request_id = $1 ORDER BY slot",
        rid,
    )
    return [(r["helper_id"], r["signed_up_by"]) for r in rows] if len(rows) == 2 else None


def link_used(db: asyncpg.Connection, offer_id: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        n = await db.fetchval("SELECT count(*) FROM api_link_uses WHERE offer_id = $1", offer_id)
        return bool(n)

    return probe


async def test_a_count_that_is_no_number_is_refused_and_claims_nothing(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, offer_id = await team_request(client, db, COMMUNITY, "leader-1", 2)
    path = offer_path(api, COMMUNITY, rid, offer_id, "leader-1")
    for count in ("²", "9" * 4301):
        r = await client.post(path, data={"members": count})
        assert r.status_code == 422 and "人数无效" in r.text, (r.status_code, r.text[:200])
    assert not await link_used(db, offer_id)()
    r = await client.post(path, data={"members": "2"})  # the link still works
    assert r.status_code == 200, r.text
    # The request ends (resolved): leader-1, who went in person, is offered the next tests'.
    await resolve(client, db, rid)


async def test_an_accept_cut_off_by_a_crash_is_sent_by_the_next_press(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, offer_id = await team_request(client, db, COMMUNITY, "leader-1", 2)
    path = offer_path(api, COMMUNITY, rid, offer_id, "leader-1")
    phone = httpx.AsyncClient(base_url=api.api_url, timeout=60)
    assert (await phone.get(path, headers=NAVIGATE)).status_code == 200  # bound to this phone
    form = {"named": "1", "member": "member-2"}
    try:
        await crash_mid_send(
            api, lambda: phone.post(path, data=form), link_used(db, offer_id), SWEEPER_OFF
        )
        cookies = phone.cookies
    finally:
        await phone.aclose()
    async with httpx.AsyncClient(base_url=api.api_url, timeout=60, cookies=cookies) as phone:
        # Opening the link again shows the answer was not delivered, never "confirming".
        opened = await phone.get(path, headers=NAVIGATE)
        assert opened.status_code == 200 and "没有送达" in opened.text, opened.text
        again = await phone.post(path, data=form)
        assert again.status_code == 200, again.text  # not 202 "received" for nothing sent
    both = await eventually(lambda: assigned(db, rid), what="the leader and the member assigned")
    assert both == [("leader-1", None), ("member-2", "leader-1")]
    await resolve(client, db, rid)  # leader-1 and member-2 free again for the sweeper's test


# ------------------------------------------------------------------------- recipients
async def recorded_request(client: httpx.AsyncClient, db: asyncpg.Connection, b: str) -> str:
    body = builders.request(COMMUNITY, source=None, place=builders.place(COMMUNITY, building=b))
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = str(r.json()["request_id"])
    await eventually(
        lambda: db.fetchval("SELECT 1 FROM requests WHERE request_id = $1", rid),
        what="the request recorded",
    )
    return rid


def claim_path(stack: LocalStack, rid: str) -> str:
    url = recipient_links(
        stack.settings(),
        request_id=rid,
        community_id=COMMUNITY,
        recipient=f"community-{COMMUNITY}.grid_worker",
        role="grid_worker",
        now=datetime.now(UTC),
    )["claim"]
    return url.removeprefix(stack.api_url)


async def claimed_by(db: asyncpg.Connection, rid: str) -> str | None:
    return await db.fetchval(  # type: ignore[no-any-return]
        "SELECT claimed_by FROM requests WHERE request_id = $1", rid
    )


GRID = f"recipient:community-{COMMUNITY}.grid_worker"


async def test_a_failed_audit_row_leaves_the_recipient_link_usable(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, db, "b1")
    path = claim_path(api, rid)
    await db.execute(
        """
        CREATE SEQUENCE audit_failures;
        CREATE FUNCTION fail_first_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN  -- a sequence is not rolled back: the first insert fails, later ones pass
          IF nextval('audit_failures') = 1 THEN
            RAISE EXCEPTION 'injected: the audit row failed';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER fail_first_audit_row BEFORE INSERT ON staff_actions
          FOR EACH ROW EXECUTE FUNCTION fail_first_audit_row();
        """
    )
    try:
        failed = await client.post(path)
        assert failed.status_code == 503 and "请稍后再点一次" in failed.text, failed.text
        again = await client.post(path)
        assert again.status_code == 200, again.text  # not 409 "already used"
    finally:
        await db.execute(
            "DROP TRIGGER fail_first_audit_row ON staff_actions; "
            "DROP FUNCTION fail_first_audit_row(); DROP SEQUENCE audit_failures"
        )
    assert await eventually(lambda: claimed_by(db, rid), what="the claim applied") == GRID
    assert (await client.post(path)).status_code == 409  # used, and acknowledged: once


async def test_a_recipient_claim_cut_off_by_a_crash_is_sent_by_the_next_press(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await recorded_request(client, db, "b2")
    path = claim_path(api, rid)

    async def used() -> bool:
        n = await db.fetchval("SELECT count(*) FROM recipient_link_uses WHERE request_id = $1", rid)
        return bool(n)

    async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as phone:
        await crash_mid_send(api, lambda: phone.post(path), used, SWEEPER_OFF)
    async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as phone:
        again = await phone.post(path)
        assert again.status_code == 200, again.text  # not 409 "already used"
        assert (await phone.post(path)).status_code == 409
    assert await eventually(lambda: claimed_by(db, rid), what="the claim applied") == GRID
    row = await db.fetchrow("SELECT actor, queued FROM staff_actions WHERE request_id = $1", rid)
    assert (row["actor"], row["queued"]) == (GRID, True)


# ------------------------------------------------------------------------- sign-ups
async def test_an_approval_cut_off_by_a_crash_leaves_the_sign_up_pending(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    r = await client.post(
        f"/v1/staff/communities/{COMMUNITY}/invites",
        json={"compound_id": "c1", "compound_name": "图强小区", "valid_hours": 24},
        headers=STAFF,
    )
    assert r.status_code == 201, r.text
    form = {"name": "张阿姨", "phone": "13812345699", "building": "A座", "skills": ["errands"]}
    signed = await client.post(urlparse(r.json()["url"]).path, data=form)
    assert signed.status_code == 200, signed.text
    r = await client.get(f"/v1/staff/communities/{COMMUNITY}/registrations", headers=STAFF)
    [signup] = r.json()
    reg, helper_id = signup["registration_id"], signup["helper_id"]
    url = f"/v1/staff/communities/{COMMUNITY}/registrations/{reg}/approve"
    row = "SELECT status FROM helper_registrations WHERE registration_id = $1"

    async def deciding() -> bool:
        status = await db.fetchval(row, reg)
        return status != "pending" or await row_locked(db, row, reg)

    async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as staff:
        await crash_mid_send(api, lambda: staff.post(url, headers=STAFF), deciding, SWEEPER_OFF)
    assert await db.fetchval(row, reg) == "pending"
    async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as staff:
        approved = await staff.post(url, headers=STAFF)
        assert approved.status_code == 200, approved.text  # not 409 "already decided"
    await eventually(
        lambda: db.fetchval("SELECT active FROM helpers WHERE helper_id = $1", helper_id),
        what="the helper in the roster",
    )
    profile = await db.fetchval(
        "SELECT profile FROM helper_registrations WHERE registration_id = $1", reg
    )
    assert profile is None  # the phone is not kept once decided


# ------------------------------------------------------------------------- the sweeper
async def test_the_sweeper_sends_what_was_pressed_when_nobody_presses_again(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid, offer_id = await team_request(client, db, COMMUNITY, "leader-1", 2)
    path = offer_path(api, COMMUNITY, rid, offer_id, "leader-1")
    claim_rid = await recorded_request(client, db, "b3")
    claim = claim_path(api, claim_rid)

    async def both_used() -> bool:
        links = await link_used(db, offer_id)()
        n = await db.fetchval(
            "SELECT count(*) FROM recipient_link_uses WHERE request_id = $1", claim_rid
        )
        return links and bool(n)

    async def press_both() -> None:
        async with httpx.AsyncClient(base_url=api.api_url, timeout=60) as phone:
            await asyncio.gather(
                phone.post(path, data={"named": "1", "member": "member-1"}),
                phone.post(claim),
                return_exceptions=True,
            )

    await crash_mid_send(api, press_both, both_used, SWEEPER_ON)
    try:
        both = await eventually(
            lambda: assigned(db, rid), what="the sweeper's accept, the member included"
        )
        assert both == [("leader-1", None), ("member-1", "leader-1")]
        assert await eventually(lambda: claimed_by(db, claim_rid), what="the claim") == GRID
    finally:
        api.extra_env.update(SWEEPER_OFF)
