"""Commands: imperative messages on the `commands` topic, keyed by community id.

Every change of dispatch state is one of these. `command_id` makes re-delivery harmless.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from schemas._base import UtcDatetime, Wire, require_utc, single, unset
from schemas.config import QuietHours, known_zone
from schemas.events import CalledRung
from schemas.helper_messages import ReportWelcomeOutcome, SendHelperSummary, WelcomeHelper
from schemas.helpers import HelperProfile, TimeWindow
from schemas.requests import RequestSpec
from schemas.sealed import Sealed
from schemas.staff_actions import CallTeam, ClaimRequest, ReportBack
from schemas.vocab import Party, ReferralTarget, Skill

COMMAND_SCHEMA_VERSION: Literal[1] = 1


class SubmitRequest(Wire):
    type: Literal["submit_request"] = "submit_request"
    spec: RequestSpec


class AcceptOffer(Wire):
    type: Literal["accept_offer"] = "accept_offer"
    request_id: str
    offer_id: str
    helper_id: str
    # A team leader accepting a team offer for this many members (1: themselves alone).
    members: int = Field(default=1, ge=1, le=50, exclude_if=single)
    # Who goes besides the leader (helper ids, the leader's choice): each gets an
    # assignment of their own. Empty with `members` > 1 (commands from before): the
    # leader holds all n slots alone, as then.
    member_ids: tuple[str, ...] = Field(default=(), max_length=49, exclude_if=unset)

    @model_validator(mode="after")
    def _members_named_consistently(self) -> AcceptOffer:
        if self.member_ids and self.members != 1 + len(self.member_ids):
            raise ValueError("members must be 1 (the leader) + len(member_ids)")
        return self


class DeclineOffer(Wire):
    type: Literal["decline_offer"] = "decline_offer"
    request_id: str
    offer_id: str
    helper_id: str


class ReportDeliveryFailure(Wire):
    """The push channel could not reach the helper: treated as "no answer" at once."""

    type: Literal["delivery_failed"] = "delivery_failed"
    request_id: str
    offer_id: str
    helper_id: str
    reason: str = ""


class ReportStaffNotReached(Wire):
    """From the notify agent: every push of a whistle or referral rung (`step`) to the
    people of the community's list failed for good, or it had none to make. `called_at`:
    when the rung called them (its event's time), so the core moves the ladder on for it
    once."""

    type: Literal["report_staff_not_reached"] = "report_staff_not_reached"
    request_id: str
    rung: CalledRung
    step: int = Field(ge=0)
    called_at: UtcDatetime
    # 0: the rung had nobody to call (no whistle list, no staff on duty offered it).
    recipients: int = Field(ge=0)
    roles: tuple[str, ...] = Field(default=(), max_length=16)
    reason: str = Field(default="", max_length=200)


class ClosingNote(Wire):
    """What a person typed when a request ended (a cancel's reason, a resolve's or a
    referral's note, the department's name as typed): it may name a phone or a flat, so
    it travels in `sealed_note`, the request's key bound to the request (sealing.py)."""

    text: str = ""
    department: str = ""


# A closing command's or event's box (absent when nothing was typed, and on records from
# before, whose plain `reason`/`note` still read).
SealedNote = Annotated[Sealed | None, Field(default=None, exclude_if=unset)]


class CancelRequest(Wire):
    type: Literal["cancel_request"] = "cancel_request"
    request_id: str
    by: Literal[Party.REQUESTER, Party.STAFF]
    reason: str = ""
    sealed_note: SealedNote = None


class ResolveRequest(Wire):
    type: Literal["resolve_request"] = "resolve_request"
    request_id: str
    by: Party
    helper_id: str | None = None  # when a helper resolves
    rating: int | None = Field(default=None, ge=1, le=5)
    note: str = ""
    sealed_note: SealedNote = None


class ReferRequest(Wire):
    """Staff hand the request on (120/110/119/property, or a named department): it ends
    here for neighbours."""

    type: Literal["refer_request"] = "refer_request"
    request_id: str
    to: ReferralTarget
    note: str = ""
    # When `to` is "department": its name with phones and numbers masked (the read model
    # shows it); as typed only in `sealed_note`.
    department: str = Field(default="", max_length=64)
    sealed_note: SealedNote = None


class WithdrawHelper(Wire):
    """An assigned helper cannot come after all, or did not show: the slot reopens."""

    type: Literal["helper_withdrew"] = "helper_withdrew"
    request_id: str
    helper_id: str
    no_show: bool = False


class MarkOnMyWay(Wire):
    """The assigned helper has set off (or, for a remote need, is calling)."""

    type: Literal["mark_on_my_way"] = "mark_on_my_way"
    request_id: str
    helper_id: str


MAX_MINUTES_SPENT = 24 * 60


class CompleteAssignment(Wire):
    """The assigned helper is done. `minutes`: what they say they spent; None: the time
    from accepting to now counts. Service hours come from this, never from lifetimes."""

    type: Literal["complete_assignment"] = "complete_assignment"
    request_id: str
    helper_id: str
    minutes: int | None = Field(default=None, ge=0, le=MAX_MINUTES_SPENT)


class FireDeadline(Wire):
    """Sent by the deadline timer. Ignored unless `step` is still the request's step."""

    type: Literal["deadline_reached"] = "deadline_reached"
    request_id: str
    step: int = Field(ge=0)


class ReportRepeated(Wire):
    """The same incident reported again (a bot's report merged into this open request at
    intake) while nobody had accepted it: in a thin circle a second report comes because
    nobody came. The core climbs to the whistle once the first neighbours asked have had
    their rung's wait (a life-threatening request at once), if it is not there yet, once
    per request (`dispatcher/core/repeat_reports.py`); otherwise nothing."""

    type: Literal["report_repeated"] = "report_repeated"
    request_id: str


class ReportQuietHoursChanged(Wire):
    """Sent by the worker that holds the request when its community's quiet hours changed
    in the worker's configuration (`streams/deadline_timer.py`): the core looks again at a
    request they hold (held at submission, or paused) as its deadline would at their end. No
    longer held by the current hours: released, or its paused ladder goes on, now; held to
    another end: held on to that one. Otherwise (released meanwhile, or the same end) a
    no-op (`dispatcher/core/request_commands.quiet_hours_changed`). It carries the hours the
    worker saw as it sent it (None: none) and their zone, and is decided from them, not from
    the worker's hours when it is decided: a replay (after staff changed them back) decides it
    alike. Commands of a community are ordered in its partition: the last one sent wins."""

    type: Literal["quiet_hours_changed"] = "quiet_hours_changed"
    request_id: str
    quiet_hours: QuietHours | None
    time_zone: str = Field(min_length=1, max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # Checked as the community's own zone: one the core cannot load would fail the
        # decision, not the send.
        return known_zone(value)


class UpsertHelper(Wire):
    type: Literal["upsert_helper"] = "upsert_helper"
    profile: HelperProfile


class DeactivateHelper(Wire):
    type: Literal["deactivate_helper"] = "deactivate_helper"
    helper_id: str


class SetHelperStatus(Wire):
    """Away or busy right now; `dnd_override_until` switches the helper's own
    do-not-disturb window off until then ("wake me tonight, I'm on call")."""

    type: Literal["set_helper_status"] = "set_helper_status"
    helper_id: str
    away: bool = False
    busy: bool = False
    dnd_override_until: UtcDatetime | None = None


class SetDoNotDisturb(Wire):
    """The helper's own quiet hours (local time; None: no quiet hours). Critical requests
    still wake them, as for every do-not-disturb window."""

    type: Literal["set_do_not_disturb"] = "set_do_not_disturb"
    helper_id: str
    window: TimeWindow | None = None


class SetHelperOffer(Wire):
    """What the helper offers and how they like to be reached, from their personal page.
    `channels`: one private endpoint ("webhook:phones"), () for the community's default,
    None to leave as is."""

    type: Literal["set_helper_offer"] = "set_helper_offer"
    helper_id: str
    skills: tuple[Skill, ...] = Field(min_length=1, max_length=len(Skill))
    channels: tuple[str, ...] | None = Field(default=None, max_length=1)


class PairHousehold(Wire):
    """结对: the helper looks after this household (the household ledger's 结对 column), so
    a request from it asks them first; `paired=False` ends the pairing."""

    type: Literal["pair_household"] = "pair_household"
    helper_id: str
    household_id: str = Field(min_length=1, max_length=64)
    paired: bool = True


class RewriteHelper(Wire):
    """From `reseal-helpers`: store the helper as the worker holds it now (its profile
    sealed under the active contact key when the worker read it, an inactive helper's
    contact erased), changing nothing: a profile as read elsewhere would undo a change
    made to the helper meanwhile."""

    type: Literal["rewrite_helper"] = "rewrite_helper"
    helper_id: str


CommandBody = Annotated[
    SubmitRequest
    | AcceptOffer
    | DeclineOffer
    | ReportDeliveryFailure
    | ReportStaffNotReached
    | CancelRequest
    | ResolveRequest
    | ReferRequest
    | WithdrawHelper
    | MarkOnMyWay
    | CompleteAssignment
    | FireDeadline
    | ReportRepeated
    | ReportQuietHoursChanged
    | UpsertHelper
    | DeactivateHelper
    | SetHelperStatus
    | SetDoNotDisturb
    | ClaimRequest
    | ReportBack
    | WelcomeHelper
    | SendHelperSummary
    | SetHelperOffer
    | PairHousehold
    | RewriteHelper
    | CallTeam
    | ReportWelcomeOutcome,
    Field(discriminator="type"),
]

REQUEST_COMMANDS = (
    SubmitRequest,
    AcceptOffer,
    DeclineOffer,
    ReportDeliveryFailure,
    ReportStaffNotReached,
    CancelRequest,
    ResolveRequest,
    ReferRequest,
    WithdrawHelper,
    MarkOnMyWay,
    CompleteAssignment,
    FireDeadline,
    ReportRepeated,
    ReportQuietHoursChanged,
    ClaimRequest,
    ReportBack,
    CallTeam,
)
HELPER_COMMANDS = (
    UpsertHelper,
    DeactivateHelper,
    SetHelperStatus,
    SetDoNotDisturb,
    WelcomeHelper,
    SendHelperSummary,
    SetHelperOffer,
    PairHousehold,
    RewriteHelper,
    ReportWelcomeOutcome,
)


class Command(Wire):
    v: Literal[1] = COMMAND_SCHEMA_VERSION
    command_id: str = Field(min_length=1)
    community_id: str = Field(min_length=1)
    issued_at: UtcDatetime
    body: CommandBody
    # Set on a command the dispatch agent read late and sent again, with the same id, rather
    # than deciding it (`reissued`): the agent's clock as it sent it again, the time the
    # command is then decided at. `issued_at` stays the sender's (the resident's intake).
    reissued_at: UtcDatetime | None = Field(default=None, exclude_if=unset)

    def decided_from(self) -> datetime:
        """The time the command is decided at (before the agent's clamp to its own clock)."""
        return self.issued_at if self.reissued_at is None else self.reissued_at


def new_command(body: CommandBody, *, community_id: str, issued_at: datetime) -> Command:
    """A command with a fresh random id (for producers: API, bots, roster import)."""
    return Command(
        command_id=str(uuid.uuid4()),
        community_id=community_id,
        issued_at=issued_at,
        body=body,
    )


def deadline_command(
    *,
    request_id: str,
    community_id: str,
    step: int,
    due_at: datetime,
    sent_at: datetime | None = None,
) -> Command:
    """The timer's command. Its id is derived from (request, step, due time), so a timer
    that fires twice after a restart produces one command, not two.

    Issued at the later of its due time and `sent_at` (the timer's clock as it sends it):
    the dispatch agent decides at the command's time, so a deadline a worker sends late
    (down, or behind) is decided when it is sent - the ladder goes on from then, one rung at
    a time, and the offers it sends get their whole time to answer - rather than at a due
    time long past (offers expired on arrival, and each rung missed climbed at once). The
    command is durable in Kafka: a replay decides it at the same time."""
    key = f"deadline:{request_id}:{step}:{due_at.isoformat()}"
    return Command(
        command_id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        community_id=community_id,
        issued_at=due_at if sent_at is None else max(due_at, sent_at),
        body=FireDeadline(request_id=request_id, step=step),
    )


def quiet_hours_command(
    *,
    request_id: str,
    community_id: str,
    held_until: datetime,
    sent_at: datetime,
    quiet_start: time | None,
    quiet_end: time | None,
    time_zone: str,
) -> Command:
    """The worker's `ReportQuietHoursChanged` about a request held until `held_until`,
    issued at its clock as it sends it (decided then, like the timer's deadlines), with the
    community's quiet hours (None: none) and zone as the worker sees them then. Its id is
    derived from the request, its hold, that time and those hours. Deciding one twice, or one
    sent after the request was released, changes nothing."""
    at = require_utc(sent_at)
    quiet = None
    if quiet_start is not None and quiet_end is not None:
        quiet = QuietHours(start=quiet_start, end=quiet_end)
    body = ReportQuietHoursChanged(request_id=request_id, quiet_hours=quiet, time_zone=time_zone)
    hours = "none" if quiet is None else f"{quiet.start.isoformat()}-{quiet.end.isoformat()}"
    key = f"quiet-hours:{request_id}:{held_until.isoformat()}:{at.isoformat()}:{hours}:{time_zone}"
    return _derived(key, body, community_id, at)


def _derived(key: str, body: CommandBody, community_id: str, issued_at: datetime) -> Command:
    """A command whose id is derived from `key` (what makes it one command)."""
    return Command(
        command_id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        community_id=community_id,
        issued_at=issued_at,
        body=body,
    )


def reissued(command: Command, at: datetime) -> Command:
    """`command` sent again by the dispatch agent that read it late, to be decided at `at`
    (its clock then), not at a time long past: a first wave decided from a backlog at the
    API's stamp sent offers whose time had run out and whose next rung was already due. The
    same id: the first of the copies decided counts (a request opens once, a command is
    taken once per request), so a copy sent twice (a crash before the original was
    acknowledged) changes nothing. The time is in the record: a replay decides it alike."""
    return command.model_copy(update={"reissued_at": require_utc(at)})


def staff_not_reached_command(
    body: ReportStaffNotReached, *, community_id: str, event_id: str, issued_at: datetime
) -> Command:
    """The notify agent's report that a rung's call (event `event_id`) reached nobody. Its
    id is derived from the event, so a report sent again (a restart re-pushes the event)
    is the same command, recorded once."""
    return Command(
        command_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"staff-not-reached:{event_id}")),
        community_id=community_id,
        issued_at=issued_at,
        body=body,
    )


def repeat_command(
    *, request_id: str, community_id: str, report_id: str, issued_at: datetime
) -> Command:
    """The API's `ReportRepeated` for a report (`report_id`: the merged report's own
    request id, derived from its chat message) merged into `request_id`. Its id is derived
    from both, so a bot's retry of the same message is the same command, decided once."""
    key = f"report-repeated:{request_id}:{report_id}"
    return _derived(key, ReportRepeated(request_id=request_id), community_id, issued_at)
