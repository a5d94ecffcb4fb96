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

The same holds for every command about an open request whose decision makes offers or starts
a wait at its time (`FROM_A_COPY`: a decline's or a failed delivery's replacement, a
withdrawal's re-ask, staff not reached, a repeated report, a team called): read from a
backlog, each was decided at its sender's stamp, its offers as of minutes ago expiring on
arrival (their helpers charged "no answer") and the next rung already due. Each is decided
from its copy, all of them, not only late ones, for the submit's reason. A copy goes behind
what is queued, so a later command about the same request (an accept, a cancellation)
queued behind the original would be decided before the copy: while a copy about a request
is queued ahead of the record read (`pending`: the agent keeps, with its tables, the
position of the last copy it sent about each request, streams/state_store.py), every
command about that request, the timer's included, is sent again too, behind it, in order.
A position is a fact of the log: a replay finds the same records ahead, and a copy sent
twice (a crash before its original was acknowledged) is decided once (the request keeps
the ids of the commands it took), the second a no-op.

A copy is decided as soon as Kafka acknowledges it when it lands directly behind its
original (`follows_its_original`): nothing can be queued between them, so the agent, which
has taken every record up to the original, decides the copy on the state reading it back
would find, at the copy's time (in its record: a replay decides it alike). Read back, the
agent skips it (a refusal keeps no command id: decided again it would go out twice); read by
another process, it is a second copy. This spares the copy's fetch (~2 ms of a first offer at 50
req/s, docs/performance-log.md, session 43), not its consumption.

Pure: the agent passes its clock and what its state holds (the same on a replay).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.commands import (
    Command,
    DeclineOffer,
    FireDeadline,
    ReportDeliveryFailure,
    ReportRepeated,
    ReportStaffNotReached,
    SubmitRequest,
    WithdrawHelper,
    reissued,
)
from schemas.staff_actions import CallTeam

#: Commands about an open request decided from a copy: their decisions make offers or start
#: a wait at the command's time (`dispatcher.core.ladder.top_up`, `offer_wave`, a climb).
FROM_A_COPY: tuple[type, ...] = (
    DeclineOffer,
    ReportDeliveryFailure,
    WithdrawHelper,
    ReportStaffNotReached,
    ReportRepeated,
    CallTeam,
)


def _never(_request_id: str) -> bool:
    return False


def reissue_of(
    command: Command,
    *,
    wall: datetime,
    known: Callable[[str], bool],
    pending: Callable[[str], bool] = _never,
) -> Command | None:
    """The copy to send instead of deciding `command`, or None to decide it now. `known`:
    whether the state holds a request (by id); `pending`: whether a copy of a command about
    it is queued ahead of this record."""
    if command.reissued_at is not None:
        return None  # a copy: decided, however late it is read
    body = command.body
    if isinstance(body, SubmitRequest):
        if known(body.spec.request_id):
            return None  # a request already open (a bot's retry, a second copy): a no-op
        return reissued(command, wall)
    request_id = getattr(body, "request_id", None)
    if request_id is None:
        return None
    if pending(request_id):
        return reissued(command, wall)  # behind the copy queued ahead: order kept
    if isinstance(body, FireDeadline):
        return None  # the timer's, about a request it holds: issued at its clock already
    if not known(request_id) or isinstance(body, FROM_A_COPY):
        return reissued(command, wall)
    return None


def marks_the_request(command: Command, known: Callable[[str], bool]) -> str | None:
    """The request a copy of `command` leaves pending (its position kept, so that what
    follows about it is sent again behind it), or None: a submit's, or one about a request
    not open yet, is followed by what the state does not hold either."""
    request_id = getattr(command.body, "request_id", None)
    if isinstance(command.body, SubmitRequest) or request_id is None or not known(request_id):
        return None
    return str(request_id)


def follows_its_original(ack: object, partition: int, offset: int) -> bool:
    """Whether the copy Kafka acknowledged with `ack` (its record's partition and offset) is
    the record directly after its original's (`partition`, `offset`): then no record lies
    between them, and the agent may decide the copy at once."""
    where = getattr(ack, "partition", None), getattr(ack, "offset", None)
    return offset >= 0 and where == (partition, offset + 1)
