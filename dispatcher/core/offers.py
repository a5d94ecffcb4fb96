"""Sending offers: one offer record, one `OfferSent` event and one load update per
candidate."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.index import Candidate
from dispatcher.core.trusted import builder
from schemas.events import OfferSent, offer_id_for
from schemas.records import OfferRecord
from schemas.vocab import Ring

_offer_record = builder(OfferRecord)
_offer_sent = builder(OfferSent)
_NO_TEAM: tuple[str | None, int] = (None, 0)


def send_offers(
    fx: Effects,
    d: RequestDraft,
    candidates: list[Candidate],
    whistle: bool = False,
    *,
    any_presence: bool = False,
    teams: dict[str, tuple[str, int]] | None = None,
) -> list[str]:
    """An offer to each candidate for the open needs they fit (any need, for staff on
    the whistle; any presence need, like a paired helper, for a first responder or a team
    (`any_presence`); `teams` maps a leader to their team's id and size); returns who was
    offered."""
    sent: list[str] = []
    if not candidates:
        return sent
    open_needs = d.open_needs()
    # The same for every offer of this wave: computed once, not per helper.
    expires_at = fx.now + timedelta(seconds=d.plan.offer_ttl_s)
    spec = d.spec
    building_label = spec.place.building_label()
    helpers_needed = sum(n.count for n in d.needs)  # spec.total_slots(), without re-deriving needs
    asked: dict[tuple[int, ...], tuple[tuple[str, ...], bool]] = {}
    entries = fx.state.index.entries

    # `eligibility.fits` per open need, unrolled: (index, skills as a set, a presence need).
    tests = [(i, frozenset(d.needs[i].skills), not d.needs[i].remote) for i in open_needs]
    for cand in candidates:
        if whistle:
            need_indexes = tuple(open_needs)  # staff can fill any slot
        else:
            has = entries[cand.helper_id].skills
            paired = any_presence or cand.ring is Ring.PAIRED
            need_indexes = tuple(
                i
                for i, skills, presence in tests
                if not skills or not has.isdisjoint(skills) or (paired and presence)
            )
        if not need_indexes:
            continue
        skills_remote = asked.get(need_indexes)
        if skills_remote is None:
            skills_remote = asked[need_indexes] = (
                tuple(dict.fromkeys(s.value for i in need_indexes for s in d.needs[i].skills)),
                all(d.needs[i].remote for i in need_indexes),
            )
        team_id, team_size = teams.get(cand.helper_id, _NO_TEAM) if teams else _NO_TEAM
        # Built unvalidated (`core.trusted`): every value is of its field's type already.
        offer = _offer_record(
            offer_id=offer_id_for(d.request_id, cand.helper_id),
            helper_id=cand.helper_id,
            need_indexes=need_indexes,
            ring=cand.ring,
            step=d.step,
            sent_at=fx.now,
            expires_at=expires_at,
            team_id=team_id,
        )
        d.offers.append(offer)
        fx.emit(
            _offer_sent(
                offer_id=offer.offer_id,
                helper_id=offer.helper_id,
                ring=offer.ring,
                step=offer.step,
                expires_at=expires_at,
                category=spec.category,
                urgency=spec.urgency,
                building_label=building_label,
                helpers_needed=helpers_needed,
                skills=skills_remote[0],
                remote=skills_remote[1],
                team_id=team_id,
                team_size=team_size,
            ),
            d.request_id,
        )
        fx.count_offer(cand.helper_id)
        sent.append(cand.helper_id)
    return sent
