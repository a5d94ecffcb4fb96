"""What a simulation run records: each request's outcome, each helper's offers, the trace."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.vocab import Urgency


@dataclass
class RequestOutcome:
    request_id: str
    urgency: Urgency
    slots: int
    created_s: float
    first_accept_s: float | None = None
    offers: int = 0
    # People pinged: every helper offered, or the whole community group once the
    # whistle blew (a group message reaches everyone in it).
    notified: int = 0
    whistle: bool = False
    emergency_referral: bool = False
    withdrawals: int = 0
    no_shows: int = 0
    filled_slots: int = 0
    status: str = "open"


@dataclass
class HelperOffers:
    times_s: list[float] = field(default_factory=list)  # simulated seconds, ascending
    night: int = 0  # offers received during the local night


@dataclass(frozen=True)
class TraceLine:
    """One decided command: when, what, for which request, and the events it caused
    as (event type, helper id or "")."""

    t: float
    command: str
    request_id: str
    events: tuple[tuple[str, str], ...]


@dataclass
class Run:
    """What one policy did over the whole simulation."""

    policy: str
    outcomes: dict[str, RequestOutcome]
    helpers: dict[str, HelperOffers]
    helper_ids: tuple[str, ...]
    staff_ids: frozenset[str]  # on duty: the whistle ring, answering is their job
    days: int
    commands: int = 0
    trace: list[TraceLine] = field(default_factory=list)
