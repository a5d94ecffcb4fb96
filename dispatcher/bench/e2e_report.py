"""`bench e2e`: the human-readable table of a result."""

from __future__ import annotations

from typing import Any

from dispatcher.bench import goals, machine_speed
from dispatcher.bench.e2e_pg import pg_lines


def intake_line(r: dict[str, Any]) -> str:
    open_loop = f"p50 {r['intake_p50_ms']} ms, p99 {r['intake_p99_ms']} ms"
    sent = f"p50 {r['intake_sent_p50_ms']} ms, p99 {r['intake_sent_p99_ms']} ms"
    late = (
        f"p50 {r.get('generator_lateness_p50_ms')} ms, p99 {r.get('generator_lateness_p99_ms')} ms"
    )
    return (
        f"intake (HTTP 202) at {r['intake_offered_rate']}/s: {open_loop} (from the send: {sent};"
        f" the load generator's own lateness: {late}){_unserved(r, 'intake')}"
    )


def _unserved(r: dict[str, Any], prefix: str) -> str:
    """`; N requests not served`, when the figure's run left any (they count as never)."""
    n = r.get(f"{prefix}_unserved")
    return f"; {n} requests not served (counted as never)" if n else ""


def phases_line(phases: dict[str, dict[str, Any]] | None) -> str:
    """The intake's phases (p50/p99 of each), by the API's Server-Timing."""
    if not phases:
        return "intake phases: not reported (the API's Server-Timing is off)"
    each = ", ".join(f"{name} {v['p50_ms']}/{v['p99_ms']}" for name, v in phases.items())
    return f"intake phases p50/p99 ms (the API's Server-Timing, then outside it): {each}"


def census_line(census: dict[str, Any], top: int = 6) -> str:
    """The callbacks that held worker-1's loops longest during a fixed rate."""
    held, min_ms = census["callbacks"], census["min_ms"]
    if not held:
        return f"loop census: no callback of {min_ms} ms or more"
    each = "; ".join(
        f"{name} {v['count']}× {v['total_ms']} ms (CPU {v.get('cpu_ms')}, max {v['max_ms']})"
        for name, v in list(held.items())[:top]
    )
    return f"loop census (callbacks ≥ {min_ms} ms, by total wall time): {each}"


def cpu_line(cpu: dict[str, Any] | None) -> str:
    if not cpu:
        return "CPU per request: not measured"
    per = ", ".join(f"{k} {v}" for k, v in cpu["per_process"].items())
    why = "".join(f"; {cpu[k]}" for k in ("not_judged", "failed") if cpu.get(k))
    return (
        f"CPU ms per dispatched request at {cpu['offered_rate']:.0f}/s: {cpu['total']} "
        f"= system under test {cpu.get('service_total')} + harness {cpu.get('harness_total')}"
        f" ({per}){why}"
    )


def floor_line(f: dict[str, Any]) -> str:
    return (
        f"floor (raw Kafka produce→consume, acks=all): p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms"
        f" from {f['count']} round trips after {f['warmup']} warm-up ones (p99 by quarter "
        f"{f['p99_by_block_ms']}; produce ack p99 {f['ack_p99_ms']} ms)"
    )


def after_line(result: dict[str, Any]) -> str:
    f = result["floor_after"]
    return (
        f"floor again after the scenarios: p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms (p99 by "
        f"quarter {f['p99_by_block_ms']}); the ratios use the floor {result['floor_used']} "
        "(the lower p99)"
    )


def worker_line(ws: dict[str, Any]) -> str:
    """A worker's counts. Its events' pushes: early (handed over once Kafka acknowledged
    them) or from their record (read back first: the share the early path lost)."""
    return (
        f"{ws['worker']}: partitions {ws['partitions']}, commands {ws['commands']} "
        f"(copies sent/decided at their acknowledgement {ws.get('reissued')}/"
        f"{ws.get('decided_at_ack')}), "
        f"events {ws['events']} (pushed early/from their record "
        f"{ws.get('notify_early')}/{ws.get('notify_from_record')}), "
        f"table writes {ws.get('table_writes')}, dead letters {ws['dead_letters']}, "
        f"deadline lateness (worker, s) {ws['deadline_lateness_s']}"
    )


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"bench e2e — {m['cores']} cores ({m['cpu_model']}), python {m['python']}, "
        f"{result['wall_s']} s",
        *([machine_speed.line(m["speed"])] if "speed" in m else []),
        floor_line(result["floor"]),
        *([after_line(result)] if result.get("floor_after") else []),
        f"intake→first offer at the lowest rate over the floor: p50 ×{result['e2e_p50_over_floor']}"
        f", p99 ×{result['e2e_p99_over_floor']} (from the actual send: "
        f"p99 ×{result['e2e_p99_over_floor_sent']}){_unserved(result, 'e2e')}",
        intake_line(result),
        phases_line(result.get("intake_phases_ms")),
        cpu_line(result["cpu_ms_per_request"]),
        *([goals.line(result["goals"])] if "goals" in result else []),
        "latencies are open loop: from each request's scheduled time, over every request "
        "planned (one not served counts as never: inf)",
        "",
        f"{'scenario':<24}{'wk':>3}{'offered/s':>10}{'rate/s':>9}{'count':>7}"
        f"{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'unsrv':>6}",
    ]

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.1f}"

    for s in result["scenarios"]:
        name = s["name"] if s["kind"] != "ceiling_probe" else f"probe:{s['name']}"
        if s["kind"] == "ceiling_probe" and s["name"] != "intake_to_first_offer":
            continue
        lines.append(
            f"{name[:24]:<24}{s['workers']:>3}{s['offered_rate']:>10.0f}{s['rate']:>9.1f}"
            f"{s['count']:>7}{fmt(s['p50_ms']):>10}{fmt(s['p99_ms']):>10}{fmt(s['max_ms']):>10}"
            f"{s.get('unserved', ''):>6}"
        )
    lines.append("")
    lines.append(
        f"throughput ceiling (p99 first offer < 1 s, every request; 0: no rate held): 1 worker "
        f"{result['throughput_ceiling_rps_1_worker']} req/s, 2 workers "
        f"{result['throughput_ceiling_rps_2_workers']} req/s"
    )
    two = result["ceilings"].get("workers_2") or {}
    if two.get("commands_per_worker"):
        lines.append(
            f"two workers ({result['settings']['partition_table']} partition table): "
            f"commands per worker {two['commands_per_worker']}, "
            f"partitions {two.get('partition_split')}"
        )
    for ws in result.get("worker_stats", []):
        lines.append(worker_line(ws))
        if gc := ws.get("gc"):
            lines.append(
                f"{ws['worker']}: garbage collector {gc['collections']} collections "
                f"(generations 0/1/2), {gc['total_ms']} ms, full pauses (ms) "
                f"{gc['full_pause_ms']}, {gc['frozen']} start-up objects frozen"
            )
    c = result["cleanup"]
    lines.append(
        f"clean-up: database {'dropped' if 'database_dropped' in c else 'LEFT'}, "
        f"{len(c.get('topics_deleted', []))} topics deleted, left: {c.get('topics_left') or 'none'}"
    )
    for s in result["scenarios"]:
        if s.get("pg_statements"):
            lines.append(f"PostgreSQL at {s['offered_rate']:.0f}/s offered:")
            lines += [f"  {line}" for line in pg_lines(s["pg_statements"], 5)]
    for n in result["notes"]:
        lines.append(f"note: {n}")
    return "\n".join(lines)
