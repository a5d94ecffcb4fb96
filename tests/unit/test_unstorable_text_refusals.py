"""Text PostgreSQL or Kafka cannot hold (NUL U+0000, a lone surrogate) is refused where it
enters, with a 4xx and a reason, through the in-process API with fakes for Kafka and
PostgreSQL: a config document (anywhere, dict keys too), the join form, a ledger cell. And
the worker's config recorder dead-letters a record PostgreSQL refuses instead of crashing.

Review findings (fuzz, on a real API and worker): a staff token's
`PUT /v1/admin/config/communities/fz {"display_name": "\\u0000"}` answered 200 and the
worker's config recorder then crashed on it at every restart (a crash loop); a bot's
`"communities": ["\\ud800"]` was a 500; `POST /join/{token}` with `name=a%00b` a 500; a NUL
ledger cell a 503 "re-running the import is safe", or even a 200.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.invites import invite_token
from dispatcher.api.staff_accounts import token_hash
from dispatcher.roster.households import parse_households
from dispatcher.roster.ledger import RosterPlace, parse_roster
from dispatcher.settings import Settings
from schemas.config import ConfigKind, ConfigRecord
from schemas.dead_letter import DeadLetter
from schemas.text import unstorable_in
from streams import config_agent
from streams.config_agent import ConfigAgent
from streams.dead_letter import DeadLetterSink
from streams.runtime import Stats
from tests.support.in_process import api_client
from tests.unit.test_api_clock import RecordingSink

A_TOKEN = secrets.token_urlsafe(32)  # staff of cfg-a only
DISTRICT = "district-" + "x" * 40
T0 = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
NUL, LONE = "\x00", "\ud800"


class FakePool:
    """PostgreSQL for the routes: the staff audit's writes go nowhere, lookups find nothing;
    `refuse` makes every lookup fail with that error; `stored` keeps what would be written."""

    def __init__(self) -> None:
        self.refuse: BaseException | None = None
        self.stored: list[tuple[Any, ...]] = []

    async def execute(self, *args: Any, **kwargs: Any) -> None: ...

    async def executemany(self, *args: Any, **kwargs: Any) -> None: ...

    async def fetch(self, *args: Any) -> list[Any]:
        if self.refuse is not None:
            raise self.refuse
        return []

    async def fetchval(self, *args: Any) -> Any:
        self.stored.append(args)
        return "r-1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    staff = tmp_path / "staff.json"
    account = {"name": "staff-a", "token_sha256": token_hash(A_TOKEN), "communities": ["cfg-a"]}
    staff.write_text(json.dumps({"staff": [account]}))
    return Settings(staff_token=DISTRICT, staff_file=staff)


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


class Sink(RecordingSink):
    """Kafka for the routes; `refuse` makes every send fail with that error."""

    refuse: BaseException | None = None

    async def send(self, topic: str, key: str, value: bytes) -> None:
        if self.refuse is not None:
            raise self.refuse
        await super().send(topic, key, value)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
async def client(
    settings: Settings, pool: FakePool, sink: Sink
) -> AsyncIterator[httpx.AsyncClient]:
    deps = ApiDeps(settings=settings, sink=sink, _pool=pool)  # type: ignore[arg-type]
    async with api_client(create_app(settings, deps)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(r: httpx.Response, reason: str, says: str) -> None:
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["reason"] == reason, detail
    assert says in detail["message"], detail


# ------------------------------------------------------------------ config documents
def as_json(doc: Any) -> bytes:
    """JSON as an attacker sends it: a lone surrogate as its escape (no UTF-8 holds one)."""
    return json.dumps(doc).encode()


DOCUMENTS: list[tuple[Callable[[str], dict[str, Any]], str]] = [
    (lambda bad: {"display_name": bad}, "community/cfg-a: display_name"),
    (
        lambda bad: {"display_name": "A", "hotlines": [{"label": f"值{bad}班", "number": "110"}]},
        "community/cfg-a: hotlines.0.label",
    ),
    (
        lambda bad: {"display_name": "A", "grids": [{"grid_id": "g1", "name": f"一{bad}"}]},
        "community/cfg-a: grids.0.name",
    ),
    (
        lambda bad: {"display_name": "A", "bots": [{"bot_id": "a-bot", "groups": {bad: {}}}]},
        "bot/a-bot: a key in groups",
    ),
]


@pytest.mark.parametrize("bad", [NUL, LONE])
@pytest.mark.parametrize(("doc", "where"), DOCUMENTS)
async def test_a_communitys_staff_cannot_put_unstorable_text_in_its_document(
    client: httpx.AsyncClient, doc: Callable[[str], dict[str, Any]], where: str, bad: str
) -> None:
    r = await client.put(
        "/v1/admin/config/communities/cfg-a",
        content=as_json(doc(bad)),
        headers={**bearer(A_TOKEN), "content-type": "application/json"},
    )
    refused(r, "invalid", f"{where}: must not contain")


@pytest.mark.parametrize("bad", ["f\x00z", LONE])
async def test_a_bot_whose_communities_name_unstorable_text_is_refused(
    client: httpx.AsyncClient, bad: str
) -> None:
    r = await client.put(
        "/v1/admin/config/bots/x",
        content=as_json({"communities": [bad]}),
        headers={**bearer(DISTRICT), "content-type": "application/json"},
    )
    refused(r, "invalid", "bot/x: communities.0: must not contain")


async def test_an_endpoint_and_its_owner_are_checked_too(client: httpx.AsyncClient) -> None:
    doc = {"kind": "webhook", "url": "http://relay.example/in", "community_id": "c\x00"}
    r = await client.put("/v1/admin/config/endpoints/e1", json=doc, headers=bearer(DISTRICT))
    refused(r, "invalid", "community_id: must not contain the NUL character")


def test_no_config_record_holds_unstorable_text_nor_is_one_read_back() -> None:
    """The record itself refuses it (the CLI, the bootstrap, any writer), and a follower
    reading such a record from the topic ignores it rather than apply it."""
    good = {
        "change_id": "c1",
        "kind": "community",
        "id": "fz",
        "actor": "staff",
        "issued_at": T0.isoformat(),
        "state": {"community_id": "fz", "display_name": "福州"},
    }
    assert ConfigRecord.model_validate(good).kind is ConfigKind.COMMUNITY
    for state in ({"display_name": NUL}, {NUL: 1}, {"a": [{"b": LONE}]}):
        with pytest.raises(ValidationError, match="must not contain"):
            ConfigRecord.model_validate({**good, "state": state})
    with pytest.raises(ValidationError, match="must not contain"):
        ConfigRecord.model_validate({**good, "actor": "s\x00"})
    with pytest.raises(ValidationError, match="must not contain"):
        ConfigRecord.model_validate_json(json.dumps({**good, "state": {"x": "\u0000"}}))


def test_the_rule_walks_everything_and_names_where() -> None:
    assert unstorable_in({"a": [1, "ok", ("x", {"k": None})]}) is None
    assert unstorable_in("a\x00") == "must not contain the NUL character (U+0000)"
    assert unstorable_in({"a": [{"b": "\udfff"}]}) == (
        "a.0.b: must not contain a lone surrogate (U+DFFF)"
    )
    assert unstorable_in({"a": {"\x00": 1}}) == (
        "a key in a: must not contain the NUL character (U+0000)"
    )
    deep: Any = "\x00"
    for _ in range(5000):  # deeper than the interpreter's recursion limit
        deep = [deep]
    assert unstorable_in(deep) is not None


# ------------------------------------------------------------------ the join form
def join_path(settings: Settings, **claims: Any) -> str:
    token = invite_token(
        settings, community_id="cfg-a", expires_at=datetime.now(UTC) + timedelta(hours=1), **claims
    )
    return f"/join/{token}"


FORM = {"name": "张三", "phone": "13800000007", "building": "3号楼", "compound": "图强小区"}


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("name", "a\x00b", "姓名"),
        ("building", "3\x00号楼", "楼栋"),
        ("compound", "图\x00强", "小区"),
        ("skills", "\x00", "填写内容"),
        ("channel", "\x00", "填写内容"),
    ],
)
async def test_the_join_form_refuses_a_nul_and_stores_nothing(
    client: httpx.AsyncClient,
    settings: Settings,
    pool: FakePool,
    field: str,
    value: str,
    label: str,
) -> None:
    r = await client.post(join_path(settings), data={**FORM, field: value})
    assert r.status_code == 422, r.text
    assert f"{label}含有无法保存的字符" in r.text
    assert pool.stored == []
    # The control: the same form without it is a sign-up.
    r = await client.post(join_path(settings), data=FORM)
    assert r.status_code == 200, r.text
    assert len(pool.stored) == 1


async def test_a_multipart_join_form_with_a_nul_is_refused(
    client: httpx.AsyncClient, settings: Settings, pool: FakePool
) -> None:
    parts = [
        f'--XX\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in {**FORM, "name": "ab\x00c"}.items()
    ]
    body = ("".join(parts) + "--XX--\r\n").encode()
    r = await client.post(
        join_path(settings),
        content=body,
        headers={"content-type": "multipart/form-data; boundary=XX"},
    )
    assert r.status_code == 422, r.text
    assert "姓名含有无法保存的字符" in r.text
    assert pool.stored == []


# ------------------------------------------------------------------ ledger cells
ROSTER_HEADER = "姓名,电话,楼栋,小区,技能,平台账号"
ROSTER_ROW = ["李四", "13912345690", "3", "图强", "开车", "wx-li"]
HOUSEHOLD_HEADER = "小区,楼栋,单元,户号,户主,地址,标签"
HOUSEHOLD_ROW = ["图强", "3", "2", "502", "王奶奶", "图强小区3号楼", "独居"]


def ledger(header: str, row: list[str], column: int | None = None) -> bytes:
    cells = list(row)
    if column is not None:
        cells[column] = cells[column][:1] + NUL + cells[column][1:]
    return f"{header}\n{','.join(cells)}\n".encode()


@pytest.mark.parametrize("column", range(len(ROSTER_ROW)))
def test_a_helper_ledger_row_with_a_nul_cell_is_rejected_with_its_reason(column: int) -> None:
    parsed = parse_roster(ledger(ROSTER_HEADER, ROSTER_ROW, column), RosterPlace("cfg-a"))
    assert parsed.profiles == []
    (problem,) = parsed.problems
    header = ROSTER_HEADER.split(",")[column]
    assert f"{header}: 含有无法保存的字符" in problem.errors[0]
    assert "U+0000" in problem.errors[0]
    assert NUL not in json.dumps(problem.errors)  # nothing echoes the character back
    assert parse_roster(ledger(ROSTER_HEADER, ROSTER_ROW), RosterPlace("cfg-a")).profiles


@pytest.mark.parametrize("column", range(len(HOUSEHOLD_ROW)))
def test_a_household_ledger_row_with_a_nul_cell_is_rejected(column: int) -> None:
    parsed = parse_households(ledger(HOUSEHOLD_HEADER, HOUSEHOLD_ROW, column), RosterPlace("cfg-a"))
    assert parsed.households == []
    (problem,) = parsed.problems
    assert "含有无法保存的字符" in " ".join(problem.errors)
    good = parse_households(ledger(HOUSEHOLD_HEADER, HOUSEHOLD_ROW), RosterPlace("cfg-a"))
    assert good.households


@pytest.mark.parametrize(("column", "header"), [(0, "姓名"), (3, "小区"), (5, "平台账号")])
async def test_a_roster_import_with_a_nul_cell_is_a_4xx_listing_the_row(
    client: httpx.AsyncClient, column: int, header: str
) -> None:
    r = await client.post(
        "/v1/admin/communities/cfg-a/roster",
        content=ledger(ROSTER_HEADER, ROSTER_ROW, column),
        headers={**bearer(A_TOKEN), "content-type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    report = r.json()
    assert report["committed"] is False and report["imported"] == 0
    (row,) = report["rejected"]
    assert row["row"] == 2 and row["errors"][0].startswith(f"{header}: 含有无法保存的字符")


async def test_a_household_import_with_a_nul_cell_is_a_4xx_listing_the_row(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/v1/admin/communities/cfg-a/households",
        content=ledger(HOUSEHOLD_HEADER, HOUSEHOLD_ROW, 4),
        headers={**bearer(A_TOKEN), "content-type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    (row,) = r.json()["rejected"]
    assert row["errors"][0].startswith("户主: 含有无法保存的字符")


LEDGERS = {
    "roster": ledger(ROSTER_HEADER, ROSTER_ROW),
    "households": ledger(HOUSEHOLD_HEADER, HOUSEHOLD_ROW),
}
STAFF_CSV = {**bearer(A_TOKEN), "content-type": "text/csv"}


@pytest.mark.parametrize("route", LEDGERS)
async def test_an_import_says_retry_only_when_postgresql_is_out_of_reach(
    client: httpx.AsyncClient, pool: FakePool, route: str
) -> None:
    """A value PostgreSQL refuses is the file's (422), not "re-running is safe" (503)."""
    url = f"/v1/admin/communities/cfg-a/{route}"
    pool.refuse = asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape")
    r = await client.post(url, content=LEDGERS[route], headers=STAFF_CSV)
    refused(r, "invalid_ledger", "UntranslatableCharacterError")
    pool.refuse = ConnectionRefusedError(111, "refused")
    r = await client.post(url, content=LEDGERS[route], headers=STAFF_CSV)
    assert r.status_code == 503, r.text
    assert r.json()["detail"]["reason"] == "queue_unavailable"


