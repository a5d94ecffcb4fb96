"""What the demo saw happen to each chat message, from the outside only: the bot API's answer
(the classifier's verdict), the pushes that reached the simulated phones, what the link pages
told each phone, and the request's status as staff read it. Prints each step as it happens
and, at the end, a summary per story (and one JSON line with `--json`)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from dispatcher.demo.stories import ChatLine

TERMINAL = {"resolved", "cancelled", "referred", "expired"}
WAVE_GATHER_S = 0.3  # offers of one wave arrive within milliseconds of each other
RING_READS = 3  # tries to read a wave's offers from the read model (recorded within ~0.1 s)


class Background:
    """Tasks the demo starts and forgets (a phone's answer, a wave's line), kept referenced
    until done and cancelled together at the end."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True)
class Answer:
    helper: str
    action: str  # accept | decline
    outcome: str  # what the link page said, as a word (assigned, covered, declined, …)
    tapped_at: float  # monotonic: the phone opened the link
    at: float  # monotonic: the answer page came back


@dataclass
class Trace:
    line: ChatLine
    message_id: str
    sent_at: float  # monotonic, when the bot relayed the message
    reply: dict[str, Any] | None = None
    request_id: str | None = None
    pushes: Counter[str] = field(default_factory=Counter)  # push kind -> count
    offered: list[str] = field(default_factory=list)  # helpers, in push order
    answers: list[Answer] = field(default_factory=list)
    first_push_at: float | None = None
    first_accept: Answer | None = None  # the first link answer whose page said "assigned"
    rings: list[str] = field(default_factory=list)
    # The assigned phones' buttons: (helper, step, minutes, what the page said, when).
    pressed: list[tuple[str, str, int | None, str, float]] = field(default_factory=list)
    closed_at: float | None = None  # when the status first read closed (0.5 s polls)
    merged_into: str | None = None  # the trace (key) of this demo whose request this joined
    status: dict[str, Any] | None = None
    _wave: list[tuple[str, str]] = field(default_factory=list)  # (helper, offer id)
    _wave_at: float = 0.0  # when its first offer reached a phone

    @property
    def is_request(self) -> bool:
        return bool(self.reply and self.reply.get("is_request"))

    @property
    def outcome(self) -> str | None:
        return self.status.get("outcome") if self.status else None

    @property
    def done(self) -> bool:
        """Nothing more to watch: not a request, or the request is closed."""
        if self.reply is None:
            return False
        return not self.is_request or (self.status or {}).get("status") in TERMINAL

    @property
    def covered(self) -> bool:
        s = self.status or {}
        return bool(s) and s.get("helpers_assigned", 0) >= s.get("helpers_needed", 1)

    def after(self, at: float | None) -> float | None:
        return None if at is None else round(at - self.sent_at, 2)

    def summary(self) -> dict[str, Any]:
        reply = self.reply or {}
        return {
            "key": self.line.key,
            "message_id": self.message_id,
            "group_id": self.line.group_id,
            "is_request": self.is_request,
            "expected_category": self.line.expect_category,
            "category": reply.get("category"),
            "urgency": reply.get("urgency"),
            "helpers_needed": reply.get("helpers_needed"),
            "emergency_number": reply.get("emergency_number"),
            "merged": reply.get("merged", False),
            "merged_into": self.merged_into,
            "request_id": self.request_id,
            "pushes": dict(self.pushes),
            "offers_pushed": self.pushes.get("offer", 0),
            "phones_offered": len(set(self.offered)),
            "link_answers": [
                {"helper": a.helper, "action": a.action, "outcome": a.outcome} for a in self.answers
            ],
            "accepted_via_link": [
                a.helper for a in self.answers if a.action == "accept" and a.outcome == "assigned"
            ],
            "rings": self.rings,
            "first_push_s": self.after(self.first_push_at),
            # The accepting phone opened its link (it pressed the button right after), and
            # when its page confirmed the assignment.
            "first_accept_s": self.after(
                self.first_accept.tapped_at if self.first_accept else None
            ),
            "first_accept_page_s": self.after(self.first_accept.at if self.first_accept else None),
            "done_pressed": [
                {"helper": h, "minutes": m, "page": said}
                for h, step, m, said, _ in self.pressed
                if step == "done"
            ],
            "first_done_s": self.after(
                next((at for _, step, _, _, at in self.pressed if step == "done"), None)
            ),
            "closed_s": self.after(self.closed_at),
            "outcome": self.outcome,
        }


