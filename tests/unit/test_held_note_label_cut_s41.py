"""Session 41 review: the held note on the personal page printed the stored building label
raw, so a label stored before the cut (337e6d8/8d53ec5) showed its floor ("综合楼五楼").
It now shows the label as every offer does (`place_label(None, label)`); the read model's
side in tests/integration/test_held_note_bounded_s41.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatcher.api.helper_pages import held_note
from dispatcher.core.community import DEFAULT_ZONE
from dispatcher.record.read.assignments import PresenceHeld

NOW = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
UNTIL = datetime(2031, 5, 4, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "shown", "never"),
    [
        ("综合楼五楼", "综合楼", "五楼"),
        ("图强小区 综合楼 五楼", "图强小区 综合楼", "五楼"),
        ("c1 综合楼", "综合楼", "c1"),  # an id where a name was missing, stored before
        ("图强小区 3号楼", "图强小区 3号楼", None),  # as stored today: unchanged
    ],
)
def test_the_note_shows_the_building_as_offers_show_it(
    stored: str, shown: str, never: str | None
) -> None:
    said = held_note([PresenceHeld(stored, UNTIL, critical=False)], NOW, DEFAULT_ZONE)
    assert f"您正在帮助一位邻居（{shown}）。" in said, said
    if never is not None:
        assert never not in said
