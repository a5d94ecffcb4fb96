"""Session 39 audit: the personal page took quiet hours starting and ending at the same time
and confirmed "每天 22:00 至 22:00", which the core reads as ALL DAY (TimeWindow.contains)
while a community's quiet hours with start == end read as none: the helper got no offers
at all. Now the page refuses them (422), points to the clear button, and sends nothing."""

from __future__ import annotations

from tests.unit.test_api_fuzz_refusals import FORM, Api, _helper_path, api  # noqa: F401


async def test_quiet_hours_that_start_when_they_end_are_refused(api: Api) -> None:  # noqa: F811
    url = _helper_path(api) + "/quiet-hours"  # signed afresh each call: reuse this one
    for same in (b"start=22:00&end=22:00", b"start=00:00&end=00:00", b"start=07:30&end=+07:30"):
        r = await api.client.post(url, content=same, headers=FORM)
        assert r.status_code == 422, (same, r.text)
        assert "开始和结束时间不能相同" in r.text and "取消免打扰时段" in r.text
        assert f'action="{url}/clear"' in r.text
        assert "已更新" not in r.text
    assert api.sink.sent == []  # nothing queued for the worker
    # A real window still goes through.
    r = await api.client.post(url, content=b"start=22:00&end=07:00", headers=FORM)
    assert r.status_code == 200 and "每天 22:00 至 07:00" in r.text
    assert len(api.sink.sent) == 1
