"""The attack: a padding oracle on Feishu's callback. Feishu's URL check may come unsigned,
so an unsigned `{"encrypt": …}` body is decrypted before its sender is known; anyone can
send one. If the answers told bad padding from bad UTF-8, bad JSON or a wrong token, the
classic CBC attack (vary the block before, watch the answer) would decrypt a captured
event byte by byte. Every such body gets one answer, and its own rate limit is taken
before anything is decrypted. The ciphertexts are built with pycryptodome (not the
project's crypto); Feishu's SDK (`lark-oapi`) answers the unsigned URL check as we do.
No I/O: the refusals come before the intake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from Crypto.Cipher import AES
from lark_oapi.core.model import RawRequest
from lark_oapi.event.dispatcher_handler import EventDispatcherHandler
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.platforms import ADAPTERS, crypto
from dispatcher.api.platforms.base import CallbackRequest, Refused
from dispatcher.api.platforms.routes import UNVERIFIED_BURST
from dispatcher.api.ratelimit import RateLimiter
from dispatcher.groupchat.bots import BotConfig, BotRegistry, PlatformConfig
from dispatcher.settings import Settings
from tests.support import platform_callbacks as pc

KEY, TOKEN = pc.FEISHU_ENCRYPT_KEY, pc.FEISHU_TOKEN
FEISHU = PlatformConfig(
    kind="feishu", verification_token=SecretStr(TOKEN), encrypt_key=SecretStr(KEY)
)
BOT = "feishu-oracle"
PATH = f"/v1/platforms/feishu/{BOT}"


def encrypted(plain: bytes, iv: bytes | None = None) -> bytes:
    """AES-256-CBC under the app's key, PKCS#7: what only Feishu (or the key) can make."""
    iv = iv or os.urandom(16)
    pad = 16 - len(plain) % 16
    cipher = AES.new(hashlib.sha256(KEY.encode()).digest(), AES.MODE_CBC, iv)
    return iv + cipher.encrypt(plain + bytes([pad]) * pad)


def body(ciphertext: bytes) -> bytes:
    return json.dumps({"encrypt": base64.b64encode(ciphertext).decode()}).encode()


def manipulations() -> dict[str, bytes]:
    """One ciphertext per way decryption used to fail with its own answer."""
    captured = encrypted(json.dumps(pc.feishu_event("3号楼有老人摔倒了", "om_1")).encode())
    flipped = bytearray(captured)
    flipped[15] ^= 0x01  # the IV's last byte: the first block's plaintext changes
    truncated = captured[:48]  # the tail of the event cut off at a block boundary
    return {
        "bad padding": os.urandom(48),
        "not UTF-8": encrypted(b"\xff\xfe\xfd"),
        "not JSON": encrypted(b"plain words"),
        "not an object": encrypted(b"[1, 2]"),
        "wrong token": encrypted(
            json.dumps({"type": "url_verification", "token": "guess", "challenge": "c"}).encode()
        ),
        "no token": encrypted(b'{"x": 1}'),
        "flipped IV": bytes(flipped),
        "truncated": truncated,
        "short": os.urandom(16),
        "not whole blocks": os.urandom(40),
    }


def answer(raw: bytes) -> tuple[int, str, str]:
    with pytest.raises(Refused) as caught:
        ADAPTERS["feishu"].parse(FEISHU, CallbackRequest("POST", {}, {}, raw), 0.0)
    return caught.value.status, caught.value.reason, caught.value.message


def test_every_manipulated_ciphertext_gets_the_same_answer() -> None:
    answers = {name: answer(body(ct)) for name, ct in manipulations().items()}
    assert len(set(answers.values())) == 1, answers
    status, reason, message = next(iter(answers.values()))
    assert (status, reason) == (400, "undecryptable")
    assert not any(word in message for word in ("padding", "UTF", "JSON", "token"))


def test_guessing_the_ivs_last_byte_learns_nothing() -> None:
    """The attack's inner loop: 256 guesses at the byte before a target block. Exactly
    the guess that makes valid padding used to answer differently."""
    target = encrypted(b"secret text of a captured event")[16:32]
    iv = bytearray(os.urandom(16))
    seen = set()
    for guess in range(256):
        iv[15] = guess
        seen.add(answer(body(bytes(iv) + target)))
    assert len(seen) == 1, seen


# ---------------------------------------------------------------- through the route


class Sink:
    async def send(self, topic: str, key: str, value: bytes) -> None:
        raise AssertionError("an unsigned body must never reach the intake")


@pytest.fixture
def app() -> Any:
    settings = Settings()
    bot = BotConfig(bot_id=BOT, platform=FEISHU, rate_per_minute=1e6, burst=1e6)
    deps = ApiDeps(settings=settings, sink=Sink(), bots=BotRegistry.from_list([bot]))
    deps.limiter = RateLimiter(clock=lambda: 1000.0)  # no token comes back mid-test
    return create_app(settings, deps)


@pytest.fixture
def decryptions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    real = crypto.feishu_decrypt

    def counted(encrypt_key: str, ciphertext_b64: str) -> str:
        calls.append(ciphertext_b64)
        return real(encrypt_key, ciphertext_b64)

    monkeypatch.setattr(crypto, "feishu_decrypt", counted)
    yield calls


def lark_answer(raw: bytes) -> Any:
    """Feishu's SDK handler given the same unsigned body."""
    handler = EventDispatcherHandler.builder(KEY, TOKEN).build()
    req = RawRequest()
    req.uri, req.body, req.headers = PATH, raw, {}
    return json.loads(handler.do(req).content)


async def test_unsigned_bodies_take_their_own_rate_limit_before_decryption(
    app: Any, decryptions: list[str]
) -> None:
    url_check = json.dumps({"challenge": "ch-1", "token": TOKEN, "type": "url_verification"})
    unsigned_check = body(encrypted(url_check.encode()))
    attack = list(manipulations().values())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        # Feishu's own URL check still works unsigned, answered as its SDK answers it.
        r = await client.post(PATH, content=unsigned_check)
        assert r.status_code == 200 and r.json() == lark_answer(unsigned_check)
        refusals = []
        for ciphertext in attack[: int(UNVERIFIED_BURST) - 1]:
            r = await client.post(PATH, content=body(ciphertext))
            refusals.append((r.status_code, r.content, r.headers.get("content-type")))
        assert len(set(refusals)) == 1 and refusals[0][0] == 400, refusals
        decrypted = len(decryptions)
        assert decrypted == UNVERIFIED_BURST  # each went as far as decryption
        for ciphertext in attack[int(UNVERIFIED_BURST) - 1 :]:
            r = await client.post(PATH, content=body(ciphertext))
            assert r.status_code == 429 and r.json()["detail"]["reason"] == "rate_limited"
            assert int(r.headers["retry-after"]) >= 1
        assert len(decryptions) == decrypted  # refused before anything was decrypted
        # Forged unsigned bodies do not use up what Feishu's signed deliveries need.
        signed = pc.feishu_callback(json.loads(url_check))
        r = await client.post(PATH, headers=signed.headers, content=signed.body)
        assert r.status_code == 200 and r.json() == {"challenge": "ch-1"}