class Board:
    """Every trace by request id. Pushes and link answers can come before the bot's answer
    that names the request (the worker is that fast): they wait here until it does."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        read_rings: Callable[[list[str]], Awaitable[dict[str, str]]] | None = None,
    ) -> None:
        self.started = time.monotonic()
        self.quiet = quiet
        self.read_rings = read_rings  # offer id -> its helper's ring, once recorded
        self.background = Background()
        self.traces: list[Trace] = []
        self.by_request: dict[str, Trace] = {}
        self._early: dict[str, list[tuple[str, Any]]] = {}
        self.whistles: Counter[str] = Counter()  # community -> whistle pushes to its group

    @property
    def unknown_pushes(self) -> int:
        """Pushes about requests this demo did not send (other traffic on the service)."""
        return sum(len(waiting) for waiting in self._early.values())

    def say(self, trace: Trace | None, text: str) -> None:
        if trace is not None and trace._wave:  # the wave came first: say so first
            self._print_wave(trace)
        self._emit(trace, text)

    def _emit(self, trace: Trace | None, text: str, at: float | None = None) -> None:
        if self.quiet:
            return
        stamp = f"[{(at or time.monotonic()) - self.started:7.2f} s]"
        who = f" {trace.line.key:<18}" if trace else " "
        print(f"{stamp}{who} {text}", flush=True)

    # ------------------------------------------------------------ from the bot
    def sent(self, line: ChatLine, message_id: str) -> Trace:
        trace = Trace(line, message_id, time.monotonic())
        self.traces.append(trace)
        self.say(trace, f"message in {line.group_id} from {line.sender_name}: 「{line.text}」")
        return trace

    def replied(self, trace: Trace, reply: dict[str, Any]) -> None:
        trace.reply = reply
        if not reply.get("is_request"):
            self.say(trace, "classified as: not a help request (nothing sent)")
            return
        rid = str(reply["request_id"])
        text = (
            f"classified as {reply.get('category')} / {reply.get('urgency')}, "
            f"{reply.get('helpers_needed')} helper(s) needed"
        )
        if reply.get("emergency_number"):
            text += f"; told to call {reply['emergency_number']} at once"
        self.say(trace, text + f" → request {rid[:8]}")
        self.say(trace, f"bot replies in the group: 「{reply.get('reply_text')}」")
        trace.request_id = rid  # followed to its close, merged or not
        if rid in self.by_request:
            # Pushes and answers stay with the first trace; this one watches its status.
            trace.merged_into = self.by_request[rid].line.key
            self.say(
                trace, f"merged with {trace.merged_into}'s request: the same help, asked twice"
            )
            return
        if reply.get("merged"):  # e.g. left open by an earlier demo: follow that one
            self.say(trace, "merged with an open request about the same thing: following it")
        self.by_request[rid] = trace
        for what, arg in self._early.pop(rid, []):
            self._apply(trace, what, arg)

    # ------------------------------------------------------------ from the phones
    def pushed(self, request_id: str, kind: str, helper: str, offer_id: str = "") -> None:
        self._route(request_id, "push", (kind, helper, offer_id, time.monotonic()))

    def answered(self, request_id: str, answer: Answer) -> None:
        self._route(request_id, "answer", answer)

    def pressed(
        self, request_id: str, helper: str, step: str, minutes: int | None, said: str
    ) -> None:
        self._route(request_id, "pressed", (helper, step, minutes, said, time.monotonic()))

    def whistle(self, community: str, request_id: str) -> None:
        self.whistles[community] += 1
        self._route(request_id, "push", ("whistle", "", "", time.monotonic()))

    def _route(self, request_id: str, what: str, arg: Any) -> None:
        trace = self.by_request.get(request_id)
        if trace is not None:
            self._apply(trace, what, arg)
        elif len(self._early) < 10_000:
            self._early.setdefault(request_id, []).append((what, arg))

    def _apply(self, trace: Trace, what: str, arg: Any) -> None:
        if what == "answer":
            self._answer(trace, arg)
            return
        if what == "pressed":
            trace.pressed.append(arg)
            helper, step, minutes, said, _ = arg
            button = {"on-my-way": "我在路上", "done": "已完成"}.get(step, step)
            spent = f" ({minutes} min)" if minutes is not None else ""
            self.say(trace, f"{helper} pressed {button}{spent} on its page: {said}")
            return
        kind, helper, offer_id, at = arg
        trace.pushes[kind] += 1
        if kind == "offer":
            trace.first_push_at = trace.first_push_at or at
            trace.offered.append(helper)
            if not trace._wave:
                trace._wave_at = at
                self.background.spawn(self._gather_wave(trace))
            trace._wave.append((helper, offer_id))
        elif kind == "assignment":
            self.say(trace, f"assignment (contact, exact place) pushed to {helper}'s phone only")
        elif kind == "whistle":
            self.say(trace, "whistle: the community's group is told nobody has come yet")

    async def _gather_wave(self, trace: Trace) -> None:
        """Offers of one wave arrive within milliseconds: print them as one line, with the
        ring of each helper they went to (close neighbours first), once recorded."""
        await asyncio.sleep(WAVE_GATHER_S)
        rings: dict[str, str] = {}
        for _ in range(RING_READS):
            ids = [offer for _, offer in trace._wave]
            if not ids or self.read_rings is None:
                break
            rings = await self.read_rings(ids)
            if len(rings) == len(ids):
                break
            await asyncio.sleep(WAVE_GATHER_S)
        if trace._wave:
            self._print_wave(trace, rings)

    def _print_wave(self, trace: Trace, rings: dict[str, str] | None = None) -> None:
        wave, trace._wave = trace._wave, []
        mix = Counter((rings or {}).get(offer, "?") for _, offer in wave)
        where = (
            "" if set(mix) == {"?"} else " (" + ", ".join(f"{r} {n}" for r, n in mix.items()) + ")"
        )
        names = [helper for helper, _ in wave]
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        # Stamped when the wave arrived (reading its rings can take a moment).
        self._emit(trace, f"offers pushed to {len(wave)} phone(s){where}: {shown}", trace._wave_at)

    def _answer(self, trace: Trace, a: Answer) -> None:
        trace.answers.append(a)
        if a.action == "accept" and a.outcome == "assigned" and trace.first_accept is None:
            trace.first_accept = a
        tapped, page = trace.after(a.tapped_at), trace.after(a.at)
        self.say(
            trace, f"{a.helper}: {a.action} link opened at {tapped} s → page {page} s: {a.outcome}"
        )

    # ------------------------------------------------------------ from the status
    def status(self, trace: Trace, status: dict[str, Any]) -> None:
        before = trace.status or {}
        trace.status = status
        ring = status.get("ring")
        if ring and (not trace.rings or trace.rings[-1] != ring):
            if trace.rings:
                self.say(trace, f"nobody has come yet: the ladder widened to {ring}")
            trace.rings.append(ring)
        if status.get("status") != before.get("status") and status.get("status") in TERMINAL:
            trace.closed_at = time.monotonic()
            closed = status.get("outcome") or status.get("status")
            self.say(
                trace,
                f"{closed} ({status.get('helpers_assigned')}/{status.get('helpers_needed')} "
                f"helpers, {status.get('offers_sent')} offers)",
            )


def describe(t: Trace) -> list[str]:
    """The end-of-run summary of one story."""
    s = t.summary()
    lines = [f"● {t.line.title}", f"  message: 「{t.line.text}」 in {t.line.group_id}"]
    if not t.is_request:
        verdict = "not a help request" if t.reply else "no answer from the API"
        return [*lines, f"  classified as: {verdict}"]
    lines.append(
        f"  classified as: {s['category']} / {s['urgency']}, {s['helpers_needed']} needed"
        + (f"; told to call {s['emergency_number']} at once" if s["emergency_number"] else "")
    )
    if t.merged_into is not None:
        lines.append(f"  merged into {t.merged_into}'s request: its pushes and answers are there")
        return [*lines, _outcome_line(t)]
    if t.pushes:
        kinds = ", ".join(f"{k} {n}" for k, n in t.pushes.items())
        first = s["first_push_s"]
        lines.append(
            f"  pushes: {sum(t.pushes.values())} ({kinds}); offers reached "
            f"{s['phones_offered']} phone(s)"
            + (f", the first {first} s after the message" if first is not None else "")
        )
    else:
        lines.append("  pushes: none reached the phones")
    if len(t.rings) > 1:
        lines.append(f"  ladder (as recorded): {' → '.join(t.rings)}")
    answers = Counter(f"{a.action}→{a.outcome}" for a in t.answers)
    lines.append(f"  link answers: {dict(answers) or 'none'}")
    if t.first_accept is not None:
        lines.append(
            f"  accepted through the link: {', '.join(s['accepted_via_link'])}; the first "
            f"{s['first_accept_s']} s after the message (its page confirmed at "
            f"{s['first_accept_page_s']} s)"
        )
    else:
        lines.append("  accepted through the link: nobody")
    return [*lines, _outcome_line(t)]


def _outcome_line(t: Trace) -> str:
    closed = f" after {t.after(t.closed_at)} s" if t.closed_at is not None else ""
    return f"  outcome: {t.outcome or 'still open when the demo stopped'}{closed}"
