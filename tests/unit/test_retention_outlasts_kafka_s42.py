"""Outside dev mode the settings refuse a DISPATCH_RETENTION_DAYS whose erase would come
before Kafka's last copy of a request's sealed contact is gone (session 42's audit, F7).

A personal topic's record lives up to retention.ms + segment.ms (≤ 24 h: 192 h by
default); a closed request's table record 24 h, then max.compaction.lag.ms. README's
retention table relies on `168 h + 24 h < DISPATCH_RETENTION_DAYS`; until session 42 the
setting was only `ge=1`, so 1..8 days were accepted and the contact outlived the erase.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dispatcher.settings import Settings


@pytest.mark.parametrize("days", [1, 7, 8])
def test_a_retention_not_above_kafkas_is_refused_naming_both_settings(days: int) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(mode="production", retention_days=days)
    message = str(refused.value)
    assert f"DISPATCH_RETENTION_DAYS={days} ({days * 24} h)" in message
    assert "DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS=168 + 24 h (192 h" in message


def test_the_bound_follows_the_topics_retention() -> None:
    assert Settings(mode="production", retention_days=9).retention_days == 9  # 216 h > 192 h
    assert Settings(mode="production", retention_days=2, personal_topic_retention_hours=23)
    with pytest.raises(ValidationError, match="DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS=48"):
        Settings(mode="production", retention_days=3, personal_topic_retention_hours=48)
    with pytest.raises(ValidationError, match="DISPATCH_RETENTION_DAYS=30"):
        Settings(mode="production", personal_topic_retention_hours=30 * 24)


def test_the_defaults_pass_and_dev_mode_may_go_lower() -> None:
    assert Settings(mode="production").retention_days == 30
    assert Settings(mode="dev", retention_days=1).retention_days == 1
