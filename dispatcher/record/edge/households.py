"""Households and their contact cards (the `households` edge table): written by the
household ledger import, read by the card's intake (dispatcher/api/households.py). A
household a re-import no longer lists is retired (`retired_at`): its contact and tags are
erased, its card says so instead of making a request; listed again, it is revived with the
same card (the ledger brings contact and tags again). A household is its compound's: an
import of another compound never writes over it (`ForeignHousehold`)."""

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
    """Kept while listed: a retired household keeps only its place and card token (so a
    re-import revives the same card); its contact and tags (personal, health) go."""
    await db.execute(
        "UPDATE households SET retired_at = $3, contact = '{}', tags = '{}' "
        "WHERE community_id = $1 AND household_id = ANY($2::text[]) AND retired_at IS NULL",
        community_id,
        list(household_ids),
        now,
    )


class ForeignHousehold(ValueError):
    """Households of a ledger whose ids are stored for another compound: nothing written.
    A ValueError: an import answers it as a value of the file that cannot be stored (422)."""

    def __init__(self, compounds: dict[str, str | None]) -> None:
        # The ids name flats: kept on the exception, not in its message (it may be logged).
        super().__init__(f"{len(compounds)} household id(s) belong to another compound")
        self.compounds = compounds


async def foreign(db: Db, households: Sequence[Household]) -> dict[str, str | None]:
    """Of these households (one community's), those whose id is stored - listed or retired -
    for another compound: household id → the stored household's compound. An import leaves
    them out (rejected rows): writing them would hand that compound's card to this one."""
    if not households:
        return {}
    return _foreign(households, await _stored_compounds(db, households))


async def _stored_compounds(
    db: Db, households: Sequence[Household]
) -> dict[str, tuple[str | None, str]]:
    """household id → (stored compound, card token), for those of these that are stored."""
    rows = await db.fetch(
        "SELECT household_id, place->>'compound_id' AS compound_id, card_token "
        "FROM households WHERE community_id = $1 AND household_id = ANY($2::text[])",
        households[0].community_id,
        [h.household_id for h in households],
    )
    return {r["household_id"]: (r["compound_id"], r["card_token"]) for r in rows}


def _foreign(
    households: Sequence[Household], stored: dict[str, tuple[str | None, str]]
) -> dict[str, str | None]:
    return {
        h.household_id: stored[h.household_id][0]
        for h in households
        if h.household_id in stored and stored[h.household_id][0] != h.place.compound_id
    }


def new_card_token() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits: a card cannot be guessed


async def record(
    db: Db,
    listed: Sequence[tuple[Household, Sequence[str]]],
    now: datetime,
) -> dict[str, str]:
    """Upsert the households (a re-import keeps each card's token and revives a retired
    one); returns household id → card token. Raises `ForeignHousehold`, writing nothing,
    when one is stored for another compound (`foreign` lets an import leave those out
    first; this holds against an import of the other compound running at the same time)."""

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
            -- Another compound's household is never taken over (checked below).
            WHERE households.place->>'compound_id'
                  IS NOT DISTINCT FROM EXCLUDED.place->>'compound_id'
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
        households = [h for h, _ in listed]
        stored = await _stored_compounds(conn, households)
        if taken := _foreign(households, stored):
            raise ForeignHousehold(taken)  # the transaction rolls back: nothing written
    return {hid: token for hid, (_, token) in stored.items()}


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


async def contact_of(pool: Db, community_id: str, household_id: str) -> dict[str, str | None]:
    """The ledger's contact (name, phone, address) of a household still listed, or {}: for
    a chat sender the bot's member map ties to it (a retired household's was erased)."""
    found = await pool.fetchval(
        "SELECT contact FROM households WHERE community_id = $1 AND household_id = $2 "
        "AND retired_at IS NULL",
        community_id,
        household_id,
    )
    if found is None:
        return {}
    contact: dict[str, str | None] = json.loads(found)
    return contact
