"""The suite's "no phone in any log" check (tests/conftest.py) reads generated ids as ids.

CI on 2026-12-07 failed at teardown on the secured broker's log: aiokafka's member id
"aiokafka-0.14.0-090216f9-9041-42fa-ac3b-b19905300843" holds "19905300843", eleven digits
starting 19, and the check called it a phone. A uuid (or a uuid4().hex) is random, so that
happens by chance; a phone beside an id, or anywhere else, still counts."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.conftest import phones_in_logs

KAFKA_LINE = (
    "[2026-12-07 17:42:32,552] INFO [GroupCoordinator id=1 topic=__consumer_offsets "
    "partition=0] Pending dynamic member with id "
    "aiokafka-0.14.0-090216f9-9041-42fa-ac3b-b19905300843 joins group dispatch-te4c11180a8"
)


def _hits(*lines: str) -> list[str]:
    # Not under pytest's basetemp: the session's own check reads every *.log there.
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "server.log").write_text("\n".join(lines) + "\n")
        return phones_in_logs(Path(root))


def test_a_uuid_holding_eleven_digits_is_not_a_phone() -> None:
    hex_id = "ab" + "13912345678" + "0" * 19  # a uuid4().hex with the same chance
    assert _hits(KAFKA_LINE, f"message m-{hex_id} received") == []


def test_phones_are_still_found_beside_ids_and_in_other_digits() -> None:
    hits = _hits(
        "contact 13912345678 for 090216f9-9041-42fa-ac3b-b19905300843",
        "id=090216f9-9041-42fa-ac3b-b19905300843,phone=13912345678",
        "电话１３９１２３４５６７８",  # full-width
        "ref 13912345678abc",  # not an id: no 32 hex digits
    )
    assert len(hits) == 4, hits
