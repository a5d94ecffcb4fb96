"""A request's submit is decided from a copy the dispatch agent sends through Kafka.

The core decides a command at its own time, so that a replay yields the same events. A
submit's own time is the API's stamp: one the agent read minutes later (the worker down, or
behind) sent its first offers as of the intake, their time run out before they were pushed
(the next deadline expired them, charging each helper "no answer") and the next rung already
due. So the agent does not decide a submit as it reads it: it sends it again, with the same
id and its own clock (`schemas.commands.reissued`), behind what is queued, and decides that
copy, at the copy's time, when it reads it. The request opens at the intake; its ladder runs
from the copy.

Every submit, not only one read late: whether a record is "late" is the wall clock's
verdict, and a submit decided on time just before a crash, its events out and its tables
not, is read again after the restart, later: taken for late and decided at another time, it
would yield other events under the same ids (other offer times, even other helpers). The
copy's time is in its record, so a replay decides it alike, and a crash between the copy's
send and the original's acknowledgement only sends another copy: the first decided opens the
request, the others find it open. The cost: one more round trip through Kafka before a
request's first offers.

A command about a request the state does not hold is sent again too, once: its request's
submit is in a copy queued before it (a cancellation posted before the worker decided the
request), and its copy then follows the submit's copy, as the original followed the submit.

Pure: the agent passes its clock and what its state holds (the same on a replay).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.commands import Command, FireDeadline, SubmitRequest, reissued


def reissue_of(command: Command, *, wall: datetime, known: Callable[[str], bool]) -> Command | None:
    """The copy to send instead of deciding `command`, or None to decide it now. `known`:
    whether the state holds a request (by id)."""
    if command.reissued_at is not None:
        return None  # a copy: decided, however late it is read
    body = command.body
    if isinstance(body, SubmitRequest):
        if known(body.spec.request_id):
            return None  # a request already open (a bot's retry, a second copy): a no-op
        return reissued(command, wall)
    if isinstance(body, FireDeadline):
        return None  # the timer's, about a request it holds: issued at its clock already
    request_id = getattr(body, "request_id", None)
    if request_id is None or known(request_id):
        return None
    return reissued(command, wall)
