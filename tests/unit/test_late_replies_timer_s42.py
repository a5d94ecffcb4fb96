"""The deadline timer and the copies of session 42 (review R3 of a251ca3): a deadline command
the dispatch agent read while a copy about its request was queued is sent again behind that
copy (streams/late_commands.py); the agent has then read past the timer's record, not past
its copy. The timer's check of a deadline sent `UNAPPLIED_SENDS` times without effect
(`DeadlineTimer._still_queued`) counted it as read, hence refused by the core: it logged an
error, dead-lettered it (a page) and dropped it, while its copy still fired the deadline.

The real agent, the real timer, the commands partition and the tables in memory
(tests/unit/test_late_replies_s42.py's `Worker`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from streams.deadline_timer import UNAPPLIED_SENDS, DeadlineTimer
from tests.unit.test_late_replies_s42 import T0, _asked
from tests.unit.test_send_failure_not_dead_lettered_s37 import no_exit

__all__ = ["no_exit"]  # os._exit raising (autouse): an exit is seen, not taken


class Letters:
    """The timer's dead letters, kept."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def send(self, record: object, reason: str, stage: str) -> None:
        self.reasons.append(reason)


async def test_a_deadline_copied_behind_a_decline_is_not_given_up_while_its_copy_is_queued(
    tmp_path: Path,
) -> None:
    w, no, _ = await _asked(tmp_path)
    w.world.now = T0 + timedelta(minutes=9, seconds=50)  # a decline just before the deadline
    w.post(w.decline(no), "decline-1")
    letters = Letters()
    timer = DeadlineTimer(w.rt, letters)  # type: ignore[arg-type]
    # The agent far behind: the timer sends the rung's deadline again and again meanwhile.
    w.clock.at = T0 + timedelta(minutes=10)
    sends = 0
    for _ in range(200):
        sends += await timer.fire()
        w.clock.at += timedelta(seconds=30)
        if sends >= UNAPPLIED_SENDS:
            break
    assert sends == UNAPPLIED_SENDS
    last_original = len(w.log.values) - 1
    # The agent reaches the decline and the timer's records (each copied behind the
    # decline's copy, as the mark says), not yet the copies.
    while w.log.read <= last_original:
        await w.log.step(w.dispatch)
    assert len(w.log.values) - w.log.read == 1 + UNAPPLIED_SENDS  # the copies, queued
    step = w.request().deadline_step
    w.clock.at += timedelta(minutes=17)
    await timer.fire()
    assert letters.reasons == []  # before: "… each decided and refused by the core"
    # The copies read: the decline's first, then the deadline's, which the core applies.
    await w.read()
    assert letters.reasons == []
    assert w.request().deadline_step > step
