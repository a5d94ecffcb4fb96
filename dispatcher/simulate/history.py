"""`simulate --from-db`: each helper's answer rate and median answer delay, fitted from the
offers the record agent stored in PostgreSQL, replace the behaviour model's synthetic
propensity and delay for that helper. Helpers with too few offers keep the synthetic
model. The roster simulated is still the demo district: the fit applies to helper ids
that match (a `make run` database holds exactly those)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, time
from statistics import median

import asyncpg

from dispatcher.record.read.history import OfferAnswer, offers_since
from dispatcher.settings import get_settings
from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.world import local_midnight

MIN_OFFERS = 5  # fewer than this: the synthetic model is the better guess
ANSWERED = frozenset({"accepted", "declined"})
# Stood-down offers were withdrawn before the helper had their full chance: not counted.
COUNTED = frozenset({"accepted", "declined", "expired", "failed"})


def fit(
    rows: Iterable[OfferAnswer],
    min_offers: int = MIN_OFFERS,
) -> dict[str, tuple[float, float]]:
    """helper id -> (answer rate, median delay in seconds) from (helper, status, sent,
    answered) rows; helpers with fewer than `min_offers` counted offers are left out."""
    counted: dict[str, int] = {}
    delays: dict[str, list[float]] = {}
    for helper_id, status, sent_at, answered_at in rows:
        if status not in COUNTED:
            continue
        counted[helper_id] = counted.get(helper_id, 0) + 1
        if status in ANSWERED and answered_at is not None:
            seconds = max(0.0, (answered_at - sent_at).total_seconds())
            delays.setdefault(helper_id, []).append(seconds)
    out = {}
    for helper_id, n in sorted(counted.items()):
        answered = delays.get(helper_id, [])
        if n >= min_offers and answered:
            out[helper_id] = (len(answered) / n, median(answered))
    return out


async def _rows(community: str, since: datetime) -> list[OfferAnswer]:
    conn = await asyncpg.connect(get_settings().pg_dsn.get_secret_value(), timeout=10)
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
    try:
        rows = asyncio.run(_rows(community, since_instant(since)))
    except (OSError, asyncpg.PostgresError) as exc:
        raise ValueError(f"cannot read the history from PostgreSQL: {exc}") from exc
    fitted = fit(rows, min_offers)
    if not fitted:
        raise ValueError(
            f"no helper in {community} has {min_offers}+ offers with an answer since {since}"
        )
    return replace(behaviour, fitted=fitted)
