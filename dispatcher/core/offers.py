"""Sending offers: one offer record, one `OfferSent` event and one load update per
candidate."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.eligibility import fits
from dispatcher.core.index import Candidate
from dispatcher.core.load import offered
from schemas.events import OfferSent, offer_id_for
from schemas.records import OfferRecord


def send_offers(
    fx: Effects, d: RequestDraft, candidates: list[Candidate], whistle: bool = False
) -> list[str]:
    """An offer to each candidate for the open needs they fit (any need, for staff on
    the whistle); returns who was offered."""
    sent: list[str] = []
    open_needs = d.open_needs()
    for cand in candidates:
        entry = fx.state.index.entries[cand.helper_id]
        if whistle:
            need_indexes = tuple(open_needs)  # staff can fill any slot
        else:
            need_indexes = tuple(i for i in open_needs if fits(entry, d.needs[i], cand.ring))
        if not need_indexes:
            continue
        offer = OfferRecord(
            offer_id=offer_id_for(d.request_id, cand.helper_id),
            helper_id=cand.helper_id,
            need_indexes=need_indexes,
            ring=cand.ring,
            step=d.step,
            sent_at=fx.now,
            expires_at=fx.now + timedelta(seconds=d.plan.offer_ttl_s),
        )
        d.offers.append(offer)
        skills = tuple(dict.fromkeys(s.value for i in need_indexes for s in d.needs[i].skills))
        fx.emit(
            OfferSent(
                offer_id=offer.offer_id,
                helper_id=offer.helper_id,
                ring=offer.ring,
                step=offer.step,
                expires_at=offer.expires_at,
                category=d.spec.category,
                urgency=d.spec.urgency,
                building_label=d.spec.place.building_label(),
                helpers_needed=d.spec.total_slots(),
                skills=skills,
                remote=all(d.needs[i].remote for i in need_indexes),
            ),
            d.request_id,
        )
        fx.update_load(cand.helper_id, lambda load, today: offered(load, fx.now, today))
        sent.append(cand.helper_id)
    return sent
