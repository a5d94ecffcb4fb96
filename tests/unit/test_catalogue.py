"""Catalogues as data: a new category, or a new kind of escalation rung, is one entry.

The two "adding one" tests copy the product's packages into a temporary directory, make
there exactly the edits a developer would make (`NEW_CATEGORY`, `NEW_RUNG`), and run the
readers in a fresh interpreter: an enum member cannot be added to a running process.
Each reader is asked about the new entry's own values (label, skills, numbers, roles), so
a reader with a table of its own fails them.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dispatcher.api.replies import emergency_for, reply_text
from dispatcher.core.ladder import RUNGS
from schemas.catalogue import CATALOGUE, label_zh, labels
from schemas.plans import DEFAULT_ACTIONS, DEFAULT_PLANS, EscalationPlan, LadderStep, RungAction
from schemas.vocab import Category, Ring

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "dispatcher", "streams")

# (file, the line after which to insert, the lines inserted)
Edit = tuple[str, str, str]

# A new category: its enum member, its catalogue entry and the words that name it.
NEW_CATEGORY: tuple[Edit, ...] = (
    (
        "schemas/vocab.py",
        '    TECH_HELP = "tech_help"  # phone, network, online class\n',
        '    FLOODING = "flooding"  # water in the garage or the ground floor after a storm\n',
    ),
    (
        "schemas/catalogue.py",
        '    CategoryEntry(Category.OTHER, "其他求助", "other"),\n',
        "    CategoryEntry(\n"
        "        Category.FLOODING,\n"
        '        "内涝积水",\n'
        '        "flooding",\n'
        "        urgency=Urgency.URGENT,\n"
        "        skills=(Skill.CARRYING,),\n"
        "        helpers=4,\n"
        "        emergency=EmergencyNumber.FIRE,\n"
        "        referral=ReferralTarget.FIRE,\n"
        "        whistle_roles=(Role.COMMUNITY_STAFF, Role.GRID_WORKER),\n"
        "        life_at_risk=True,\n"
        "    ),\n",
    ),
    (
        "dispatcher/classify/lexicon.py",
        "CATEGORY_CUES: Final[list[tuple[str, Cue]]] = [\n",
        '    *cues(r"内涝 积水", Cue(C.FLOODING, (), weight=3)),\n',
    ),
)

# A new kind of rung: staff on duty are offered the request, without the group broadcast.
NEW_RUNG: tuple[Edit, ...] = (
    (
        "schemas/plans.py",
        '    REFER = "refer"  # refer to the category\'s referral target (120/110/119, property)\n',
        '    QUIET_STAFF = "quiet_staff"  # offer staff on duty, no group broadcast\n',
    ),
    (
        "dispatcher/core/ladder.py",
        "    RungAction.REFER: Rung(_refer_rung),\n",
        "    RungAction.QUIET_STAFF: Rung(\n"
        "        lambda fx, d, rung: send_offers(\n"
        "            fx,\n"
        "            d,\n"
        "            fx.state.index.staff_on_duty(d.ctx, rung.wave_size, d.offered_helpers()),\n"
        "            whistle=True,\n"
        "        )\n"
        "    ),\n",
    ),
)


def _tree(tmp: Path, edits: tuple[Edit, ...]) -> Path:
    root = tmp / "tree"
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for file, after, lines in edits:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert text.count(after) == 1, f"{file}: the anchor line moved; update the test's edit"
        path.write_text(text.replace(after, after + lines), encoding="utf-8")
    return root


def _run(root: Path, script: str) -> dict[str, object]:
    # The copied packages first; the repository after them for `tests.unit.conftest`.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}
    env.pop("PYTHONSAFEPATH", None)
    prelude = (
        "import json, schemas, dispatcher\n"
        f"assert schemas.__file__.startswith({str(root)!r}), schemas.__file__\n"
        f"assert dispatcher.__file__.startswith({str(root)!r}), dispatcher.__file__\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


NEW_CATEGORY_READERS = """
from dispatcher.api.offer_pages import _summary_facts
from dispatcher.record.read.requests import RequestSummary
from dispatcher.api.replies import reply_text
from dispatcher.classify import classify
from dispatcher.groupchat.texts import update_for
from dispatcher.push.messages import OfferSpec, render_offer
from schemas.catalogue import labels
from schemas.vocab import Category, Role, Skill, Urgency
from tests.unit.conftest import World

