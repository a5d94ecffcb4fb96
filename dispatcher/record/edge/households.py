"""Households and their contact cards (the `households` edge table): written by the
household ledger import, read by the card's intake (dispatcher/api/households.py). A
household a re-import no longer lists is retired (`retired_at`): its card says so instead
of making a request; listed again, it is revived with the same card."""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from dispatcher.record.db import Db
from schemas.households import Household, Vulnerability
from schemas.places import PlacePath


@dataclass(frozen=True)
class CardHousehold:
    household: Household
    paired_helper_ids: tuple[str, ...]
    retired: bool = False


@dataclass(frozen=True)
class Listed:
    """A household an earlier ledger listed and nobody has retired since."""

    household_id: str
    compound_id: str | None
    building_label: str | None
    paired_helper_ids: tuple[str, ...]


async def listed(db: Db, community_id: str, compound_ids: Collection[str]) -> list[Listed]:
    rows = await db.fetch(
        "SELECT household_id, place, paired_helper_ids FROM households "
        "WHERE community_id = $1 AND place->>'compound_id' = ANY($2::text[]) "
        "AND retired_at IS NULL ORDER BY household_id",
        community_id,
        list(compound_ids),
    )
    out = []
    for r in rows:
        place = PlacePath.model_validate_json(r["place"])
        out.append(
            Listed(
                r["household_id"],
                place.compound_id,
                place.building_label(),
                tuple(r["paired_helper_ids"]),
            )
        )
    return out


async def retire(db: Db, community_id: str, household_ids: Collection[str], now: datetime) -> None:
    await db.execute(
        "UPDATE households SET retired_at = $3 "
        "WHERE community_id = $1 AND household_id = ANY($2::text[]) AND retired_at IS NULL",
        community_id,
        list(household_ids),
        now,
    )


def new_card_token() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits: a card cannot be guessed


async def record(
    db: Db,
    listed: Sequence[tuple[Household, Sequence[str]]],
    now: datetime,
) -> dict[str, str]:
    """Upsert the households (a re-import keeps each card's token and revives a retired
    one); returns household id → card token."""

    if not listed:
        return {}
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _record(conn, listed, now)
    return await _record(db, listed, now)


async def _record(
    conn: asyncpg.Connection,
    listed: Sequence[tuple[Household, Sequence[str]]],
    now: datetime,
) -> dict[str, str]:
    async with conn.transaction():
        await conn.executemany(
            """
            INSERT INTO households (community_id, household_id, place, tags, contact,
                                    paired_helper_ids, card_token, listed_at)
            VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6, $7, $8)
            ON CONFLICT (community_id, household_id) DO UPDATE SET
                place = EXCLUDED.place, tags = EXCLUDED.tags, contact = EXCLUDED.contact,
                paired_helper_ids = EXCLUDED.paired_helper_ids, listed_at = EXCLUDED.listed_at,
                retired_at = NULL
            """,
            [
                (
                    h.community_id,
                    h.household_id,
                    h.place.model_dump_json(),
                    [t.value for t in h.tags],
                    json.dumps(
                        {"name": h.name, "phone": h.phone, "address": h.address},
                        ensure_ascii=False,
                    ),
                    list(paired),
                    new_card_token(),
                    now,
                )
                for h, paired in listed
            ],
        )
        rows = await conn.fetch(
            "SELECT household_id, card_token FROM households "
            "WHERE community_id = $1 AND household_id = ANY($2::text[])",
            listed[0][0].community_id,
            [h.household_id for h, _ in listed],
        )
    return {r["household_id"]: r["card_token"] for r in rows}


async def by_card(pool: Db, token: str) -> CardHousehold | None:
    row = await pool.fetchrow(
        "SELECT household_id, place, tags, contact, paired_helper_ids, retired_at "
        "FROM households WHERE card_token = $1",
        token,
    )
    if row is None:
        return None
    contact = json.loads(row["contact"])
    household = Household(
        household_id=row["household_id"],
        place=PlacePath.model_validate_json(row["place"]),
        tags=tuple(Vulnerability(t) for t in row["tags"]),
        name=contact.get("name"),
        phone=contact.get("phone"),
        address=contact.get("address"),
    )
    return CardHousehold(
        household, tuple(row["paired_helper_ids"]), retired=row["retired_at"] is not None
    )
