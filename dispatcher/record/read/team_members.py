"""A team as its leader's checklist needs it, and whether an assignment is a member's
(signed up by their leader) - the pages of dispatcher/api/offer_pages.py read these."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.record.db import Db


@dataclass(frozen=True, slots=True)
class TeamMember:
    helper_id: str
    name: str
    available: bool = True  # not away or busy (the core refuses those: member_unavailable)


async def active_members(db: Db, community_id: str, team_id: str) -> list[TeamMember]:
    """The team's active members (its leaders too) as the core's roster has them, away or
    busy ones marked, in the ledger's row order (helpers no ledger listed, e.g. added
    through the API, last)."""
    rows = await db.fetch(
        """
        SELECT h.helper_id, r.display_name, NOT (h.away OR h.busy) AS available
        FROM helpers h LEFT JOIN roster_members r
          ON r.community_id = h.community_id AND r.helper_id = h.helper_id
        WHERE h.community_id = $1 AND h.active AND $2 = ANY(h.teams)
        ORDER BY r.position NULLS LAST, h.helper_id
        """,
        community_id,
        team_id,
    )
    return [
        TeamMember(str(r["helper_id"]), str(r["display_name"] or ""), bool(r["available"]))
        for r in rows
    ]


async def signed_up_by(db: Db, request_id: str, helper_id: str, offer_id: str) -> str | None:
    """The leader's name (or id) when this assignment is a member's their leader made."""
    row = await db.fetchrow(
        """
        SELECT a.signed_up_by, l.display_name
        FROM assignments a JOIN requests q USING (request_id)
        LEFT JOIN roster_members l
          ON l.community_id = q.community_id AND l.helper_id = a.signed_up_by
        WHERE a.request_id = $1 AND a.helper_id = $2 AND a.offer_id = $3
          AND a.signed_up_by IS NOT NULL
        """,
        request_id,
        helper_id,
        offer_id,
    )
    if row is None:
        return None
    return str(row["display_name"] or row["signed_up_by"])


async def not_to_sign_up(db: Db, request_id: str) -> set[str]:
    """Who a leader's checklist leaves out on this request (the core would refuse the whole
    accept): whoever is or was assigned to it, and whoever declined it."""
    rows = await db.fetch(
        "SELECT helper_id FROM assignments WHERE request_id = $1 UNION "
        "SELECT helper_id FROM offers WHERE request_id = $1 AND status = 'declined'",
        request_id,
    )
    return {str(r["helper_id"]) for r in rows}
