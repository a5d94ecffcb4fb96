"""Pending self-registrations (`helper_registrations`): written by the API's join page,
decided by staff. The profile (with the phone) is kept only while a sign-up is pending."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from dispatcher.record.db import Db, Row
from schemas.helpers import HelperProfile


@dataclass(frozen=True)
class Pending:
    registration_id: str
    community_id: str
    helper_id: str
    profile: HelperProfile


async def submit(
    db: Db, profile: HelperProfile, channel: str | None, nonce: str, now: datetime
) -> str | None:
    """The new sign-up's id, or None when this person already has one pending."""
    rid = str(uuid.uuid4())
    place = profile.place
    inserted = await db.fetchval(
        """
        INSERT INTO helper_registrations (registration_id, community_id, helper_id,
            display_name, building_name, skills, channel, profile, invite_nonce, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
        ON CONFLICT (helper_id) WHERE status = 'pending' DO NOTHING
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
    )
    return str(inserted) if inserted else None


async def listed(db: Db, community_id: str, status: str) -> list[Row]:
    """What staff see: no phone, no profile."""
    rows = await db.fetch(
        """
        SELECT registration_id, helper_id, display_name, building_name, skills, channel,
               status, created_at, decided_at, decided_by,
               EXISTS (SELECT 1 FROM helpers h WHERE h.helper_id = r.helper_id AND h.active)
                 AS in_roster
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
    """Decided: the phone is in the roster (approved) or needed by nobody (rejected)."""
    await db.execute(
        "UPDATE helper_registrations SET profile = NULL WHERE registration_id = $1",
        registration_id,
    )
