"""A helper's contact as the workers' table holds it, and `reseal-helpers` as an operator
runs it (the key-rotation and retired-contact tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from dispatcher.sealing import helper_detail, helper_name, helper_phone, keyring
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from schemas.helpers import HelperProfile


def opened(settings: Settings, profile: HelperProfile) -> tuple[str | None, str, str | None]:
    """Phone, name and platform user id, as the keys of `settings` open them."""
    ring = keyring(settings)
    return (
        helper_phone(ring, profile),
        helper_name(ring, profile),
        helper_detail(ring, profile).platform_user_id,
    )


def reseal(stack: LocalStack, *args: str) -> tuple[int, dict[str, Any]]:
    """`python -m dispatcher reseal-helpers`: its exit status and its report."""
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", "reseal-helpers", *args],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stdout, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)
