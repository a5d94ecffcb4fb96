"""A copy that lands directly behind its original is decided as Kafka acknowledges it
(session 43, streams/late_commands.py `follows_its_original`).

Since session 41 the agent decides a submit (and a command that makes offers) from the copy it
sends through Kafka, at the copy's time; reading the copy back cost a fetch round trip (~2 ms
of a first offer at 50 req/s). When the copy's offset is the original's plus one, nothing
lies between them and the agent, which has taken every record up to the original, decides
the copy at once: the same events as reading it back (same ids, same times), and the copy
read back is then a no-op. When anything lies between, the copy waits to be read, as before.

The real agent (`handle_group`), Kafka in memory (tests/unit/test_dispatch_groups.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    DeclineOffer,
    SubmitRequest,
    UpsertHelper,
)
from schemas.event_batch import decode_record
from schemas.vocab import Party, Skill, Urgency
from streams.late_commands import follows_its_original
from tests.support.worker_clock import CommandsTopic
from tests.unit.conftest import World
from tests.unit.test_dispatch_groups import FakeEvent, FakeEvents, agent, runtime

HELPERS = ("a", "b", "c")
SUBMIT_AT = len(HELPERS)  # the submit's record follows the helpers'


def test_follows_its_original() -> None:
    def ack(partition: int, offset: int) -> SimpleNamespace:
        return SimpleNamespace(partition=partition, offset=offset)

    assert follows_its_original(ack(2, 8), 2, 7)
    assert not follows_its_original(ack(2, 9), 2, 7)  # a record between: read in turn
    assert not follows_its_original(ack(3, 8), 2, 7)  # another partition's log
    assert not follows_its_original(ack(2, 0), 2, -1)  # the original's place not known
    assert not follows_its_original(None, 2, 7)  # no acknowledgement's place


def _helpers() -> list[FakeEvent]:
    """Drivers near the requester: a trip to hospital is offered to them."""
    world = World()
    return [
        FakeEvent(i, world.command(UpsertHelper(profile=profile)).model_dump_json().encode())
        for i, profile in enumerate(world.helper(h, skills=[Skill.DRIVING]) for h in HELPERS)
    ]


def _submit() -> Command:
    world = World()
    return world.command(SubmitRequest(spec=world.spec(urgency=Urgency.CRITICAL)), "intake-1")


async def _worker(tmp_path: Path, copy_offset: int) -> tuple[object, FakeEvents]:
    """A worker that holds the helpers and reads the submit, its copy acknowledged at
    `copy_offset`: (its agent, its events topic)."""
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    rt.commands = CommandsTopic(next_offset=copy_offset)
    dispatch, sink = agent(rt)
    await dispatch.handle_group(_helpers())
    events.sent.clear()
    await dispatch.handle_group([FakeEvent(SUBMIT_AT, _submit().model_dump_json().encode())])
    assert not sink.letters
    return dispatch, events


async def test_a_copy_directly_behind_its_original_is_decided_at_its_acknowledgement(
    tmp_path: Path,
) -> None:
    dispatch, events = await _worker(tmp_path, SUBMIT_AT + 1)
    rt = dispatch.rt  # type: ignore[attr-defined]
    [copy] = rt.commands.taken()
    assert rt.stats.reissued == 1 and rt.stats.decided_at_ack == 1
    request = rt.state.core.requests["req-1"]
    assert request.offers, "nobody asked before the copy was read back"
    assert request.step_started_at == copy.reissued_at  # at the copy's time, as when read
    sent = list(events.sent)
    assert sent
    # Read back: a second copy, nothing more.
    await dispatch.handle_group([FakeEvent(SUBMIT_AT + 1, copy.model_dump_json().encode())])
    assert events.sent == sent and rt.state.core.requests["req-1"] == request
    assert rt.stats.decided_at_ack == 1


async def test_the_early_decision_is_the_one_reading_the_copy_back_makes(tmp_path: Path) -> None:
    """The events decided at the acknowledgement, byte for byte, are those a worker that
    reads the same copy from the log emits (a replay, or the partition's next owner)."""
    early, early_events = await _worker(tmp_path / "early", SUBMIT_AT + 1)
    [copy] = early.rt.commands.taken()  # type: ignore[attr-defined]
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    reader, sink = agent(rt)
    await reader.handle_group(_helpers())
    events.sent.clear()
    await reader.handle_group([FakeEvent(SUBMIT_AT, copy.model_dump_json().encode())])
    assert not sink.letters and rt.stats.decided_at_ack == 0
    assert events.sent == early_events.sent


async def test_a_copy_with_a_record_between_waits_to_be_read(tmp_path: Path) -> None:
    dispatch, events = await _worker(tmp_path, SUBMIT_AT + 2)  # another record at +1
    rt = dispatch.rt  # type: ignore[attr-defined]
    assert rt.stats.reissued == 1 and rt.stats.decided_at_ack == 0
    assert not events.sent and "req-1" not in rt.state.core.requests
    [copy] = rt.commands.taken()
    between = World().command(UpsertHelper(profile=World().helper("d")))
    await dispatch.handle_group([FakeEvent(SUBMIT_AT + 1, between.model_dump_json().encode())])
    events.sent.clear()
    await dispatch.handle_group([FakeEvent(SUBMIT_AT + 2, copy.model_dump_json().encode())])
    assert events.sent and rt.state.core.requests["req-1"].step_started_at == copy.reissued_at


def _types(sent: list[bytes]) -> list[str]:
    return [e.body.type for value in sent for e in decode_record(value).events]


async def test_a_refused_copy_read_back_is_not_refused_again(tmp_path: Path) -> None:
    """A copy the core refuses (a cancel of a request the state does not hold) keeps no
    command id in any request, so deciding its read-back again sent the same refusal out
    twice (session 43's review): the agent remembers the copy it decided early."""
    events = FakeEvents()
    rt = runtime(tmp_path, events)
    rt.commands = CommandsTopic(next_offset=1)  # the copy lands directly behind
    dispatch, sink = agent(rt)
    cancel = World().command(CancelRequest(request_id="nope", by=Party.REQUESTER), "c-1")
    await dispatch.handle_group([FakeEvent(0, cancel.model_dump_json().encode())])
    [copy] = rt.commands.taken()
    assert rt.stats.decided_at_ack == 1 and _types(events.sent) == ["command_rejected"]
    await dispatch.handle_group([FakeEvent(1, copy.model_dump_json().encode())])
    assert _types(events.sent) == ["command_rejected"] and not sink.letters


async def test_a_refused_decline_read_back_in_a_group_is_not_refused_again(
    tmp_path: Path,
) -> None:
    """The same when the copy is read back with other records (the group path): a decline
    of an offer already accepted, refused at its acknowledgement, read back once."""
    dispatch, events = await _worker(tmp_path, SUBMIT_AT + 1)
    rt = dispatch.rt  # type: ignore[attr-defined]
    [submit_copy] = rt.commands.taken()
    at = SUBMIT_AT + 1
    request = rt.state.core.requests["req-1"]
    offer = request.offers[0]
    world = World()
    world.now = request.step_started_at
    accept = world.command(
        AcceptOffer(request_id="req-1", offer_id=offer.offer_id, helper_id=offer.helper_id),
        "acc-1",
    )
    await dispatch.handle_group(  # type: ignore[attr-defined]
        [
            FakeEvent(at, submit_copy.model_dump_json().encode()),
            FakeEvent(at + 1, accept.model_dump_json().encode()),
        ]
    )
    assert rt.state.core.requests["req-1"].assignments
    decline = world.command(
        DeclineOffer(request_id="req-1", offer_id=offer.offer_id, helper_id=offer.helper_id),
        "dec-1",
    )
    rt.commands.next_offset = at + 3
    events.sent.clear()
    await dispatch.handle_group([FakeEvent(at + 2, decline.model_dump_json().encode())])  # type: ignore[attr-defined]
    [copy] = rt.commands.taken()
    assert _types(events.sent) == ["command_rejected"] and rt.stats.decided_at_ack == 2
    later = world.command(CancelRequest(request_id="other", by=Party.REQUESTER), "c-2")
    await dispatch.handle_group(  # type: ignore[attr-defined]
        [
            FakeEvent(at + 3, copy.model_dump_json().encode()),
            FakeEvent(at + 4, later.model_dump_json().encode()),
        ]
    )
    assert _types(events.sent) == ["command_rejected"]  # the other cancel: copied, not decided
