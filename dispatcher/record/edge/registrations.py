"""Pending self-registrations (`helper_registrations`): written by the API's join page,
decided by staff. The profile (with the phone) and the phone's digest are kept only while
a sign-up is pending, a rejected one's name, building and channel only until staff reject
it (the person was never on the roster). A sign-up staff never decide lapses
`DISPATCH_SIGNUP_PENDING_DAYS` after it was made (`lapse`, run by the purge) and forgets
what a rejected one does, its keyed helper id too. Every sign-up is kept,
several for one phone too: staff see how many share it (by its last four digits) and
choose; one whose sign-up lapsed may sign up again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from dispatcher.record.db import Db, Row
from schemas.helpers import HelperProfile

# What a sign-up of a person never on the roster (rejected, or lapsed undecided) keeps of
# them: nothing. The row keeps its id, skills, and who decided when.
_NEVER_ON_ROSTER: Final = ("rejected", "lapsed")
# Its helper id is no longer the keyed one: that is a digest of (community, phone), the same
# for every sign-up with the phone, so the same number signing up again (the person, or
# anyone typing it) would link the forgotten row to the new one, in the table and in staff's
# `?status=rejected`/`lapsed` list. Nothing reads a decided row's id (`whose` and `claim`
# find it decided: 409); an approved one keeps its id, the roster's. Migration 0416 did the
# same to rows forgotten before, and every purge to rows the previous release's API forgot
# during an upgrade (`unlink_forgotten`).
_FORGOTTEN: Final = "'forgotten-' || registration_id"


@dataclass(frozen=True)
class Pending:
    registration_id: str
    community_id: str
    helper_id: str
    profile: HelperProfile


async def submit(
    db: Db,
    profile: HelperProfile,
    channel: str | None,
    nonce: str,
    now: datetime,
    phone_key: str | None,
) -> str:
    """The new sign-up's id (a second for the same phone is kept as well: the first may be
    someone else's, who typed this number)."""
    rid = str(uuid.uuid4())
    place = profile.place
    inserted = await db.fetchval(
        """
        INSERT INTO helper_registrations (registration_id, community_id, helper_id,
            display_name, building_name, skills, channel, profile, invite_nonce, created_at,
            phone_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)
        RETURNING registration_id
        """,
        rid,
        place.community_id,
        profile.helper_id,
        profile.name,
        place.building_name or place.building_id or "",
        [s.value for s in profile.skills],
        channel,
        profile.model_dump_json(),
        nonce,
        now,
        phone_key,
    )
    return str(inserted)


async def listed(db: Db, community_id: str, status: str) -> list[Row]:
    """What staff see: no profile, no phone but its last four digits while pending, how
    many pending sign-ups share it (same phone, same keyed id), and whether the person is
    a helper already (by id, or by phone under another id: a ledger's 编号)."""
    rows = await db.fetch(
        """
        SELECT registration_id, helper_id, display_name, building_name, skills, channel,
               status, created_at, decided_at, decided_by,
               right(profile->>'phone', 4) AS phone_tail,
               (SELECT count(*) FROM helper_registrations o
                WHERE o.community_id = r.community_id AND o.helper_id = r.helper_id
                  AND o.status = 'pending') AS same_phone,
               EXISTS (SELECT 1 FROM helpers h WHERE h.helper_id = r.helper_id AND h.active)
               OR EXISTS (
                   SELECT 1 FROM helper_phone_keys k LEFT JOIN helpers h
                     ON h.helper_id = k.helper_id AND h.community_id = k.community_id
                   WHERE k.community_id = r.community_id AND k.phone_key = r.phone_key
                     AND h.active IS NOT false
               ) AS in_roster
        FROM helper_registrations r WHERE community_id = $1 AND status = $2
        ORDER BY created_at, registration_id
        """,
        community_id,
        status,
    )
    return [dict(r) for r in rows]