async def test_an_import_kafka_refuses_is_still_a_503(
    client: httpx.AsyncClient, sink: Sink
) -> None:
    sink.refuse = KafkaConnectionError()
    r = await client.post(
        "/v1/admin/communities/cfg-a/roster?retire=false",
        content=LEDGERS["roster"],
        headers=STAFF_CSV,
    )
    assert r.status_code == 503, r.text
    assert r.json()["detail"]["reason"] == "queue_unavailable"
    sink.refuse = None  # the control: the same import, Kafka back
    r = await client.post(
        "/v1/admin/communities/cfg-a/roster?retire=false",
        content=LEDGERS["roster"],
        headers=STAFF_CSV,
    )
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text


# ------------------------------------------------------------------ the config recorder
class Letters:
    """The dead-letter topic."""

    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def send(self, key: Any, value: bytes) -> asyncio.Future[None]:
        """As Faust's: the letter's future (acknowledged at once)."""
        self.sent.append(DeadLetter.model_validate_json(value))
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


class Clock:
    def now(self) -> datetime:
        return T0


def message(value: bytes, offset: int = 7) -> Any:
    return SimpleNamespace(
        topic="cfg", partition=0, offset=offset, key=b"community/fz", value=value
    )


def record_bytes(**state: Any) -> bytes:
    record = ConfigRecord(
        change_id="c1",
        kind=ConfigKind.COMMUNITY,
        id="fz",
        actor="staff",
        issued_at=T0,
        communities=("fz",),
        state={"community_id": "fz", "display_name": "福州", **state},
    )
    return record.model_dump_json().encode()


