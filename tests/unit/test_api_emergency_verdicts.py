"""The intake keeps the classifier's emergency verdict on every path (review findings):

1. the contact card's words ("家里着火了") give the number and advice a chat message would;
2. a report never merges into a request of another urgency, emergency or household (a
   critical "没有呼吸了" was folded into an earlier "血压有点高，明天?" and never dispatched);
3. a bot's structured request is life-threatening when the bot says so, or its text names a
   fire, a weapon or an unconscious person;
4. the answer's `emergency_number` is the number its reply text tells them to call.

Through the real app; PostgreSQL's intake statement is a fake applying migration 0370's
merge rule (same merge key: merged), Kafka a list (the real ones:
tests/integration/test_merge_refusals.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.command_queue import merge_key
from dispatcher.api.deps import ApiDeps
from dispatcher.api.models import ChatMessageIn
from dispatcher.api.replies import emergency_for, reply_text
from dispatcher.classify import classify
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace
from dispatcher.record.edge import households as household_edge
from dispatcher.sealing import keyring, seal_spec
from dispatcher.settings import Settings
from schemas.commands import Command, SubmitRequest
from schemas.households import Household
from schemas.places import PlacePath
from schemas.requests import RequestSpec
from schemas.vocab import Category, Urgency
from tests.support import builders
from tests.support.bot import BOT_ID, BOT_SECRET, bound_payload, sign
from tests.support.in_process import api_client
from tests.unit.test_api_clock import RecordingSink

GROUP = {
    "community_id": "comm-a",
    "grid_id": "g1",
    "compound_id": "c1",
    "compound_name": "图强小区",
}


class Sink(RecordingSink):
    def specs(self) -> list[RequestSpec]:
        bodies = [Command.model_validate_json(v).body for v in self.sent]
        return [b.spec for b in bodies if isinstance(b, SubmitRequest)]


class Intake:
    """`api_intake_submit_checked` as migrations 0407/0409 decide a merge: an earlier intake
    row with the same merge key (all within the window and open here) takes the report;
    every request id here is new (never `taken`)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str | None, str, str]] = {}

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        if "api_intake_submit" in query:
            request_id, community_id, key, command = args[5], args[6], args[7], args[8]
            for earlier, (k, _, _) in self.rows.items():
                if key is not None and k == key and earlier != request_id:
                    # Merged: the report's `ReportRepeated` stored at its time (0407).
                    return {
                        "replayed": False,
                        "claimed": True,
                        "earlier": earlier,
                        "repeat_at": args[11],
                        "taken": False,
                    }
            self.rows[request_id] = (key, community_id, command)
            fresh = {"replayed": False, "claimed": True, "earlier": None, "repeat_at": None}
            return fresh | {"taken": False}
        if "FROM api_intake WHERE request_id" in query:
            key, community_id, command = self.rows[args[0]]
            return {"community_id": community_id, "command": command}
        if "FROM requests WHERE request_id" in query:
            return None  # the read model: no worker here records a request
        raise AssertionError(f"unexpected statement: {query}")

    async def fetchval(self, query: str, *args: Any) -> Any:
        assert "api_webhook_ids" in query, query  # /v1/messages claims its webhook-id first
        return True

    async def execute(self, query: str, *args: Any) -> str:
        return "UPDATE 0"

    async def executemany(self, query: str, args: Any) -> None: ...

    async def acquire(self) -> Intake:
        return self

    async def release(self, connection: Intake) -> None: ...

    def is_closed(self) -> bool:
        return False