c = classify("5号楼门口内涝积水了，谁能来帮帮忙")
world = World()
world.helper("staff", building="office", compound="office", roles=[Role.COMMUNITY_STAFF])
world.helper("grid-worker", building="9", compound="far", grid="g9", roles=[Role.GRID_WORKER])
world.helper("wuye", building="office", compound="office", roles=[Role.PROPERTY_MANAGEMENT])
# Staff have no listed skill: only the whistle reaches them.
kw = dict(category=Category.FLOODING, skills=(Skill.CARRYING,), text="地库进水了")
spec = world.spec(**kw)
opened = world.submit(**kw)
referred = []
while not referred:
    step = world.tick()
    referred = world.of_type("referred_to_emergency", step)
offer = render_offer(OfferSpec(
    category=Category.FLOODING, urgency=Urgency.CRITICAL, building="5号楼",
    accept_url="https://x.example/a", decline_url="https://x.example/d",
))
print(json.dumps({
    "classified": [c.category, c.urgency, list(c.skills), c.helpers_needed],
    "advised": [a.number for a in world.of_type("emergency_call_advised", opened)],
    "whistled": sorted(world.of_type("whistle_blown")[0].staff_helper_ids),
    "referred": referred[0].to,
    "page": _summary_facts(RequestSummary(category="flooding", urgency="critical",
                            building_label="5号楼", status="open", closed_at=None,
                            helpers_needed=1, helpers_assigned=0)),
    "push": [offer.title, offer.text],
    "reply": reply_text(spec),
    "group": update_for(next(e for e in world.events if e.body.type == "referred_to_emergency")),
    "dashboard": labels()["flooding"],
}))
"""


def test_a_new_category_is_one_catalogue_entry(tmp_path: Path) -> None:
    root = _tree(tmp_path, NEW_CATEGORY)
    seen = _run(root, NEW_CATEGORY_READERS)
    # Classifier: recognised by its words; urgency, skills and count from the entry.
    assert seen["classified"] == ["flooding", "urgent", ["carrying"], 4]
    # Ladder: the entry's number advised at once and its referral at the emergency rung.
    assert seen["advised"] == ["119"]
    assert seen["referred"] == "119"
    # Index: the whistle reaches the entry's roles (a grid worker; not property management).
    assert seen["whistled"] == ["grid-worker", "staff"]
    # Pages, push texts, the group's replies and the dashboard: the entry's label and number.
    assert "内涝积水" in str(seen["page"])
    title, text = seen["push"]  # type: ignore[misc]
    assert "内涝积水" in title and "如有生命危险，请立即拨打119。" in text
    assert str(seen["reply"]).startswith("请立即拨打119")
    assert seen["group"] == "暂时没有邻居能及时赶到。请立即拨打119！"
    assert seen["dashboard"] == {"zh": "内涝积水", "en": "flooding"}
    # Three files, all data: the enum, the catalogue, the lexicon's words.
    assert len({file for file, _, _ in NEW_CATEGORY}) == 3


NEW_RUNG_PLAN = """
from schemas.plans import EscalationPlan, LadderStep, RungAction
from schemas.vocab import Ring, Role, Urgency
from tests.unit.conftest import World

