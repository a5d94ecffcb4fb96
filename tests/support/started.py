"""A module's namespace with its worker and API started, as the link and button tests set it
up: with helpers registered, or with the staff file written (no staff: the dev token only)."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.staff import write_staff_file

STAFF = {"Authorization": "Bearer dev-staff-token"}


async def with_helpers(
    stack: LocalStack, community: str, helper_ids: Iterable[str], timeout: float = 15
) -> LocalStack:
    """Worker and API started; each of `helper_ids` registered in `community` (a driver)."""
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=timeout) as client:
        for hid in helper_ids:
            r = await client.put(
                f"/v1/admin/helpers/{hid}",
                json=builders.helper(hid, community, ["driving"]),
                headers=STAFF,
            )
            assert r.status_code == 202, r.text
    return stack


async def with_staff_file(stack: LocalStack) -> LocalStack:
    """Worker started, an empty staff file written, then the API started."""
    stack.start_worker()
    write_staff_file(stack, {})
    await stack.start_api()
    return stack
