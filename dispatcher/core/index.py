"""The helper index: buckets by place and skill, so a search reads a few small buckets
instead of scanning the community.

Buckets are lists of the helpers' entries sorted by helper id (sorted, so the order — and
therefore every choice made from it — is the same after a rebuild); entries rather than
ids, so the search's inner loop reads each helper without a lookup in the id → entry map
(that lookup missed the CPU caches: it was the loop's costliest line). Small buckets are
read whole; a bucket larger than the plan's `scan_limit` (the community ring of a huge
community) is read through a window at a stable per-request offset, so the cost of a
search stays flat however large the community grows. Within a window the ranking is exact; across a
huge ring fairness is statistical (different requests read different windows).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from operator import attrgetter, itemgetter
from typing import NamedTuple, TypeVar

from dispatcher.core.community import CommunityPolicy
from dispatcher.core.context import SearchContext
from dispatcher.core.eligibility import (
    RankKey,
    eligible_ranker,
    holds_presence,
    is_eligible,
    rank_key,
    ring_of,
)
from dispatcher.core.entry import HelperEntry
from schemas.catalogue import CATALOGUE
from schemas.plans import OFFER_RINGS, RING_ORDER
from schemas.requests import SkillNeed
from schemas.vocab import Ring, Role, Skill

BucketKey = tuple[object, ...]
# How far past `scan_limit` a search may read a big bucket when too few were eligible.
_EXTRA_SCAN_FACTOR = 4


class Candidate(NamedTuple):
    # A tuple rather than a frozen dataclass: a search makes dozens, and tuples are cheap.
    helper_id: str
    ring: Ring
    key: RankKey


_by_key = itemgetter(2)  # Candidate.key

# `Candidate(*fields)` without the generated `__new__`'s Python frame.
_new_tuple = tuple.__new__
_by_id = attrgetter("helper_id")  # a bucket's order
T = TypeVar("T")


class TeamCandidate(NamedTuple):
    leader: Candidate
    team_id: str
    size: int  # active members known, the leader included


def _bucket_keys(e: HelperEntry) -> Iterator[BucketKey]:
    if e.household_id is not None or e.paired:
        for household in e.paired:
            yield ("p", e.community_id, household)
    places: list[tuple[str, object]] = [("m", e.community_id)]
    if e.building_key is not None:
        places.append(("b", e.building_key))
    if e.compound_key is not None:
        places.append(("c", e.compound_key))
    if e.grid_key is not None:
        places.append(("g", e.grid_key))
    for level, place in places:
        yield (level, place, None)  # "any skill" bucket
        for skill in e.skills:
            yield (level, place, skill)
    for role in e.roles:
        yield ("r", e.community_id, role)
    if e.first_responder and e.building_key is not None:
        yield ("fr", e.building_key)
    for team in e.teams:
        yield ("tm", e.community_id, team)
    if e.leads:
        yield ("tl", e.community_id)


class HelperIndex:
    def __init__(self) -> None:
        self.entries: dict[str, HelperEntry] = {}
        self._buckets: dict[BucketKey, list[HelperEntry]] = {}
        self._skill_sets: dict[frozenset[Skill], frozenset[Skill]] = {}
        # The state's `communities` (their zones are their helpers' clocks), bound by
        # `Effects` for each decision: the worker and tests replace that mapping whole.
        self.communities: Mapping[str, CommunityPolicy] = {}

    def __len__(self) -> int:
        return len(self.entries)

    # --- maintenance (called by `apply` and `rebuild` only) ---------------------------

    def bulk_load(self, entries: Iterable[HelperEntry]) -> None:
        """Append everything, then sort each bucket once: O(n log n) rather than n inserts."""
        for e in entries:
            if e.helper_id in self.entries:
                self.remove(e.helper_id)
            self._share_skills(e)
            self.entries[e.helper_id] = e
            for key in _bucket_keys(e):
                self._buckets.setdefault(key, []).append(e)
        for bucket in self._buckets.values():
            bucket.sort(key=_by_id)

    def upsert(self, entry: HelperEntry) -> None:
        self._share_skills(entry)
        old = self.entries.get(entry.helper_id)
        if old is not None and old.same_static_facts(entry):
            # The same buckets: the new entry takes the old one's place in each.
            self.entries[entry.helper_id] = entry
            for key in _bucket_keys(old):
                bucket = self._buckets[key]
                bucket[self._position(bucket, old)] = entry
            return
        if old is not None:
            self.remove(entry.helper_id)
        self.entries[entry.helper_id] = entry
        for key in _bucket_keys(entry):
            insort(self._buckets.setdefault(key, []), entry, key=_by_id)

    def _share_skills(self, entry: HelperEntry) -> None:
        """One skill-set object per distinct set of skills (a few dozen in a community)
        instead of one per helper: a search reads each helper's skills, and a shared set
        is in the CPU caches where a helper's own one is a read from memory."""
        entry.skills = self._skill_sets.setdefault(entry.skills, entry.skills)

    def remove(self, helper_id: str) -> None:
        old = self.entries.pop(helper_id, None)
        if old is None:
            return
        for key in _bucket_keys(old):
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            i = self._position(bucket, old)
            if i < len(bucket) and bucket[i] is old:
                del bucket[i]
            if not bucket:
                del self._buckets[key]

    @staticmethod
    def _position(bucket: list[HelperEntry], entry: HelperEntry) -> int:
        return bisect_left(bucket, entry.helper_id, key=_by_id)

    # --- search ------------------------------------------------------------------------

    def _on_community_clock(self, ctx: SearchContext) -> None:
        """Set `ctx`'s clock to its community's zone, once per context (per decision)."""
        if not ctx.clock.community_known:
            ctx.clock.on_community(self.communities.get(ctx.community_id))

    def _bucket(self, key: BucketKey) -> list[HelperEntry]:
        return self._buckets.get(key, [])

    def _ring_buckets(
        self, ring: Ring, need: SkillNeed, ctx: SearchContext
    ) -> list[list[HelperEntry]]:
        if ring is Ring.PAIRED:
            if ctx.pairing_household is None:
                return []
            return [self._bucket(("p", ctx.community_id, ctx.pairing_household))]
        place: object
        if ring is Ring.BUILDING:
            level, place = "b", ctx.building_key
        elif ring is Ring.COMPOUND:
            level, place = "c", ctx.compound_key
        elif ring is Ring.GRID:
            level, place = "g", ctx.grid_key
        else:
            level, place = "m", ctx.community_id
        if place is None:
            return []
        skills: tuple[Skill | None, ...] = need.skills or (None,)
        return [self._bucket((level, place, skill)) for skill in skills]

    def _window(self, bucket: list[T], ctx: SearchContext, seed: int) -> Iterable[T]:
        n = len(bucket)
        if n <= ctx.scan_limit:
            return bucket
        start = seed % n
        return (bucket[(start + i) % n] for i in range(min(n, ctx.scan_limit * _EXTRA_SCAN_FACTOR)))

    def search(
        self,
        ctx: SearchContext,
        need: SkillNeed,
        max_ring: Ring,
        limit: int,
        exclude: set[str],
        seed: int = 0,
    ) -> list[Candidate]:
        """Up to `limit` eligible helpers fitting `need`, nearest ring first, best first
        within a ring. Rings wider than `max_ring` are not read."""
        if limit <= 0:
            return []
        found: list[Candidate] = []
        entries = self.entries
        # Entries read so far (or excluded): a set of the objects themselves, whose hash is
        # their identity, so a membership test reads nothing of the helper from memory.
        seen = {e for h in exclude if (e := entries.get(h)) is not None}
        stop = RING_ORDER[max_ring]
        scan_limit = ctx.scan_limit
        # `fits` and `has_skill` unrolled: the need's skills as a set, once per search.
        skills = frozenset(need.skills)
        self._on_community_clock(ctx)
        rank = eligible_ranker(ctx)
        # In person: not someone on an in-person errand for another request at least as
        # urgent (presence.py): their holds' end for this request's rank, one item read.
        in_person = not need.remote
        now = ctx.clock.now
        urgency = ctx.urgency_rank
        for ring in OFFER_RINGS:
            order = RING_ORDER[ring]
            if order > stop:
                break
            anyone_paired = ring is Ring.PAIRED and in_person
            # Every other ring is read from the need's skill buckets (`_ring_buckets`), whose
            # helpers all have that skill (or the need names none): they fit, no test needed.
            # Only the paired ring's household bucket holds helpers of any skills.
            by_skill = ring is not Ring.PAIRED
            # Rank keys only (each ends with the helper id); a `Candidate` is made for
            # the few that are returned, not for every eligible helper read.
            ring_keys: list[RankKey] = []
            for bucket in self._ring_buckets(ring, need, ctx):
                scanned = 0
                for entry in self._window(bucket, ctx, seed):
                    scanned += 1
                    # Past the scan limit, keep reading only while short of candidates.
                    if scanned > scan_limit and len(found) + len(ring_keys) >= limit:
                        break
                    if entry in seen:
                        continue
                    seen.add(entry)
                    skill_fit = by_skill or not skills or not entry.skills.isdisjoint(skills)
                    if not skill_fit and not anyone_paired:
                        continue
                    if in_person and (holds := entry.presence_until) and now < holds[urgency]:
                        continue
                    key = rank(entry, order, skill_fit)
                    if key is not None:
                        ring_keys.append(key)
            ring_keys.sort()  # keys are distinct (the id is last): the order is total
            found.extend(
                [_new_tuple(Candidate, (k[-1], ring, k)) for k in ring_keys[: limit - len(found)]]
            )
            if len(found) >= limit:
                break
        return found

    def first_responders(self, ctx: SearchContext, exclude: set[str]) -> list[Candidate]:
        """党员楼长 of the request's building who are available now, best first."""
        if ctx.building_key is None:
            return []
        bucket = self._buckets.get(("fr", ctx.building_key))
        if not bucket:
            return []
        return self._ranked(bucket, ctx, Ring.COMMUNITY, exclude, in_person=True)

    def teams(
        self, ctx: SearchContext, max_ring: Ring, limit: int, exclude: set[str]
    ) -> list[TeamCandidate]:
        """Up to `limit` teams whose leader is available and lives within `max_ring`,
        nearest and best first; a leader of several teams is offered the first of them."""
        bucket = self._buckets.get(("tl", ctx.community_id))
        if not bucket or limit <= 0:
            return []
        found: list[TeamCandidate] = []
        for cand in self._ranked(bucket, ctx, max_ring, exclude, in_person=True):
            found.append(self._team_of(ctx, cand, self.entries[cand.helper_id].leads[0]))
            if len(found) >= limit:
                break
        return found

    def team(self, ctx: SearchContext, team_id: str) -> TeamCandidate | None:
        """The named team of the request's community, through its best available leader
        (a team called by staff: any distance within the community)."""
        bucket = self._bucket(("tm", ctx.community_id, team_id))
        leaders = [e for e in bucket if team_id in e.leads]
        ranked = self._ranked(leaders, ctx, Ring.COMMUNITY, set(), in_person=True)
        return self._team_of(ctx, ranked[0], team_id) if ranked else None

    def _team_of(self, ctx: SearchContext, leader: Candidate, team_id: str) -> TeamCandidate:
        members = {e.helper_id for e in self._bucket(("tm", ctx.community_id, team_id)) if e.active}
        return TeamCandidate(leader, team_id, len(members | {leader.helper_id}))

    def _ranked(
        self,
        bucket: list[HelperEntry],
        ctx: SearchContext,
        max_ring: Ring,
        exclude: set[str],
        *,
        in_person: bool = False,
    ) -> list[Candidate]:
        """The eligible helpers of a small bucket within `max_ring`, nearest then best;
        `in_person` (a team, a first responder): none on an in-person errand elsewhere."""
        self._on_community_clock(ctx)
        rank = eligible_ranker(ctx)
        stop = RING_ORDER[max_ring]
        now = ctx.clock.now
        keys: list[tuple[RankKey, Ring]] = []
        for entry in bucket:
            if entry.helper_id in exclude:
                continue
            if in_person and holds_presence(entry, now, ctx.urgency_rank):
                continue
            ring = ring_of(entry, ctx)
            order = RING_ORDER[ring]
            if order > stop:
                continue
            key = rank(entry, order, True)
            if key is not None:
                keys.append((key, ring))
        keys.sort()
        return [Candidate(k[-1], ring, k) for k, ring in keys]

    def property_on_duty(
        self, ctx: SearchContext, limit: int, exclude: set[str]
    ) -> list[Candidate]:
        """Property management (物业) available now, nearest first (the request's own
        compound's before another's, whose 物业 cannot shut this building's water off),
        as candidates of the whistle ring: offered like staff, for any slot."""
        if limit <= 0:
            return []
        bucket = self._bucket(("r", ctx.community_id, Role.PROPERTY_MANAGEMENT))
        ranked = self._ranked(bucket, ctx, Ring.COMMUNITY, exclude)[:limit]
        return [c._replace(ring=Ring.WHISTLE) for c in ranked]

    def staff_on_duty(self, ctx: SearchContext, limit: int, exclude: set[str]) -> list[Candidate]:
        """The whistle ring: staff (and property management for repairs) available now."""
        anyone = SkillNeed()
        found: dict[str, Candidate] = {}
        self._on_community_clock(ctx)
        for role in CATALOGUE[ctx.category].whistle_roles:
            for entry in self._bucket(("r", ctx.community_id, role)):
                helper_id = entry.helper_id
                if helper_id in exclude or helper_id in found:
                    continue
                if is_eligible(entry, ctx):
                    key = rank_key(entry, anyone, Ring.WHISTLE, ctx)
                    found[helper_id] = Candidate(helper_id, Ring.WHISTLE, key)
        return sorted(found.values(), key=_by_key)[:limit]
