"""Roster commands: add or change a helper, deactivate, away/busy status."""

from __future__ import annotations

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.ladder import drop_helper
from dispatcher.core.trusted import share_fields_sets, updated
from schemas.commands import (
    DeactivateHelper,
    PairHousehold,
    RewriteHelper,
    SetDoNotDisturb,
    SetHelperOffer,
    SetHelperStatus,
    UpsertHelper,
)
from schemas.events import CommandRejected, HelperUpdated, RejectReason
from schemas.helpers import HelperProfile
from schemas.records import RECENT_COMMANDS_KEPT, HelperState, OfferStatus, RequestState


def _store(fx: Effects, helper: HelperState) -> None:
    recent = (*helper.recent_command_ids, fx.command.command_id)[-RECENT_COMMANDS_KEPT:]
    helper = updated(helper, recent_command_ids=recent)
    fx.put_helper(helper)
    fx.emit(
        HelperUpdated(
            helper_id=helper.helper_id,
            active=helper.profile.active,
            away=helper.away,
            busy=helper.busy,
            teams=tuple(sorted({*helper.profile.teams, *helper.profile.leads_teams})),
        ),
        None,
    )


def _reject(fx: Effects, helper_id: str, reason: RejectReason, detail: str = "") -> None:
    fx.emit(
        CommandRejected(
            command_type=fx.command.body.type, reason=reason, helper_id=helper_id, detail=detail
        ),
        None,
    )


def upsert_helper(fx: Effects, body: UpsertHelper) -> dict[str, RequestState]:
    """Returns the requests changed: a profile turned inactive (the roster's `active:
    false`) drops the helper's offers as a deactivation does."""
    profile = share_fields_sets(body.profile)  # kept in the state
    if profile.community_id != fx.command.community_id:
        _reject(fx, profile.helper_id, "wrong_community")
        return {}
    old = fx.state.helpers.get(profile.helper_id)
    if old is not None and old.community_id != profile.community_id:
        # Another community's helper: its staff alone may change or retire them.
        _reject(fx, profile.helper_id, "wrong_community", "a helper of another community")
        return {}
    if old is None:
        _store(fx, share_fields_sets(HelperState(profile=profile)))
        return {}
    if old.profile.active:
        # Back on the roster is a new sign-up: its profile's channel and quiet hours are
        # the ones chosen now (else a stale channel, maybe an endpoint deleted since).
        profile = _keep_own_choices(profile, old.profile)
    helper = updated(old, profile=profile)  # load history is kept
    if profile.active != old.profile.active:
        # Leaving the roster, or back on it (a record that left before this rule kept
        # them): the status and the welcome of the earlier time on the roster go.
        helper = _fresh_on_the_roster(helper)
    if helper != old:
        _store(fx, helper)
    if profile.active or not old.profile.active:
        return {}
    return _drop_offers_of(fx, old)


def _keep_own_choices(profile: HelperProfile, old: HelperProfile) -> HelperProfile:
    """A ledger row or staff PUT states no quiet hours (the ledger has no such column) and
    often no channel; the helper may have set either on their personal page
    (`SetDoNotDisturb`, `SetHelperOffer`). The wire cannot tell "not stated" from
    "cleared" (both are null / [] in the command), so an empty one keeps the stored
    choice: else a monthly re-import wakes the helper at night and moves their offers to
    the group. A stated window or channel replaces it; the helper clears their own."""
    keep: dict[str, object] = {}
    if profile.do_not_disturb is None and old.do_not_disturb is not None:
        keep["do_not_disturb"] = old.do_not_disturb
    if not profile.channels and old.channels:
        keep["channels"] = old.channels
    return updated(profile, **keep) if keep else profile


def _fresh_on_the_roster(helper: HelperState) -> HelperState:
    """Away, busy, a quiet-hours override and the welcome mark belong to one time on the
    roster: a helper signing up again after leaving is welcomed again (their personal
    link) and offered requests, not left away from a year ago."""
    return updated(helper, away=False, busy=False, dnd_override_until=None, welcomed_at=None)


def known_helper(fx: Effects, helper_id: str) -> HelperState | None:
    helper = fx.state.helpers.get(helper_id)
    if helper is None or helper.community_id != fx.command.community_id:
        _reject(fx, helper_id, "unknown_helper")
        return None
    return helper


