"""What a helper's page says after their 去不了了, and before it behind the offer's 来不了
link (the held page). Session 40.

Before: "没关系，我们马上联系其他邻居。" and "…点“去不了了”，我们会马上联系其他邻居。",
whatever happened next. Untrue at night (quiet hours pause a chore's ladder: nobody is
asked until they end) and when nobody is left to ask (the core calls staff on duty and, for
a critical request, refers to 120 again). The page is answered without knowing which: now
it says that the withdrawal is recorded, staff can see it, and help for the requester goes
on - true whatever the core does next. A withdrawal after a referral to 120/110/119 keeps
its own text (no other neighbour is asked then)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from dispatcher.api import assignment_pages, offer_pages
from dispatcher.api.deps import ApiDeps
from dispatcher.api.offer_outcomes import use_for
from dispatcher.groupchat.bots import BotRegistry
from dispatcher.links import LinkClaims
from dispatcher.record.read import assignments as read_assignments
from dispatcher.record.read.assignments import Progress
from dispatcher.settings import Settings

NOW = datetime(2025, 1, 15, 23, 30, tzinfo=UTC)
RID, OFFER, HELPER, COMMUNITY = "r-1", "o-1", "h-pa", "c-1"
PROMISES = ("其他邻居", "马上联系")


class _Sink:
    async def send(self, topic: str, key: str, value: bytes) -> None:
        raise AssertionError("no command is sent here")


def _deps() -> ApiDeps:
    settings = Settings(public_base_url="https://help.example.cn/", link_secret=SecretStr("s" * 32))
    deps = ApiDeps(
        settings=settings, sink=_Sink(), bots=BotRegistry.from_list([]), clock=lambda: NOW
    )
    deps._pool = object()  # type: ignore[assignment]  # never queried: the reads are patched
    return deps


def _reads(monkeypatch: pytest.MonkeyPatch, progress: Progress, referred: str | None) -> None:
    async def read_progress(db: object, request_id: str, helper: str, offer: str) -> Progress:
        return progress

    async def status(db: object, request_id: str) -> dict[str, object]:
        return {"referred_to": referred}

    monkeypatch.setattr(read_assignments, "progress", read_progress)
    monkeypatch.setattr(assignment_pages.read_requests, "status", status)


def _progress(*, released: str | None, closed: bool = False) -> Progress:
    return Progress(
        remote=False,
        on_way_at=None,
        done_at=None,
        minutes_spent=None,
        released_why=released,
        request_closed=closed,
    )


async def test_the_page_after_cant_come_promises_no_neighbour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The withdrawal is recorded (the read model shows it released): the page the helper
    sees. The same whether the core asks others now, at the quiet hours' end or nobody."""
    _reads(monkeypatch, _progress(released="withdrew"), None)
    claims = LinkClaims(k="accept", h=HELPER, c=COMMUNITY, r=RID, o=OFFER, e=2_000_000_000)
    shown = await assignment_pages._outcome(_deps(), "cant-come", claims, "cmd-1")
    text = bytes(shown.body).decode()
    assert shown.status_code == 200 and "已记录：这次去不了" in text, text
    assert not [p for p in PROMISES if p in text], text
    assert "社区工作人员可以看到" in text and "继续为求助人想办法" in text, text


async def test_the_held_page_promises_no_neighbour_before_the_press(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The offer's 来不了 link after accepting: the held page explains 去不了了."""
    _reads(monkeypatch, _progress(released=None), None)
    use = use_for("decline", RID, OFFER, HELPER)
    shown = await offer_pages._held_page(
        None,  # type: ignore[arg-type]  # identified: the request is not read
        _deps(),
        use,
        COMMUNITY,
        identified=True,
        user=None,
    )
    assert shown is not None
    text = bytes(shown.body).decode()
    assert "如果去不了了，请点下面的“去不了了”" in text and "去不了了</button>" in text, text
    assert not [p for p in PROMISES if p in text], text
    assert "社区工作人员会看到，并继续为求助人想办法" in text, text


async def test_after_a_referral_both_pages_keep_their_own_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Referred to 120 keeping the helper: nobody else is asked, and the pages say so."""
    _reads(monkeypatch, _progress(released="withdrew", closed=True), "120")
    claims = LinkClaims(k="accept", h=HELPER, c=COMMUNITY, r=RID, o=OFFER, e=2_000_000_000)
    done = await assignment_pages._outcome(_deps(), "cant-come", claims, "cmd-1")
    assert "不再另找邻居" in bytes(done.body).decode()

    _reads(monkeypatch, _progress(released=None, closed=True), "120")
    held = await offer_pages._held_page(
        None,  # type: ignore[arg-type]
        _deps(),
        use_for("decline", RID, OFFER, HELPER),
        COMMUNITY,
        identified=True,
        user=None,
    )
    assert held is not None
    assert "社区工作人员会看到（求助已转交专业救援）" in bytes(held.body).decode()
