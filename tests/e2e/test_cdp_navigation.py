"""The test browser client under a navigation: an evaluation whose document is replaced
while it runs (a form submit, a redirect) is told apart from a script error, so polls that
span a navigation retry instead of failing by chance (the sign-in's live-feed poll once did:
'Inspected target navigated or closed')."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cdp import Browser, PageNavigatedAway, chromium_binary
from tests.support.waiting import eventually

# Never resolves, and reloads the page under itself: the evaluation is always caught by
# the navigation, so the race the poll met by chance happens here every time.
CAUGHT_BY_NAVIGATION = "new Promise(() => { location.reload(); })"


async def test_an_evaluation_caught_by_a_navigation_is_told_apart(tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (the e2e suite needs it)")
    browser = Browser(tmp_path / "profile")
    try:
        await browser.start(binary)
        with pytest.raises(PageNavigatedAway):
            await browser.evaluate(CAUGHT_BY_NAVIGATION)
        assert await browser.evaluate_while_navigating(CAUGHT_BY_NAVIGATION) is None

        # After the navigation the page answers again (polled: the reload may still run).
        async def loaded() -> bool:
            state = await browser.evaluate_while_navigating("document.readyState")
            return state == "complete"

        await eventually(loaded, timeout=30, what="the reloaded page")
        assert await browser.evaluate("1 + 1") == 2
        # A script error is still an error, not a navigation.
        with pytest.raises(RuntimeError) as raised:
            await browser.evaluate_while_navigating("undefinedName.property")
        assert not isinstance(raised.value, PageNavigatedAway)
    finally:
        await browser.close()
