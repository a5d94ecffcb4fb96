"""`DISPATCH_SIGNUP_PENDING_DAYS`: how long a helper's sign-up may wait for staff before the
purge lapses it (dispatcher/record/edge/registrations.py `lapse`). 30 days unless set; at
least one day (0 or less would lapse every sign-up at the next hourly purge)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dispatcher.settings import Settings


def test_thirty_days_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPATCH_SIGNUP_PENDING_DAYS", raising=False)
    assert Settings().signup_pending_days == 30
    monkeypatch.setenv("DISPATCH_SIGNUP_PENDING_DAYS", "7")
    assert Settings().signup_pending_days == 7


@pytest.mark.parametrize("days", ["0", "-1", "1.5", "thirty"])
def test_less_than_a_day_or_not_a_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, days: str
) -> None:
    monkeypatch.setenv("DISPATCH_SIGNUP_PENDING_DAYS", days)
    with pytest.raises(ValidationError, match="signup_pending_days"):
        Settings()


def test_one_day_is_the_least() -> None:
    assert Settings(signup_pending_days=1).signup_pending_days == 1
