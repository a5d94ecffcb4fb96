"""`python -m dispatcher invite --compound-name` with a flat or a phone in it (refused since
b2a5cb1) ends in one usage line naming the reason, exit 2, never the name itself; it ended in
a ValueError traceback."""

from __future__ import annotations

import pytest

from dispatcher.api import invite_cli
from tests.unit.test_invites import settings


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("图强小区3号楼2单元502室", "place_name_has_flat"),
        ("图强小区 13800138000", "place_name_has_phone"),
    ],
)
def test_a_compound_name_with_a_flat_or_phone_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, why: str
) -> None:
    s = settings()
    monkeypatch.setattr(invite_cli, "get_settings", lambda: s)
    with pytest.raises(SystemExit) as exited:
        invite_cli.main(["--community", "xian", "--compound-name", name])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err
    assert "502" not in err and "13800138000" not in err
    assert invite_cli.main(["--community", "xian", "--compound-name", "图强小区"]) == 0
