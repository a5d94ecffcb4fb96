"""The simulation report people look at: one self-contained HTML page (charts embedded as
PNG data, so it can be mailed or served as one file) plus the PNGs and the JSON beside it.

`<out>/simulate-<days>d-seed<seed>/` holds this run; `<out>/latest.html` is a copy of the
newest page (the dashboard links to it)."""

from __future__ import annotations

import base64
import html
import io
import json
import shutil
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from dispatcher.simulate.engine import WEEK_S
from dispatcher.simulate.metrics import check_word
from dispatcher.simulate.outcomes import Run
from schemas.vocab import Urgency

LATEST = "latest.html"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No timestamp in the PNG: the same run gives the same bytes.
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def cdf_chart(runs: dict[str, Run]) -> bytes:
    """Share of requests with an accept within t, per policy: critical, and all."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, urgency in zip(axes, (Urgency.CRITICAL, None), strict=True):
        for name, run in runs.items():
            group = [o for o in run.outcomes.values() if urgency is None or o.urgency is urgency]
            waits = sorted(
                max(1.0, o.first_accept_s - o.created_s)
                for o in group
                if o.first_accept_s is not None
            )
            if not group:
                continue
            ys = [(i + 1) / len(group) for i in range(len(waits))]
            ax.step(waits, ys, where="post", label=name)
        ax.set_xscale("log")
        ax.axvline(120, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("seconds from request to first accept (log)")
        ax.set_title("critical requests" if urgency else "all requests")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("share of requests accepted by then")
    axes[0].legend(loc="upper left")
    return _png(fig)


def notifications_chart(result: dict[str, Any]) -> bytes:
    names = list(result["policies"])
    values = [result["policies"][n]["notifications_per_answered"] or 0 for n in names]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bars = ax.bar(names, values, color=["#3b7dd8", "#d8573b", "#4caf50", "#9c6ade"][: len(names)])
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylabel("people pinged per answered request")
    ax.set_title("notifications per answered request")
    return _png(fig)


def load_chart(runs: dict[str, Run]) -> bytes:
    """Each volunteer's busiest week, sorted: who carries the load."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name, run in runs.items():
        busiest = []
        for hid in run.helper_ids:
            if hid in run.staff_ids:
                continue
            weeks: dict[int, int] = {}
            for t in run.helpers[hid].times_s:
                weeks[int(t // WEEK_S)] = weeks.get(int(t // WEEK_S), 0) + 1
            busiest.append(max(weeks.values(), default=0))
        busiest.sort(reverse=True)
        ax.plot(range(1, len(busiest) + 1), busiest, label=name)
    ax.axhline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("volunteers, busiest first")
    ax.set_ylabel("offers in their busiest week")
    ax.set_title("load per helper")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _png(fig)


def write_report(out: Path, result: dict[str, Any], runs: dict[str, Run], *, table: str) -> Path:
    folder = out / f"simulate-{result['days']}d-seed{result['seed']}"
    folder.mkdir(parents=True, exist_ok=True)
    charts = {
        "time_to_accept_cdf.png": ("Time to first accept", cdf_chart(runs)),
        "notifications_per_answered.png": (
            "Notifications per answered request",
            notifications_chart(result),
        ),
        "load_per_helper.png": ("Load per helper", load_chart(runs)),
    }
    for name, (_, data) in charts.items():
        (folder / name).write_bytes(data)
    (folder / "result.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    page = render_html(result, table, {title: data for title, data in charts.values()})
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    shutil.copyfile(path, out / LATEST)
    return path


def render_html(result: dict[str, Any], table: str, charts: dict[str, bytes]) -> str:
    figures = "\n".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode()}"><figcaption>{html.escape(title)}</figcaption></figure>'
        for title, data in charts.items()
    )
    goal = result.get("goal") or {}
    verdict = ""
    if goal:
        verdict = (
            f"<p><b>Goal for the plans: {'met' if goal['met'] else 'missed'}</b> — "
            + (", ".join(f"{html.escape(k)}: {check_word(v)}" for k, v in goal["checks"].items()))
            + "</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>What-if simulation: {result["days"]} days, seed {result["seed"]}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1100px; }}
pre {{ background: #f4f4f4; padding: 1em; overflow-x: auto; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>What if? {len(result["policies"])} policies on the same {result["requests"]} requests</h1>
<p>The real dispatch core in simulated time: {result["days"]} days from {result["start"]},
{result["helpers"]} helpers, seed {result["seed"]}. Every policy faces the same requests and the
same answer draws (a helper offered the same request answers the same way). Numbers come
from the behaviour model in <code>dispatcher/simulate/behaviour.py</code>.</p>
{verdict}
<pre>{html.escape(table)}</pre>
{figures}
<details><summary>JSON</summary><pre>{html.escape(json.dumps(result, indent=2))}</pre></details>
</body></html>
"""
