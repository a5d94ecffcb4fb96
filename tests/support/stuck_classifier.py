"""A rules classifier that never finishes in time, and what its refusal must say.

`stuck_classifier` (autouse where imported: set before the app and its settings are made)
sets the classifier's limit tiny and replaces the classifier with one that waits until the
test is over, so the limit is always what answers: nothing depends on how fast anything
runs. `assert_call_now`: the refusal carries the call-now reply said for the case the
unread message is an emergency (`classifying.IF_LIFE_AT_RISK`), nobody dispatched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dispatcher.api import classifying
from dispatcher.classify import Classification, classify

# Unread, the message may be this.
WORDS = "我爸没有呼吸了"
CALL_NOW = "如有人生命危险，请立即拨打120（急救）、110（报警）或119（火警）！"


@pytest.fixture(autouse=True)
def stuck_classifier(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DISPATCH_CLASSIFY_TIMEOUT_SECONDS", "0.05")
    released = threading.Event()

    def never_in_time(text: str) -> Classification:
        released.wait()  # until the test is over: the limit answers first
        return classify(text)

    monkeypatch.setattr(classifying, "classify", never_in_time)
    yield
    released.set()


def assert_call_now_reply(reply: str) -> None:
    assert reply.startswith(CALL_NOW), reply
    assert "邻居们正在赶来" not in reply  # nobody was dispatched


def assert_call_now(detail: dict[str, Any], reason: str = "classify_timeout") -> None:
    assert detail["reason"] == reason, detail
    assert_call_now_reply(str(detail["reply_text"]))
    assert detail["advise_emergency_call"] is True and detail["emergency_number"] is None