@pytest.fixture
def agent(settings: Settings) -> tuple[ConfigAgent, Letters]:
    letters = Letters()
    agent = ConfigAgent(settings, Clock())
    agent.sink = DeadLetterSink(letters, Stats(), Clock())
    agent.pool = object()  # type: ignore[assignment]  # record_change is replaced below
    return agent, letters


def failing(monkeypatch: pytest.MonkeyPatch, *errors: BaseException) -> list[str]:
    """record_change raising `errors` in turn, then storing: the change ids stored."""
    stored: list[str] = []
    pending = list(errors)

    async def record_change(pool: Any, **change: Any) -> bool:
        if pending:
            raise pending.pop(0)
        stored.append(change["change_id"])
        return True

    monkeypatch.setattr(config_agent, "record_change", record_change)
    return stored


async def test_a_record_postgresql_refuses_is_dead_lettered_and_recording_goes_on(
    agent: tuple[ConfigAgent, Letters], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, letters = agent
    refusal = asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape")
    stored = failing(monkeypatch, refusal)
    value = record_bytes()
    await recorder.record_one(message(value))  # returns: its offset can be committed
    (letter,) = letters.sent
    assert (letter.stage, letter.offset, letter.source_topic) == ("record", 7, "cfg")
    assert "config change c1 refused: UntranslatableCharacterError" in letter.reason
    assert base64.b64decode(letter.payload_b64) == value
    assert stored == []
    await recorder.record_one(message(value, offset=8))  # the next one is recorded
    assert stored == ["c1"] and len(letters.sent) == 1


async def test_postgresql_out_of_reach_is_waited_out_not_dead_lettered(
    agent: tuple[ConfigAgent, Letters], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, letters = agent
    stored = failing(
        monkeypatch,
        ConnectionRefusedError(111, "refused"),
        asyncpg.exceptions.CannotConnectNowError("starting up"),
    )
    await recorder.record_one(message(record_bytes()))
    assert stored == ["c1"] and letters.sent == []


async def test_a_record_that_is_no_config_record_is_dead_lettered(
    agent: tuple[ConfigAgent, Letters], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, letters = agent
    stored = failing(monkeypatch)
    poisoned = record_bytes().replace("福州".encode(), b"\\u0000")  # as an old API wrote it
    await recorder.record_one(message(poisoned))
    (letter,) = letters.sent
    assert letter.stage == "decode" and letter.reason.startswith("not a config record")
    assert stored == []


@pytest.mark.parametrize("aware", ["22:00+08:00", "07:00Z"])
async def test_a_communitys_quiet_hours_with_an_offset_are_refused(
    client: httpx.AsyncClient, aware: str
) -> None:
    """A quiet-hours time with a UTC offset made the core's `quiet_until` raise for every
    non-urgent request of the community (a naive and an aware time compared)."""
    doc = {"display_name": "A", "quiet_hours": {"start": aware, "end": "07:00"}}
    r = await client.put("/v1/admin/config/communities/cfg-a", json=doc, headers=bearer(A_TOKEN))
    refused(r, "invalid", "community/cfg-a: invalid quiet_hours.start")
