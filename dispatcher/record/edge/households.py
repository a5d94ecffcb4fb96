"""Households and their contact cards (the `households` edge table): written by the
household ledger import, read by the card's intake (dispatcher/api/households.py)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dispatcher.record.db import Db
from schemas.households import Household, Vulnerability
from schemas.places import PlacePath


@dataclass(frozen=True)
class CardHousehold:
    household: Household
    paired_helper_ids: tuple[str, ...]


def new_card_token() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits: a card cannot be guessed


async def record(
    pool: Db,
    listed: Sequence[tuple[Household, Sequence[str]]],
    now: datetime,
) -> dict[str, str]:
    """Upsert the households (a re-import keeps each card's token); returns household id →
    card token."""

    if not listed:
        return {}
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """
            INSERT INTO households (community_id, household_id, place, tags, contact,
                                    paired_helper_ids, card_token, listed_at)
            VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6, $7, $8)
            ON CONFLICT (community_id, household_id) DO UPDATE SET
                place = EXCLUDED.place, tags = EXCLUDED.tags, contact = EXCLUDED.contact,
                paired_helper_ids = EXCLUDED.paired_helper_ids, listed_at = EXCLUDED.listed_at
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
        "SELECT household_id, place, tags, contact, paired_helper_ids FROM households "
        "WHERE card_token = $1",
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
    return CardHousehold(household, tuple(row["paired_helper_ids"]))
