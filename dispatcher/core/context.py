"""What a candidate search needs to know about one request at one moment."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from dispatcher.core.community import CommunityPolicy
from dispatcher.core.entry import normalise_phone
from dispatcher.core.presence import RANK_CRITICAL, rank_of
from schemas.records import RequestState
from schemas.vocab import Category, Gender


@dataclass(slots=True)
class LocalClock:
    """Local weekday/time/date per UTC offset, computed once per search, not per helper.

    A community with a configured zone is its helpers' clock: their windows ("22:00",
    entered as local times) are read at the zone's offset at `now`, as its quiet hours are;
    a helper's own `utc_offset_minutes` only where the community has no zone."""

    now: datetime
    community_offset: int | None = None  # None: each helper's own offset
    community_known: bool = False  # `community_offset` set for the request's community
    _cache: dict[int, tuple[int, time, date]] = field(default_factory=dict)

    def on_community(self, policy: CommunityPolicy | None) -> None:
        """Read every helper's windows on `policy`'s zone (None: no zone configured)."""
        self.community_offset = None if policy is None else policy.utc_offset_minutes(self.now)
        self.community_known = True

    def at(self, offset_minutes: int) -> tuple[int, time, date]:
        hit = self._cache.get(offset_minutes)
        if hit is None:
            local = self.now.astimezone(timezone(timedelta(minutes=offset_minutes)))
            hit = (local.weekday(), local.time(), local.date())
            self._cache[offset_minutes] = hit
        return hit

    def of_helper(self, helper_offset: int) -> tuple[int, time, date]:
        """The local weekday, time and date a helper's windows and load are read at."""
        community = self.community_offset
        return self.at(helper_offset if community is None else community)


@dataclass(slots=True)
class SearchContext:
    request_id: str
    community_id: str
    category: Category
    building_key: tuple[str, str, str] | None
    compound_key: tuple[str, str] | None
    grid_key: tuple[str, str] | None
    pairing_household: str | None
    requester_helper_id: str | None
    requester_phone: str | None  # compared with `HelperEntry.phone`: a digest or digits
    prefer_gender: Gender | None
    prefer_party: bool
    respect_dnd: bool
    scan_limit: int
    clock: LocalClock
    # `presence.rank_of` the request, once per context: which holds keep a helper from it.
    urgency_rank: int = RANK_CRITICAL

    @classmethod
    def for_request(cls, request: RequestState, now: datetime) -> SearchContext:
        spec = request.spec
        return cls(
            request_id=spec.request_id,
            community_id=spec.community_id,
            category=spec.category,
            building_key=spec.place.building_key(),
            compound_key=spec.place.compound_key(),
            grid_key=spec.place.grid_key(),
            pairing_household=spec.household_for_pairing(),
            requester_helper_id=spec.requester_helper_id,
            # The keyed digest the API computed (the phone itself travels sealed); a
            # spec that was never sealed (the simulator, tests) compares digits.
            requester_phone=spec.requester_phone_key or normalise_phone(spec.contact.phone),
            prefer_gender=spec.prefer_gender,
            prefer_party=spec.prefer_party_member,
            respect_dnd=request.plan.respect_do_not_disturb,
            scan_limit=request.plan.scan_limit,
            clock=LocalClock(now),
            urgency_rank=rank_of(spec),
        )

    def window_seed(self, *parts: object) -> int:
        """Stable (not `hash()`, which is salted per process) so a replay picks the same."""
        key = "|".join([self.request_id, *map(str, parts)])
        return zlib.crc32(key.encode())