def deactivate_helper(fx: Effects, body: DeactivateHelper) -> dict[str, RequestState]:
    """Off the roster: offered nothing more, and each offer they still hold is stood down
    and replaced (else it would count as pending, and they could still accept it). Their
    assignments stay: whoever is on their way finishes. Their contact goes (kept only while
    on the roster); a ledger listing them again brings it back. Returns the requests changed."""
    helper = known_helper(fx, body.helper_id)
    if helper is None:
        return {}
    profile = off_the_roster(helper.profile)
    # Also when inactive already: a contact (or status) kept by a deactivation before this.
    gone = _fresh_on_the_roster(updated(helper, profile=profile))
    if gone != helper:
        _store(fx, gone)
    # Also when inactive already: offers left open by a deactivation before this rule.
    return _drop_offers_of(fx, helper)


def off_the_roster(profile: HelperProfile) -> HelperProfile:
    """The profile inactive, without what reaches or names the person: phone (plain, sealed,
    keyed digest), name, platform user id, unit and floor (plain or in the detail box).
    What dispatch and reports count by (place down to the building, skills, teams) stays."""
    place = profile.place
    if place.unit is not None or place.floor is not None:
        place = updated(place, unit=None, floor=None)
    return updated(
        profile,
        active=False,
        phone=None,
        sealed_phone=None,
        phone_key=None,
        name="",
        sealed_name=None,
        platform_user_id=None,
        sealed_detail=None,
        place=place,
    )


def _drop_offers_of(fx: Effects, helper: HelperState) -> dict[str, RequestState]:
    if helper.load.last_offered_at is None:
        return {}  # never offered anything
    # A scan of the live requests: a deactivation is a rare staff action.
    helper_id = helper.helper_id
    changed: dict[str, RequestState] = {}
    community_id = fx.command.community_id
    for r in list(fx.state.requests.live()):
        if r.terminal or r.community_id != community_id:
            continue
        if not any(o.helper_id == helper_id and o.status is OfferStatus.OPEN for o in r.offers):
            continue
        d = RequestDraft.of(r, fx.now)
        if drop_helper(fx, d, helper_id):
            changed[r.request_id] = d.freeze(fx.command.command_id)
    return changed


def active_helper(fx: Effects, helper_id: str) -> HelperState | None:
    """The helper, for a change of their own (their personal link's): one off the roster
    (deactivated, or left out of the ledger) is refused, `helper_inactive`, and nothing
    stored, so a link kept from before does not turn them back to taking requests."""
    helper = known_helper(fx, helper_id)
    if helper is not None and not helper.profile.active:
        _reject(fx, helper_id, "helper_inactive")
        return None
    return helper


def set_helper_status(fx: Effects, body: SetHelperStatus) -> None:
    helper = active_helper(fx, body.helper_id)
    if helper is None:
        return
    wanted = {"away": body.away, "busy": body.busy, "dnd_override_until": body.dnd_override_until}
    if any(getattr(helper, k) != v for k, v in wanted.items()):
        _store(fx, updated(helper, **wanted))


def set_do_not_disturb(fx: Effects, body: SetDoNotDisturb) -> None:
    helper = active_helper(fx, body.helper_id)
    if helper is not None and helper.profile.do_not_disturb != body.window:
        profile = updated(helper.profile, do_not_disturb=body.window)
        _store(fx, updated(helper, profile=profile))


def set_helper_offer(fx: Effects, body: SetHelperOffer) -> None:
    """The helper's own choice; a later ledger import states the ledger's skills again."""
    helper = active_helper(fx, body.helper_id)
    if helper is None:
        return
    changes: dict[str, object] = {"skills": tuple(dict.fromkeys(body.skills))}
    if body.channels is not None:
        changes["channels"] = body.channels
    profile = updated(helper.profile, **changes)
    if profile != helper.profile:
        _store(fx, updated(helper, profile=profile))


def pair_household(fx: Effects, body: PairHousehold) -> None:
    """The household ledger's 结对: kept in `household_pairs`, apart from the helper
    ledger's column, so an `UpsertHelper` from a helper-ledger re-import keeps it."""
    helper = known_helper(fx, body.helper_id)
    if helper is None:
        return
    pairs = helper.household_pairs
    if body.paired and body.household_id not in pairs:
        pairs = (*pairs, body.household_id)
    elif not body.paired and body.household_id in pairs:
        pairs = tuple(h for h in pairs if h != body.household_id)
    else:
        return
    _store(fx, updated(helper, household_pairs=pairs))


def rewrite_helper(fx: Effects, body: RewriteHelper) -> None:
    """The helper stored again as this worker holds it, unchanged: so the table (and its
    changelog) drops boxes under a retired key and an inactive helper's contact, which
    the worker dropped when it read them (`seal_profile`), without a profile read
    elsewhere undoing a change made meanwhile (`reseal-helpers`)."""
    helper = known_helper(fx, body.helper_id)
    if helper is not None:
        _store(fx, helper)
