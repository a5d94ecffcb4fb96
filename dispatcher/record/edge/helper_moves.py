"""A helper's rows in the API's edge tables, moved from one id to another when
`rekey-helpers` gives the helper its keyed id (review 30, finding 2): its platform account
(`platform_accounts`: the answer page's platform login finds the helper by it), its roster
membership (`roster_members`: a ledger re-import retires by it, a team checklist names and
orders by it), the household ledger's 结对 naming it (`households.paired_helper_ids`: a
re-import ends pairings by it) and its phone's digest (`helper_phone_keys`: an approval
compares sign-ups with it; left under the old id, it went with that id's deactivation).
A row the new id has already (written by an import under the keyed id, so later) is kept
and the old id's dropped; a second run finds nothing under the old ids and changes
nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, order=True)
class IdMove:
    community_id: str
    old_id: str
    new_id: str


# The moves as a table: (community_id, old_id, new_id).
_MOVES = (
    "m AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
    " AS m(community_id, old_id, new_id))"
)


def _move_rows_of(table: str, columns: str) -> str:
    """The old ids' rows of `table` (keyed by community and helper id) under the new ids;
    `columns`: the rest of its columns."""
    old = ", ".join(f"t.{c.strip()}" for c in columns.split(","))
    return f"""
WITH {_MOVES},
moved AS (
    DELETE FROM {table} t USING m
    WHERE t.community_id = m.community_id AND t.helper_id = m.old_id
    RETURNING t.community_id, m.new_id, {old}
), kept AS (
    INSERT INTO {table} (community_id, helper_id, {columns})
    SELECT community_id, new_id, {columns} FROM moved
    ON CONFLICT (community_id, helper_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM moved
"""


_ACCOUNTS = _move_rows_of("platform_accounts", "account_hash, updated_at")
_PHONE_KEYS = _move_rows_of("helper_phone_keys", "phone_key, updated_at")
_MEMBERS = _move_rows_of(
    "roster_members", "compound_id, display_name, listed_at, retired_at, position"
)

# Each old id in a household's pairings becomes the new one, in place (a new id there
# already keeps its first place).
_PAIRINGS = f"""
WITH {_MOVES},
changed AS (
    UPDATE households h
    SET paired_helper_ids = ARRAY(
        SELECT x.id FROM (
            SELECT coalesce(m.new_id, p.id) AS id, min(p.n) AS n
            FROM unnest(h.paired_helper_ids) WITH ORDINALITY AS p(id, n)
            LEFT JOIN m ON m.community_id = h.community_id AND m.old_id = p.id
            GROUP BY 1
        ) x ORDER BY x.n
    )
    WHERE EXISTS (
        SELECT 1 FROM m
        WHERE m.community_id = h.community_id AND m.old_id = ANY(h.paired_helper_ids)
    )
    RETURNING 1
)
SELECT count(*) FROM changed
"""


_STATEMENTS = {  # what each count names
    "platform_accounts_moved": _ACCOUNTS,
    "roster_members_moved": _MEMBERS,
    "household_pairings_moved": _PAIRINGS,
    "phone_keys_moved": _PHONE_KEYS,
}


async def move_rows(
    conn: asyncpg.Connection, moves: Iterable[IdMove], *, dry_run: bool = False
) -> dict[str, int]:
    """Move the rows in one transaction; the counts of rows moved (households changed).
    `dry_run`: the same counts, rolled back."""
    unique = sorted(set(moves))
    args = [
        [m.community_id for m in unique],
        [m.old_id for m in unique],
        [m.new_id for m in unique],
    ]
    tx = conn.transaction()
    await tx.start()
    try:
        counts = {name: int(await conn.fetchval(sql, *args)) for name, sql in _STATEMENTS.items()}
    except BaseException:
        await tx.rollback()
        raise
    await (tx.rollback() if dry_run else tx.commit())
    return counts


MOVED = tuple(_STATEMENTS)  # the counts `move_rows` returns
