"""Who may be offered a request right now, and in what order within a ring."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time

from dispatcher.core.context import SearchContext
from dispatcher.core.entry import HelperEntry, phone_tag
from schemas.plans import RING_ORDER
from schemas.requests import SkillNeed
from schemas.vocab import Ring

RankKey = tuple[int, int, int, int, int, int, float, str]


def is_requester(entry: HelperEntry, ctx: SearchContext) -> bool:
    if ctx.requester_helper_id is not None and entry.helper_id == ctx.requester_helper_id:
        return True
    return ctx.requester_phone is not None and entry.phone == ctx.requester_phone


def is_available(entry: HelperEntry, ctx: SearchContext) -> bool:
    """Active, not away or busy, inside a weekly window, outside do-not-disturb (which
    critical plans waive). The helper's own override (今晚值守, on call tonight) waives
    both while it lasts."""
    if not entry.active or entry.away or entry.busy:
        return False
    weekday, local_time, _ = ctx.clock.of_helper(entry.utc_offset_minutes)
    return _within_hours(entry, ctx, weekday, local_time)


def _within_hours(entry: HelperEntry, ctx: SearchContext, weekday: int, local_time: time) -> bool:
    outside = bool(entry.availability) and not any(
        w.contains(weekday, local_time) for w in entry.availability
    )
    asleep = ctx.respect_dnd and entry.dnd is not None and entry.dnd.contains(local_time)
    # On call means "ask me tonight", outside their ledger hours (08:00-18:00, say) as in
    # their quiet hours: they said so themselves, and the night circle is thin. Before, the
    # hours won and an on-call helper got nothing at 20:00.
    return not (outside or asleep) or _on_call(entry, ctx.clock.now)


def _on_call(entry: HelperEntry, now: datetime) -> bool:
    """The helper's own override (`dnd_override_until`, set by 今晚值守) is in force."""
    override = entry.dnd_override_until
    return override is not None and now < override


def holds_presence(entry: HelperEntry, now: datetime, rank: int) -> bool:
    """On an in-person errand for another request at least as urgent as one of `rank`
    (`core/presence.py`): offered no in-person need of it until that hold ends, phone
    needs still, and a more urgent request's in-person need still."""
    holds = entry.presence_until
    return holds is not None and now < holds[rank]


def is_eligible(entry: HelperEntry, ctx: SearchContext) -> bool:
    return (
        entry.community_id == ctx.community_id
        and not is_requester(entry, ctx)
        and (is_available(entry, ctx))
    )


def ring_of(entry: HelperEntry, ctx: SearchContext) -> Ring:
    """The narrowest ring the helper is in relative to the request."""
    if ctx.pairing_household is not None and ctx.pairing_household in entry.paired:
        return Ring.PAIRED
    if ctx.building_key is not None and entry.building_key == ctx.building_key:
        return Ring.BUILDING
    if ctx.compound_key is not None and entry.compound_key == ctx.compound_key:
        return Ring.COMPOUND
    if ctx.grid_key is not None and entry.grid_key == ctx.grid_key:
        return Ring.GRID
    return Ring.COMMUNITY


def has_skill(entry: HelperEntry, need: SkillNeed) -> bool:
    return not need.skills or not entry.skills.isdisjoint(need.skills)


def fits(entry: HelperEntry, need: SkillNeed, ring: Ring) -> bool:
    """A paired helper is a promise of help: offered for any presence need whatever
    their skills. Everyone else needs one of the need's skills."""
    if has_skill(entry, need):
        return True
    return ring is Ring.PAIRED and not need.remote


def rank_key(entry: HelperEntry, need: SkillNeed, ring: Ring, ctx: SearchContext) -> RankKey:
    """Smaller is better. Ring first (nearest), then skill fit, the requester's gender
    preference, party members first when asked, fairness (today's load, then
    responsiveness in tenths, then longest since last offered), and the id for a total
    order."""
    _, _, today = ctx.clock.of_helper(entry.utc_offset_minutes)
    load = entry.load
    load_today = (load.offers_today + load.assignments_today) if load.day == today else 0
    last = load.last_offered_at.timestamp() if load.last_offered_at is not None else 0.0
    return (
        RING_ORDER[ring],
        0 if has_skill(entry, need) else 1,
        0 if ctx.prefer_gender is None or entry.gender == ctx.prefer_gender else 1,
        0 if not ctx.prefer_party or entry.party else 1,
        load_today,
        -round(load.responsiveness() * 10),
        last,
        entry.helper_id,
    )


Ranker = Callable[[HelperEntry, int, bool], RankKey | None]


def eligible_rank(
    entry: HelperEntry, ctx: SearchContext, ring_order: int, skill_fit: bool
) -> RankKey | None:
    """`rank_key(...)` if `is_eligible(...)`, else None; see `eligible_ranker`."""
    return eligible_ranker(ctx)(entry, ring_order, skill_fit)


def eligible_ranker(ctx: SearchContext) -> Ranker:
    """`eligible_rank` for one search: the request's facts bound once, so the index's inner
    loop reads locals rather than the context's attributes for each helper. Eligibility and
    rank in one pass, with the load terms precomputed on the entry
    (`HelperEntry.load_rank`); the scan keeps the separate functions above, and tests
    check both choose alike."""
    community_id = ctx.community_id
    requester_id = ctx.requester_helper_id
    requester_phone = ctx.requester_phone
    # No helper's tag is -2: without a requester phone the phone is never compared.
    requester_tag = -2 if requester_phone is None else phone_tag(requester_phone)
    prefer_gender = ctx.prefer_gender
    prefer_party = ctx.prefer_party
    respect_dnd = ctx.respect_dnd
    now = ctx.clock.now
    at = ctx.clock.at
    community_offset = ctx.clock.community_offset  # `LocalClock.of_helper`, inlined
    local_at: dict[int, tuple[int, time, date]] = {}  # `at` per offset, without its call

    def rank(entry: HelperEntry, ring_order: int, skill_fit: bool) -> RankKey | None:
        if (
            not entry.active
            or entry.away
            or entry.busy
            or entry.community_id != community_id
            # Neither reads a helper's id or phone string (each a read from memory at
            # a random place, for every helper a search reads) unless it may match.
            or (requester_id is not None and entry.helper_id == requester_id)
            or (entry.phone_tag == requester_tag and entry.phone == requester_phone)
        ):
            return None
        offset = entry.utc_offset_minutes if community_offset is None else community_offset
        local = local_at.get(offset)
        if local is None:
            local = local_at[offset] = at(offset)
        weekday, local_time, today = local
        # `_within_hours`, inlined: the override is read only for a helper outside their
        # hours, so the usual path costs no more.
        if entry.availability and not any(
            w.contains(weekday, local_time) for w in entry.availability
        ):
            override = entry.dnd_override_until
            if override is None or now >= override:
                return None
        if respect_dnd and entry.dnd is not None and entry.dnd.contains(local_time):
            override = entry.dnd_override_until
            if override is None or now >= override:
                return None
        day, load_today, responsiveness, last = entry.load_rank
        return (
            ring_order,
            0 if skill_fit else 1,
            0 if prefer_gender is None or entry.gender == prefer_gender else 1,
            0 if not prefer_party or entry.party else 1,
            load_today if day == today else 0,
            responsiveness,
            last,
            entry.helper_id,
        )

    return rank
