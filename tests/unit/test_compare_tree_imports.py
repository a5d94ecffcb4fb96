"""A `--compare` base's worker and API run from that tree's packages only.

The editable install maps `dispatcher` to this checkout through an import hook, so
`python -m dispatcher` started in another tree took any module that tree lacked from
this checkout: a base "without" a change still ran it (`dispatcher/testing/stack.py`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dispatcher.testing.stack import command_in

# A base tree's `python -m dispatcher`: reports its argv and whether a module only this
# checkout has (`dispatcher.bench`) can be imported.
_MAIN = """
import sys
try:
    import dispatcher.bench
    found = "found " + dispatcher.bench.__file__
except ModuleNotFoundError:
    found = "missing"
print(sys.argv[1:], found)
"""


def _tree(tmp_path: Path) -> Path:
    pkg = tmp_path / "dispatcher"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(_MAIN)
    return tmp_path


def test_a_module_the_base_tree_lacks_is_not_taken_from_this_checkout(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    out = subprocess.run(
        command_in(tree, "worker", "--name", "w1"),
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "['worker', '--name', 'w1'] missing"


def test_this_checkout_runs_as_before(tmp_path: Path) -> None:
    assert command_in(None, "api")[1:] == ["-m", "dispatcher", "api"]