class Api:
    def __init__(self, client: httpx.AsyncClient, sink: Sink, intake: Intake) -> None:
        self.client, self.sink, self.intake = client, sink, intake
        self._n = 0

    async def bot(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        self._n += 1
        body = json.dumps(payload, ensure_ascii=False).encode()
        signed = sign(bound_payload("POST", path, body), msg_id=f"msg_{self._n}")
        headers = {"content-type": "application/json", "x-bot-id": BOT_ID, **signed}
        return await self.client.post(path, content=body, headers=headers)

    async def chat(self, text: str, group: str = "grid-1") -> dict[str, Any]:
        self._n += 1
        sender = {"id": f"u{self._n}", "name": "王女士"}
        payload = {"group_id": group, "message_id": f"m{self._n}", "sender": sender, "text": text}
        answer = await self.bot("/v1/messages", payload)
        assert answer.status_code == 202, answer.text
        return dict(answer.json())

    async def structured(self, **fields: Any) -> dict[str, Any]:
        payload = builders.request("comm-a", **fields)
        answer = await self.bot("/v1/requests", payload)
        assert answer.status_code == 202, answer.text
        return dict(answer.json())


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    settings = Settings()
    bot = BotConfig(
        bot_id=BOT_ID,
        secrets=(SecretStr(BOT_SECRET),),
        communities=frozenset({"comm-a"}),
        groups={"grid-1": GroupPlace(**GROUP), "grid-2": GroupPlace(**GROUP)},
        rate_per_minute=1e6,
        burst=1e6,
        group_rate_per_minute=1e6,
        group_burst=1e6,
    )
    sink, intake = Sink(), Intake()
    deps = ApiDeps(settings=settings, sink=sink, bots=BotRegistry.from_list([bot]))
    deps._pool = intake
    async with api_client(create_app(settings, deps)) as client:
        yield Api(client, sink, intake)


def called(reply: str) -> str | None:
    """The first number the reply text tells the requester to call."""
    found = re.search(r"拨打(1[12][0-9])", reply)
    return found.group(1) if found else None


def assert_calls(answer: dict[str, Any], number: str) -> None:
    assert answer["advise_emergency_call"] is True, answer
    assert answer["emergency_number"] == number, answer
    assert called(answer["reply_text"]) == number, answer["reply_text"]


# ------------------------------------------------------------------ 1. the contact card


def household(household_id: str) -> household_edge.CardHousehold:
    place = PlacePath(
        community_id="comm-a", compound_id="c1", building_id="b3", household_id=household_id
    )
    found = Household(household_id=household_id, place=place, name="王阿姨", phone="13800138000")
    return household_edge.CardHousehold(household=found, paired_helper_ids=())


@pytest.fixture
def cards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Card token → its household: the token's first part names it ("hhA-…")."""

    async def by_card(pool: Any, token: str) -> household_edge.CardHousehold:
        return household(token.split("-")[0])

    monkeypatch.setattr(household_edge, "by_card", by_card)


async def press(api: Api, token: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await api.client.post(f"/card/{token}", json=body)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


@pytest.mark.parametrize(
    ("body", "number"),
    [
        ({"text": "家里着火了"}, "119"),
        ({"text": "有人持刀闯进家里"}, "110"),
        ({"category": "errand", "text": "帮我买药，我妈晕倒了叫不醒"}, "120"),
    ],
)
async def test_the_cards_words_give_the_emergency_number_and_advice(
    api: Api, cards: None, body: dict[str, Any], number: str
) -> None:
    answer = await press(api, "hhA-token-0123456789", body)
    assert_calls(answer, number)
    [spec] = api.sink.specs()
    assert spec.is_life_threatening() and spec.urgency is Urgency.CRITICAL
    assert spec.emergency() == number  # the spec the worker gets names it too
    assert spec.category == body.get("category", spec.category)  # the button still counts


# ------------------------------------------------------------------ 2. merging


NORMAL = "3号楼我家老人血压有点高，哪位医生邻居明天方便帮忙看看？"
CRITICAL = "3号楼2单元501，我爸突然晕倒了，叫不醒，没有呼吸了！"


async def test_a_critical_report_is_not_merged_into_an_earlier_normal_one(api: Api) -> None:
    first = await api.chat(NORMAL, "grid-1")
    second = await api.chat(CRITICAL, "grid-2")
    assert second["merged"] is False and second["request_id"] != first["request_id"]
    assert "同一求助" not in second["reply_text"]
    assert_calls(second, "120")
    dispatched = {s.request_id: s for s in api.sink.specs()}
    assert set(dispatched) == {first["request_id"], second["request_id"]}
    assert dispatched[second["request_id"]].is_life_threatening()
    # The same incident again, as urgent as the first report: still one request.
    again = await api.chat(NORMAL, "grid-2")
    assert again["merged"] is True and again["request_id"] == first["request_id"]


async def test_a_normal_report_is_not_merged_into_an_earlier_critical_one(api: Api) -> None:
    first = await api.chat(CRITICAL, "grid-1")
    second = await api.chat(NORMAL, "grid-2")
    assert second["merged"] is False and second["request_id"] != first["request_id"]


async def test_two_emergencies_of_one_building_calling_different_numbers_stay_two(
    api: Api,
) -> None:
    fire = await api.structured(category="other", text="家里着火了，快来人", skills=[])
    knife = await api.structured(category="other", text="有人持刀闯进家里，快来人", skills=[])
    assert knife["merged"] is False and knife["request_id"] != fire["request_id"]
    assert_calls(fire, "119")
    assert_calls(knife, "110")


async def test_two_households_cards_in_one_building_are_two_requests(api: Api, cards: None) -> None:
    a = await press(api, "hhA-token-0123456789", {"category": "medical"})
    assert a["advise_emergency_call"] is False and "拨打" not in a["reply_text"]  # a button
    b = await press(api, "hhB-token-0123456789", {"category": "medical"})
    assert b["merged"] is False and b["request_id"] != a["request_id"]
    again = await press(api, "hhA-token-0123456789", {"category": "medical"})
    assert again["merged"] is True and again["request_id"] == a["request_id"]


async def test_two_households_structured_requests_are_two_requests(api: Api) -> None:
    def where(household_id: str) -> dict[str, Any]:
        return builders.place("comm-a", household_id=household_id)

    a = await api.structured(place=where("h-wang"))
    b = await api.structured(place=where("h-li"))
    assert b["merged"] is False and b["request_id"] != a["request_id"]
    again = await api.structured(place=where("h-wang"))
    assert again["merged"] is True and again["request_id"] == a["request_id"]


def chat_spec(text: str, request_id: str) -> RequestSpec:
    m = ChatMessageIn.model_validate(
        {"group_id": "grid-1", "message_id": request_id, "sender": {"id": "u1"}, "text": text}
    )
    return spec_for_message(
        m, classify(text), GroupPlace(**GROUP), request_id=request_id, bot_id="b"
    )


def test_the_merge_key_names_urgency_emergency_and_household_never_in_the_clear() -> None:
    normal, critical = chat_spec(NORMAL, "r1"), chat_spec(CRITICAL, "r2")
    assert normal.category == critical.category == Category.MEDICAL
    assert merge_key(normal) != merge_key(critical)
    # Same urgency, one life-threatening (the classifier's verdict), one not.
    plain = critical.model_copy(update={"life_threatening": False})
    assert merge_key(plain) != merge_key(critical)
    place = critical.place.model_copy(update={"household_id": "hh-wang-501"})
    sealed = seal_spec(keyring(Settings()), critical.model_copy(update={"place": place}))
    key = merge_key(sealed)
    assert key is not None and key != merge_key(critical) and "hh-wang-501" not in key


# ------------------------------------------------------------------ 3. structured requests


@pytest.mark.parametrize(
    ("category", "urgency", "text", "number"),
    [
        ("other", "critical", "3号楼家里着火了，有人被困", "119"),
        ("repair", "critical", "煤气泄漏，有人晕倒在厨房", "119"),
        ("lost_person", "critical", "有人持刀闯进家里", "110"),
        ("other", "normal", "家里着火了", "119"),  # the words raise it, as in a chat
    ],
)
async def test_a_structured_requests_words_name_the_emergency(
    api: Api, category: str, urgency: str, text: str, number: str
) -> None:
    answer = await api.structured(category=category, urgency=urgency, text=text, skills=[])
    assert_calls(answer, number)
    [spec] = api.sink.specs()
    assert spec.is_life_threatening() and spec.urgency is Urgency.CRITICAL
    assert spec.emergency() == number and spec.category == category


async def test_a_bot_can_say_a_request_is_life_threatening(api: Api) -> None:
    text = "3号楼邻居家老人情况很不好，需要人来"
    assert not classify(text).advise_emergency_call  # nothing in the words alone
    body = {"category": "other", "urgency": "urgent", "text": text, "skills": []}
    unsaid = await api.structured(**body)  # without the field: as before
    assert unsaid["advise_emergency_call"] is False and unsaid["emergency_number"] is None
    said = await api.structured(**body, life_threatening=True)
    assert_calls(said, "120")
    # Said life-threatening, it is critical: the reply promises neighbours are coming.
    assert [(s.life_threatening, s.urgency) for s in api.sink.specs()] == [
        (None, Urgency.URGENT),
        (True, Urgency.CRITICAL),
    ]


async def test_the_openapi_schema_documents_life_threatening(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    field = doc["components"]["schemas"]["HelpRequestIn"]["properties"]["life_threatening"]
    assert "emergency number" in field["description"]


# ------------------------------------------------------------------ 4. one number


@pytest.mark.parametrize(("text", "number"), [("有人持刀闯进家里", "110"), ("家里着火了", "119")])
def test_a_specs_own_number_is_the_one_its_reply_names(text: str, number: str) -> None:
    spec = chat_spec(text, "r4").model_copy(update={"emergency_number": number})
    assert emergency_for(spec) == number
    assert called(reply_text(spec)) == number  # without the classifier's advice too


@pytest.mark.parametrize(("text", "number"), [("有人持刀闯进家里", "110"), ("家里着火了", "119")])
async def test_a_chat_messages_number_field_is_the_one_its_reply_names(
    api: Api, text: str, number: str
) -> None:
    assert_calls(await api.chat(text), number)
