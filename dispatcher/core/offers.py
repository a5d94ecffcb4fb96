"""Sending offers: one offer record and one load update per candidate, one `OffersSent`
event per wave."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.index import Candidate
from dispatcher.core.trusted import builder, shared_fields_set
from schemas._builders import new as _new
from schemas._builders import set_dict as _set_dict
from schemas._builders import set_extra as _set_extra
from schemas._builders import set_fields_set as _set_fields_set
from schemas._builders import set_private as _set_private
from schemas.events import OffersSent, WaveOffer, offer_id_prefix, uuid5_of
from schemas.records import OfferRecord, OfferStatus
from schemas.vocab import Ring

_offer_record = builder(OfferRecord)
# A wave offer has every field given, so the fields-set `builder(WaveOffer)` would give it:
# the models are set up inline (no keyword call per offer), with that same shared set.
_WAVE_OFFER_FIELDS = shared_fields_set(WaveOffer, set(WaveOffer.model_fields))
_offers_sent = builder(OffersSent)
_NO_TEAM: tuple[str | None, int] = (None, 0)
# Read per offer: an enum member read through its class costs ~4x a module global.
_PAIRED = Ring.PAIRED


def send_offers(
    fx: Effects,
    d: RequestDraft,
    candidates: list[Candidate],
    whistle: bool = False,
    *,
    any_presence: bool = False,
    teams: dict[str, tuple[str, int]] | None = None,
    staff_call: bool = False,
) -> list[str]:
    """An offer to each candidate for the open needs they fit (any need, for staff on
    the whistle; any presence need, like a paired helper, for a first responder or a team
    (`any_presence`); `teams` maps a leader to their team's id and size); returns who was
    offered. A request held for quiet hours gets none (whichever path asks: a top-up, a
    re-wave after a withdrawal), except those staff make themselves (`staff_call`)."""
    sent: list[str] = []
    if not candidates or (d.held and not staff_call):
        return sent
    open_needs = d.open_needs()
    request_id = d.request_id
    # The same for every offer of this wave: computed once, not per helper.
    expires_at = fx.now + timedelta(seconds=d.plan.offer_ttl_s)
    offer_prefix = offer_id_prefix(request_id)
    asked: dict[tuple[int, ...], tuple[tuple[str, ...], bool]] = {}
    entries = fx.state.index.entries
    offers = d.offers
    # The wave's first offer record is built field by field; the others are copies of it
    # with the fields that differ (`trusted.like`): the same objects. One event for the wave.
    first: tuple[dict[str, Any], set[str]] | None = None
    wave: list[WaveOffer] = []
    # Those stood down as covered whom a reopened slot may ask again, by how often they
    # were asked again before (`RequestDraft.supersede` then drops that record): the
    # offer says it is the next ask, and is not counted in their load a second time. A
    # request nobody holds a slot of has none: one truthiness test.
    asked_before = _asked_before(d) if d.assignments else None

    # `eligibility.fits` per open need, unrolled: (index, skills as a set, a presence need).
    tests = [(i, frozenset(d.needs[i].skills), not d.remote[i]) for i in open_needs]
    fitting: dict[tuple[frozenset[object], bool], tuple[int, ...]] = {}  # per skill set
    for cand in candidates:
        helper_id = cand.helper_id
        if whistle:
            need_indexes = tuple(open_needs)  # staff can fill any slot
        else:
            has = entries[helper_id].skills
            paired = any_presence or cand.ring is _PAIRED
            found = fitting.get((has, paired))
            if found is None:
                found = fitting[(has, paired)] = tuple(
                    [
                        i
                        for i, skills, presence in tests
                        if not skills or not has.isdisjoint(skills) or (paired and presence)
                    ]
                )
            need_indexes = found
        if not need_indexes:
            continue
        skills_remote = asked.get(need_indexes)
        if skills_remote is None:
            skills_remote = asked[need_indexes] = (
                tuple(dict.fromkeys(s.value for i in need_indexes for s in d.needs[i].skills)),
                all(d.remote[i] for i in need_indexes),
            )
        team_id, team_size = teams.get(helper_id, _NO_TEAM) if teams else _NO_TEAM
        offer_id = uuid5_of(offer_prefix + helper_id.encode())
        before = asked_before.get(helper_id) if asked_before else None
        again = 0 if before is None else before + 1
        if first is None:
            # Built unvalidated (`core.trusted`): every value is of its field's type already.
            offer = _offer_record(
                offer_id=offer_id,
                helper_id=helper_id,
                need_indexes=need_indexes,
                ring=cand.ring,
                step=d.step,
                sent_at=fx.now,
                expires_at=expires_at,
                team_id=team_id,
                again=again,
            )
            first = (offer.__dict__, offer.__pydantic_fields_set__)
        else:
            # The first offer record with the fields that differ (`trusted.like`).
            o = first[0].copy()
            o["offer_id"] = offer_id
            o["helper_id"] = helper_id
            o["need_indexes"] = need_indexes
            o["ring"] = cand.ring
            o["team_id"] = team_id
            o["again"] = again
            offer = _new(OfferRecord)  # `like(OfferRecord, o, first[1])`, inlined
            _set_dict(offer, o)
            _set_fields_set(offer, first[1])
            _set_extra(offer, None)
            _set_private(offer, None)
        w = _new(WaveOffer)  # `builder(WaveOffer)(**fields)`, inlined: the same model
        _set_dict(
            w,
            {
                "offer_id": offer_id,
                "helper_id": helper_id,
                "ring": cand.ring,
                "skills": skills_remote[0],
                "remote": skills_remote[1],
                "team_id": team_id,
                "team_size": team_size,
                "again": again,
            },
        )
        _set_fields_set(w, _WAVE_OFFER_FIELDS)
        _set_extra(w, None)
        _set_private(w, None)
        wave.append(w)
        offers.append(offer)
        sent.append(helper_id)
    if wave:
        spec = d.spec
        fx.emit(
            _offers_sent(
                step=d.step,
                expires_at=expires_at,
                category=spec.category,
                urgency=spec.urgency,
                building_label=spec.place.building_label(),
                # spec.total_slots(), without re-deriving needs
                helpers_needed=sum(n.count for n in d.needs),
                offers=tuple(wave),
            ),
            request_id,
        )
    # An offer counts in its helper's load once: asked again, it is the same offer.
    fx.count_offers([h for h in sent if h not in asked_before] if asked_before else sent)
    return sent


def _asked_before(d: RequestDraft) -> dict[str, int]:
    """Helpers stood down as covered (`RequestDraft.stood_down_covered`) and how often
    their offer was asked again already."""
    covered = d.stood_down_covered()
    return {
        o.helper_id: o.again
        for o in d.offers
        if o.helper_id in covered and o.status is OfferStatus.STOOD_DOWN
    }
