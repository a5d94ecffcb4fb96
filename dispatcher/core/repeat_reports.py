"""The same incident reported again while nobody has accepted it (`ReportRepeated`: the
API merged a bot's second report into this open request).

In a thin circle a second report ("还是没人来…") comes precisely because nobody came: once
the first neighbours asked have had their full answer time, waiting out the rungs left
only loses more time. So the ladder climbs to the whistle now (staff on duty offered, the
whistle list and the group told), each rung's wave sent on the way, as a late deadline
climbs (`ladder.climb_if_late`). Not before that time: a resident re-posting a chore ten
seconds later, or two reports of one incident, is no sign nobody will come, and a climb
then would skip every neighbours' rung while the first neighbours are still deciding. A
life-threatening request climbs at once (a second "没呼吸了" brings staff now). Once per
request: after the whistle (`whistle_blown`) a repeat does nothing, so a group member
repeating messages can hurry staff in, never call them twice. Decided from the request's
state and the command's time only: a replay decides the same."""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects

# The climb the late-deadline path uses, without its "only if late" condition: the
# ladder's own loop (rung by rung, each wave sent, stopping at a quiet-hours pause), not a
# second copy of it here.
from dispatcher.core.ladder import _climb_to_whistle, whistle_step
from schemas.commands import ReportRepeated
from schemas.records import RequestStatus
from schemas.vocab import Ring


def report_repeated(fx: Effects, d: RequestDraft, body: ReportRepeated) -> RequestDraft | None:
    """Climb to the whistle now if the request still waits on a neighbours' rung below it
    with nobody assigned, and its first neighbours have had their answer time (or life is
    at risk); otherwise nothing (`None`: no event, nothing stored)."""
    del body  # the request is the draft's
    if not hurries_the_ladder(fx, d):
        return None
    _climb_to_whistle(fx, d, only_if_late=False)
    return d


def hurries_the_ladder(fx: Effects, d: RequestDraft) -> bool:
    """Would a repeated report climb now? Open (not filled, not closed), nobody assigned
    (someone is coming: the ladder's waits are theirs), not claimed by staff (someone
    responsible has it; the whistle would call nobody, `ladder.calls_staff`), not held or
    paused for quiet hours nor inside them for this request (nothing new goes out at night
    for what they hold: the ladder goes on at their end), below the plan's whistle, not
    blown yet (at or past it, staff already know: once per request), and either life is at
    risk or the first neighbours asked have had their answer time (`first_asked_waited`)."""
    whistle = whistle_step(d.plan)
    if whistle is None or d.step >= whistle or d.whistle_blown:
        return False
    if d.status is not RequestStatus.OPEN or d.active_assignments():
        return False
    if d.claimed_by is not None or d.held:
        return False
    if fx.state.policy(d.spec.community_id).quiet_until(d.spec, fx.now) is not None:
        return False
    return d.spec.is_life_threatening() or first_asked_waited(d, fx.now)


def first_asked_waited(d: RequestDraft, now: datetime) -> bool:
    """Have the first neighbours asked had their full answer time by `now`? The first wave
    is the request's earliest neighbours' offers (property management's, of the whistle
    ring, wait beside the ladder and do not count); its answer time is the wait of the
    highest rung that wave was sent on (a decision that climbed past an empty rung waits on
    the rung it reached), from the wave's time: `now >= sent_at + wait_s`. With nobody
    asked there is nobody to wait for: the ladder itself climbs at once then
    (`ladder.widen_if_starved`)."""
    asked = [o for o in d.offers if o.ring is not Ring.WHISTLE]
    if not asked:
        return True
    first = min(o.sent_at for o in asked)
    rung = max(o.step for o in asked if o.sent_at == first)
    return now >= first + timedelta(seconds=d.plan.steps[rung].wait_s)
