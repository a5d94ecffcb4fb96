"""Session 39: a phone in another digit form reached log lines and dead-letter reasons.

The log masker (`redact.mask_phones`, applied to every formatted line by `logs.Redacting`),
the reasons' `describe` and the clear-text `masked` read only plain and full-width digits,
while `fold_digits` (circled, keycap, bold, other scripts' digits to plain ones) served the
language model's mask alone: "①③⑧0013８000", "𝟏𝟑𝟖…", "1️⃣3️⃣8️⃣…", "١٣٨…" went into logs
and letters as typed; JSON log lines were masked after JSON had escaped a phone's newlines
("139\\n1234\\n5678": no longer a gap), and `masked` left runs of financial numerals
("陆柒捌") in the clear. Now all of them fold first; `mask_phones` still writes every
character that is not a phone as it was. And a phone with invisible characters between
its groups ("138\u200b0013\u200b8000", shown as 13800138000) was masked nowhere, the
model's mask included: they now count as whitespace in a gap (`redact.DIGIT_GAP`)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from dispatcher.logs import configure_logging
from dispatcher.push.channels.base import short as platform_error
from dispatcher.redact import describe, fold_digits, mask_phones, masked
from dispatcher.settings import Settings
from schemas.dead_letter import DeadLetter
from streams.dead_letter import DeadLetterSink, short
from streams.runtime import Stats
from tests.unit.test_worker_notify import FakeClock, Record, Topic

# 138 0013 8000, written as people (and their keyboards) write it.
FORMS = [
    "１３８００１３８０００",  # full-width
    "①③⑧0013８000",  # circled, plain and full-width mixed
    "𝟏𝟑𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎",  # mathematical bold
    "1️⃣3️⃣8️⃣0️⃣0️⃣1️⃣3️⃣8️⃣0️⃣0️⃣0️⃣",  # keycaps
    "1\u20e33\u20e38\u20e30\u20e30\u20e31\u20e33\u20e38\u20e30\u20e30\u20e30\u20e3",  # no FE0F
    "❶❸❽⓿⓿❶❸❽⓿⓿⓿",  # negative circled
    "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic
    "१३८००१३८०००",  # Devanagari
    "⑴⑶⑻ 0013 8000",  # parenthesised, with gaps
    "壹叁捌零零壹叁捌零零零",  # financial numerals
    "138\u200b0013\u200b8000",  # zero-width spaces: shows as 13800138000
    "138\u00ad0013\u2060-\u20608000",  # soft hyphen, word joiners
]
# What a reader could copy back out: three digits of any form, or of any Chinese numeral.
REVEALING = re.compile("[0-9]{3,}|[一二三四五六七八九零〇幺两壹贰叁肆伍陆柒捌玖]{3,}")


def revealed(text: str) -> list[str]:
    return REVEALING.findall(fold_digits(text))


@pytest.fixture
def log_lines(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The root logger as the API and worker configure it (`configure_logging`), into a
    buffer; JSON lines when the test is parametrised with json=True."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    loggers = logging.Logger.manager.loggerDict  # configure_logging quietens some of them
    levels = {name: lg.level for name, lg in loggers.items() if isinstance(lg, logging.Logger)}
    configure_logging(Settings(log_json=request.param), "worker-s39")
    buffer = io.StringIO()
    root.handlers[0].stream = buffer  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, lg in list(loggers.items()):  # as they were, for the tests after this one
        if isinstance(lg, logging.Logger):
            lg.setLevel(levels.get(name, logging.NOTSET))


def written(output: str, json_lines: bool) -> list[str]:
    """The lines of `output` that hold what the test logged (a JSON line's message and
    traceback, split into lines): never a timestamp, a pid or a traceback's line number."""
    texts = [output]
    if json_lines:
        texts = [f"{d['msg']}\n{d.get('exc', '')}" for d in map(json.loads, output.splitlines())]
    return [x for t in texts for x in t.splitlines() if "refused wecom" in x or "bad contact " in x]


