"""`simulate --from-db`: each helper's propensity to answer and pace, fitted from the offers
the record agent stored in PostgreSQL, replace the behaviour model's synthetic propensity
for that helper. Both are ratios to what the model expects of an average helper for the
same offers (the request's urgency, the offer's ring, night or day), so the simulation
keeps the model's urgency dependence: a fitted helper still answers a critical request
far sooner than an errand. Helpers with too few offers keep the synthetic model. The
roster simulated is still the demo district: the fit applies to helper ids that match
(a `make run` database holds exactly those)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, time
from statistics import median

from dispatcher.record.connect import connect
from dispatcher.record.read.history import OfferAnswer, offers_since
from dispatcher.settings import get_settings
from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.engine import MAX_ANSWER, in_hours
from dispatcher.simulate.world import LOCAL, local_midnight
from schemas.vocab import Ring, Urgency

MIN_OFFERS = 5  # fewer than this: the synthetic model is the better guess
ANSWERED = frozenset({"accepted", "declined"})
# Stood-down offers were withdrawn before the helper had their full chance: not counted.
COUNTED = frozenset({"accepted", "declined", "expired", "failed"})
RINGS = frozenset(r.value for r in Ring)


def expected(b: Behaviour, row: OfferAnswer) -> tuple[float, float] | None:
    """What the model expects of a helper with propensity 1 for this offer: the answer
    probability and the median delay in seconds (None: an urgency it does not know).
    Working hours (the record keeps no remote flag), fatigue and being on a job are not
    taken out: their average effect stays in the fitted ratios."""
    try:
        urgency = Urgency(row.urgency)
    except ValueError:
        return None
    p = b.answer_base[urgency]
    delay = b.median_delay_s[urgency]
    if row.ring in RINGS:
        p *= b.ring_answer.get(Ring(row.ring), 1.0)
        delay *= b.ring_delay.get(Ring(row.ring), 1.0)
    if in_hours((row.sent_at + LOCAL).hour, b.night_start_hour, b.night_end_hour):
        p *= b.night_answer
        delay *= b.night_delay
    return min(p, MAX_ANSWER), delay


def fit(
    rows: Iterable[OfferAnswer],
    behaviour: Behaviour,
    min_offers: int = MIN_OFFERS,
) -> dict[str, tuple[float, float]]:
    """helper id -> (propensity, pace): the answers given over the answers the model
    expects for those offers, and the median of each answer's delay over the model's
    median for it. Helpers with fewer than `min_offers` counted offers, or no answer, are
    left out."""
    counted: dict[str, int] = {}
    expected_answers: dict[str, float] = {}
    paces: dict[str, list[float]] = {}
    for row in rows:
        model = expected(behaviour, row) if row.status in COUNTED else None
        if model is None:
            continue
        p, delay = model
        helper_id = row.helper_id
        counted[helper_id] = counted.get(helper_id, 0) + 1
        expected_answers[helper_id] = expected_answers.get(helper_id, 0.0) + p
        if row.status in ANSWERED and row.answered_at is not None:
            seconds = max(0.0, (row.answered_at - row.sent_at).total_seconds())
            paces.setdefault(helper_id, []).append(seconds / delay if delay > 0 else 1.0)
    out = {}
    for helper_id, n in sorted(counted.items()):
        answered = paces.get(helper_id, [])
        if n >= min_offers and answered and expected_answers[helper_id] > 0:
            out[helper_id] = (len(answered) / expected_answers[helper_id], median(answered))
    return out


async def _rows(community: str, since: datetime) -> list[OfferAnswer]:
    conn = await connect(get_settings().pg_dsn.get_secret_value())
    try:
        return await offers_since(conn, community, since)
    finally:
        await conn.close()


def since_instant(since: str) -> datetime:
    """`--since` read as `--start` is: a date is that local midnight (`local_midnight`), a
    time without a zone is local; one with a zone is taken as given."""
    moment = datetime.fromisoformat(since)
    if moment.tzinfo is not None:
        return moment
    midnight = datetime.combine(moment.date(), time())
    return local_midnight(moment.date().isoformat()) + (moment - midnight)


def fit_from_db(
    behaviour: Behaviour, *, community: str, since: str, min_offers: int = MIN_OFFERS
) -> Behaviour:
    """`behaviour` with the helpers of `community` fitted from PostgreSQL's history, or a
    ValueError when none has enough of it. PostgreSQL's failures (PG_FAILURES of
    dispatcher/record/connect.py) are the caller's to print."""
    rows = asyncio.run(_rows(community, since_instant(since)))
    fitted = fit(rows, behaviour, min_offers)
    if not fitted:
        raise ValueError(
            f"no helper in {community} has {min_offers}+ offers with an answer since {since}"
        )
    return replace(behaviour, fitted=fitted)