plan = EscalationPlan(
    urgency=Urgency.URGENT,
    steps=(
        LadderStep(ring=Ring.BUILDING, wave_size=1, wait_s=60),
        LadderStep(ring=Ring.WHISTLE, action=RungAction.QUIET_STAFF, wave_size=2, wait_s=600),
    ),
    offer_ttl_s=600,
    lifetime_s=3600,
)
world = World()
world.state.plans = {**world.state.plans, Urgency.URGENT: plan}
world.helper("staff", building="office", compound="office", roles=[Role.COMMUNITY_STAFF])
world.submit(urgency=Urgency.URGENT)  # no driver: the building rung is skipped at once
print(json.dumps({
    "json": plan.steps[1].model_dump(mode="json"),
    "round_trip": EscalationPlan.model_validate_json(plan.model_dump_json()) == plan,
    "offered": [(o.helper_id, o.ring) for o in world.of_type("offer_sent")],
    "whistles": len(world.of_type("whistle_blown")),
}))
"""


def test_a_new_rung_kind_is_one_table_entry(tmp_path: Path) -> None:
    root = _tree(tmp_path, NEW_RUNG)
    seen = _run(root, NEW_RUNG_PLAN)
    assert seen["json"] == {
        "ring": "whistle",
        "action": "quiet_staff",
        "wave_size": 2,
        "wait_s": 600.0,
    }
    assert seen["round_trip"] is True
    assert seen["offered"] == [["staff", "whistle"]]  # staff offered ...
    assert seen["whistles"] == 0  # ... and no broadcast to the group
    # Two files: the action's name (wire) and its step function (core).
    assert len({file for file, _, _ in NEW_RUNG}) == 2


def test_the_catalogue_covers_every_category_and_every_action_has_a_step() -> None:
    assert list(CATALOGUE) != list(Category)  # ordered by urgency of kind, not by enum
    assert set(CATALOGUE) == set(Category)
    assert all(e.category is c for c, e in CATALOGUE.items())
    assert set(RUNGS) == set(RungAction)
    assert set(DEFAULT_ACTIONS) == set(Ring)
    assert len({e.zh for e in CATALOGUE.values()}) == len(CATALOGUE)  # labels tell apart
    assert labels()["fall"] == {"zh": "摔倒", "en": "fall"}
    assert label_zh("fall") == "摔倒" and label_zh("no-such-kind") == "no-such-kind"


def test_plan_json_is_unchanged_by_actions() -> None:
    """Plans that name no action, and their JSON, read and write as before actions
    existed: readers that refuse unknown fields still read every default plan."""
    for plan in DEFAULT_PLANS.values():
        dumped = json.loads(plan.model_dump_json())
        assert all(set(step) == {"ring", "wave_size", "wait_s"} for step in dumped["steps"])
        assert EscalationPlan.model_validate(dumped) == plan
    old = LadderStep.model_validate({"ring": "emergency", "wave_size": 0, "wait_s": 900})
    assert old.action is RungAction.REFER
    named = LadderStep(ring=Ring.GRID, action=RungAction.WHISTLE, wait_s=5)
    assert json.loads(named.model_dump_json())["action"] == "whistle"
    assert LadderStep.model_validate_json(named.model_dump_json()) == named


def _is_category(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("Category", "C")
    )


def test_no_module_keeps_a_category_table_of_its_own() -> None:
    """Per-category policy lives in the catalogue: no dict keyed by categories, no set or
    tuple of them, and outside the classifier's language rules no branch on one. (On main
    at 89ed6a7 this lists pages, push texts, rules, ladder, index and requests.)"""
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in ("schemas/catalogue.py", "schemas/vocab.py"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Dict):
                    items: list[ast.AST] = [k for k in node.keys if k is not None]
                elif isinstance(node, ast.Set | ast.Tuple | ast.List):
                    items = list(node.elts)
                elif isinstance(node, ast.Compare) and not rel.startswith("dispatcher/classify/"):
                    items = [c for c in node.comparators if _is_category(c)] * 2
                else:
                    continue
                if sum(map(_is_category, items)) >= 2:
                    found.append(f"{rel}:{node.lineno}")
    assert found == []


def test_a_category_without_an_emergency_number_still_advises_120(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`emergency=None`: a request marked life-threatening is still told to call, 120, and
    the emergency rung refers it to that same number (session 41: it told nobody to call
    while the referral said 120; `tests/unit/test_whistle_number_agrees_s41.py`)."""
    monkeypatch.setitem(
        CATALOGUE, Category.OTHER, replace(CATALOGUE[Category.OTHER], emergency=None)
    )
    d = world.submit(category=Category.OTHER, skills=(), life_threatening=True)
    assert [b.number for b in world.of_type("emergency_call_advised", d)] == ["120"]
    spec = world.request().spec
    assert emergency_for(spec) == "120" and "拨打120" in reply_text(spec)
    referred: list[Any] = []
    while not referred:
        referred = world.of_type("referred_to_emergency", world.tick())
    assert referred[0].to == "120"
    [whistle] = world.of_type("whistle_blown")
    assert whistle.emergency_number == "120"
    monkeypatch.undo()
    assert emergency_for(spec) == "120"  # the entry as shipped: call 120