@pytest.mark.parametrize("log_lines", [False, True], indirect=True, ids=["text", "json"])
def test_a_logged_phone_in_any_digit_form_is_masked(log_lines: io.StringIO) -> None:
    log = logging.getLogger("dispatcher.s39")
    for phone in FORMS:
        log.warning("platform refused %s: %s", "wecom", f"call {phone} now")
        error = f"bad contact {phone}"  # not on the line the traceback quotes
        try:
            raise ValueError(error)
        except ValueError:
            log.exception("push failed")
    output = log_lines.getvalue()
    lines = written(output, json_lines=output.startswith("{"))
    ends = [": call [phone] now", "ValueError: bad contact [phone]"] * len(FORMS)
    assert len(lines) == len(ends), output
    assert all(x.endswith(end) for x, end in zip(lines, ends, strict=True)), output


@pytest.mark.parametrize("log_lines", [True], indirect=True, ids=["json"])
def test_a_json_line_is_masked_before_json_escapes_the_gaps(log_lines: io.StringIO) -> None:
    logging.getLogger("dispatcher.s39").error("contact %s", "139\n1234\n5678\t/\t138\t0013\t8000")
    [line] = log_lines.getvalue().splitlines()
    assert json.loads(line)["msg"] == "contact [phone]\t/\t[phone]", line


def test_a_log_line_keeps_every_character_that_is_no_phone() -> None:
    text = "①号楼 m² 1️⃣ ⑩ 电话１２３，在１楼 ㈠ at 13:45:12 pid=13579"
    assert mask_phones(text) == text
    assert mask_phones(f"x{FORMS[3]}y ①号楼") == "x[phone]y ①号楼"  # the marks go too
    assert mask_phones("tel 1380013800㈠ ok") == "tel [phone] ok"  # "㈠" is "(一)": all of it


@pytest.mark.parametrize("phone", FORMS)
def test_a_reason_from_an_exception_holding_the_phone_is_masked(phone: str) -> None:
    reason = describe(RuntimeError(f"record failed: contact {phone}\nretry"))
    assert reason == "RuntimeError: record failed: contact [phone] retry"
    assert "[phone]" in platform_error(f"errmsg: invalid user {phone}")
    assert not revealed(platform_error(f"errmsg: invalid user {phone}"))


async def test_a_dead_letter_and_its_log_line_hold_no_phone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker's sink as the agents use it: the reason is `short(exc)`."""
    topic = Topic()
    sink = DeadLetterSink(topic, Stats(), FakeClock())
    with caplog.at_level(logging.WARNING, "streams.dead_letter"):
        for phone in FORMS:
            reason = f"event e-1 (submit_request): {short(ValueError(f'bad phone {phone}'))}"
            await sink.send(Record(), reason, "process")
    letters = [DeadLetter.model_validate_json(value) for _, value in topic.sent]
    assert [letter.reason for letter in letters] == [
        "event e-1 (submit_request): ValueError: bad phone [phone]"
    ] * len(FORMS)
    logged = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(logged) == len(FORMS), logged
    assert all(line.endswith(": ValueError: bad phone [phone]") for line in logged), logged


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("转交陆柒捌号窗口", "转交###号窗口"),
        ("街道王主任 伍零贰室", "街道王主任 ###室"),
        ("转交陆柒捌", "转交###"),  # no place word after it: a run of three numerals
        ("收拾房间，陆续来", "收拾房间，陆续来"),  # 拾 is no digit, two numerals no run
        ("①③⑧ 室", "### 室"),
    ],
)
def test_masked_text_hides_runs_of_financial_numerals(text: str, shown: str) -> None:
    assert masked(text) == shown


JUNK = [
    ("①③ - " * 20_000)[:100_000],
    "1️⃣" * 33_334,
    "１𝟑⑧ ٣壹-—." * 11_112,
    ("1" + "\u20e3" * 40) * 2_440,  # more marks than a keycap
    ("1" + " " * 8 + "-" * 3) * 8_334,  # a gap too long, at every digit
    ("3" + "\u200b" * 9) * 10_000,  # too many invisible characters
    "一二三四五六七八九幺" * 10_000,
    ("(" + "1 " * 10 + ")") * 4_546,
]


@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
def test_long_hostile_input_is_masked_to_the_end(junk: str) -> None:
    """No clock: these return (linear, bounded patterns), and what they return is right:
    none of the junk is a phone, the keycap phone after (or before) it is."""
    assert len(junk) >= 100_000
    phone = FORMS[3]
    assert mask_phones(f"{junk} tel {phone} end") == f"{junk} tel [phone] end"
    assert not revealed(masked(f"{junk} tel {phone} end"))
    assert describe(ValueError(f"tel {phone} {junk}")).startswith("ValueError: tel [phone] ")