async def whose(db: Db, registration_id: str) -> tuple[str, str] | None:
    """(community id, helper id) of a sign-up, or None."""
    row = await db.fetchrow(
        "SELECT community_id, helper_id FROM helper_registrations WHERE registration_id = $1",
        registration_id,
    )
    return (row["community_id"], row["helper_id"]) if row else None


async def in_roster(db: Db, helper_id: str) -> bool:
    """Already an active helper (a ledger import, an earlier sign-up)."""
    return bool(await db.fetchval("SELECT active FROM helpers WHERE helper_id = $1", helper_id))


async def claim(
    db: Db, registration_id: str, status: str, by: str, now: datetime
) -> Pending | None:
    """Decide a pending sign-up (one decision wins: the row is claimed atomically, and
    locked until the caller's transaction ends) and return it, or None when it was not
    pending."""
    row = await db.fetchrow(
        """
        UPDATE helper_registrations SET status = $2, decided_by = $3, decided_at = $4
        WHERE registration_id = $1 AND status = 'pending'
        RETURNING community_id, helper_id, profile
        """,
        registration_id,
        status,
        by,
        now,
    )
    if row is None:
        return None
    profile = HelperProfile.model_validate_json(row["profile"])
    return Pending(registration_id, row["community_id"], row["helper_id"], profile)


async def forget(db: Db, registration_id: str) -> None:
    """Decided: the phone is in the roster (approved) or needed by nobody (rejected). A
    rejected person was never on the roster: their name, building, channel and keyed
    helper id go too (the row keeps its id, skills and who decided when). An approved one's
    stay while they are on the roster (a retirement erases the name, roster_members.py)."""
    await db.execute(
        f"""
        UPDATE helper_registrations SET profile = NULL, phone_key = NULL,
            helper_id = CASE WHEN status = ANY($2::text[]) THEN {_FORGOTTEN} ELSE helper_id END,
            display_name = CASE WHEN status = ANY($2::text[]) THEN '' ELSE display_name END,
            building_name = CASE WHEN status = ANY($2::text[]) THEN '' ELSE building_name END,
            channel = CASE WHEN status = ANY($2::text[]) THEN NULL ELSE channel END
        WHERE registration_id = $1
        """,
        registration_id,
        list(_NEVER_ON_ROSTER),
    )


async def lapse(db: Db, made_before: datetime, now: datetime) -> int:
    """Sign-ups still pending that were made before `made_before` lapse (how many): nobody
    decided them, so they forget the person as a rejection does (name, building, channel,
    profile with the phone, phone digest, keyed helper id); `decided_at` is when they
    lapsed, `decided_by` stays empty. One statement: a staff decision of the same sign-up
    either claimed it first (no longer pending: skipped here) or finds it lapsed (409,
    already decided). The person may sign up again: only pending sign-ups are counted per
    phone."""
    lapsed = await db.fetchval(
        f"""
        WITH l AS (
            UPDATE helper_registrations
            SET status = 'lapsed', decided_at = $2, profile = NULL, phone_key = NULL,
                display_name = '', building_name = '', channel = NULL, helper_id = {_FORGOTTEN}
            WHERE status = 'pending' AND created_at < $1
            RETURNING 1)
        SELECT count(*) FROM l
        """,
        made_before,
        now,
    )
    return int(lapsed)


async def unlink_forgotten(db: Db) -> int:
    """Rejected and lapsed sign-ups still holding the keyed helper id get their own (how
    many): migration 0416's statement, run by every purge. During an upgrade the previous
    release's API serves after 0416 ran (its pods until replaced, its hourly purge), and
    its `forget`/`lapse` keep the keyed id; without this nothing unlinked those rows later.
    Finds nothing once every such row is unlinked."""
    unlinked = await db.fetchval(
        f"""
        WITH u AS (
            UPDATE helper_registrations SET helper_id = {_FORGOTTEN}
            WHERE status = ANY($1::text[]) AND helper_id <> {_FORGOTTEN}
            RETURNING 1)
        SELECT count(*) FROM u
        """,
        list(_NEVER_ON_ROSTER),
    )
    return int(unlinked)
