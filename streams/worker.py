"""`python -m dispatcher worker`: one Faust dispatch worker process, and its wiring.

Run several with distinct --name (and --web-port) to share the partitions.
"""

from __future__ import annotations

import argparse
import logging

import faust

from dispatcher.clock import Clock, SystemClock
from dispatcher.config.policies import refresh_policies
from dispatcher.logs import configure_logging
from dispatcher.plans import scaled_plan_sets, scaled_plans
from dispatcher.secret_policy import enforce as enforce_secret_policy
from dispatcher.settings import Settings, get_settings
from schemas.config import ConfigKind, ConfigRecord
from streams.app import create_faust_app
from streams.changelog_writes import ChangelogWriter
from streams.config_agent import ConfigAgent
from streams.dead_letter import DeadLetterSink
from streams.deadline_timer import DeadlineTimer
from streams.dispatch_agent import DispatchAgent
from streams.gc_freeze import AGEING as GC_AGEING
from streams.gc_freeze import freeze_startup_objects
from streams.gc_stats import WATCH as GC_WATCH
from streams.loop_census import CENSUS as LOOP_CENSUS
from streams.notify import NotifyAgent
from streams.record_agent import RecordAgent
from streams.runtime import WorkerRuntime
from streams.trace import Trace
from streams.web import install_pages


def build_worker(
    settings: Settings, worker_name: str = "worker", clock: Clock | None = None
) -> WorkerRuntime:
    """The Faust app with its topics, tables, agents, timer and pages, around one runtime."""
    clock = clock or SystemClock()
    app = create_faust_app(settings, worker_name)
    raw = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    table_args = {
        "partitions": settings.topic_partitions,
        "default": None,
        "key_type": bytes,
        "value_type": bytes,
    }
    rt = WorkerRuntime(
        settings=settings,
        app=app,
        clock=clock,
        trace=Trace(settings.trace_dir, worker_name, clock),
        commands=app.topic(settings.commands_topic, partitions=settings.topic_partitions, **raw),
        events=app.topic(settings.events_topic, partitions=settings.topic_partitions, **raw),
        dead_letters=app.topic(
            settings.dead_letter_topic, partitions=settings.topic_partitions, **raw
        ),
        requests_table=app.Table("requests", **table_args),
        helpers_table=app.Table("helpers", **table_args),
        plans=scaled_plans(settings.plan_time_scale),
        party_first=dict(settings.party_first),
    )
    writer = ChangelogWriter(app)
    rt.write_table, rt.table_items, rt.table_value = writer.write, writer.items, writer.value
    rt.state.core.plans = rt.plans
    rt.state.core.party_first = rt.party_first
    rt.state.core.communities = rt.communities
    sink = DeadLetterSink(rt.dead_letters, rt.stats, clock)
    app.dead_letter_sink = sink  # the consumer's report of records lost to retention
    config = ConfigAgent(settings, clock, sink=sink)
    plan_sets = scaled_plan_sets(settings.plan_time_scale)

    timer = DeadlineTimer(rt, config_ready=config.follower.ready)

    def community_changed(record: ConfigRecord) -> None:
        if record.kind is ConfigKind.COMMUNITY:
            before = dict(rt.communities)
            refresh_policies(rt.communities, config.view.communities(), plan_sets)
            # A hold's end was fixed when its request was held: those the changed hours now
            # hold otherwise are decided again, through the commands topic.
            timer.quiet_hours_changed(before, rt.communities)

    config.follower.on_change = community_changed
    # Requests are decided with their community's settings: not before they are loaded.
    DispatchAgent(rt, sink, config_ready=config.follower.ready).install()
    RecordAgent(settings, rt.stats, sink, decoded=rt.decoded).install(app)
    config.install(app)
    NotifyAgent.for_runtime(rt, sink, config, rt.decoded).install(rt)
    timer.install()
    if settings.gc_freeze_every_seconds > 0:
        GC_AGEING.install(app, settings.gc_freeze_every_seconds, settings.gc_full_every_seconds)
    install_pages(rt, worker_name)
    return rt


def main(argv: list[str]) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher worker",
        description="Run a Faust dispatch worker (dispatch agent, deadline timer, record agent).",
    )
    parser.add_argument("--name", default="worker-1", help="worker name; one data dir per name")
    parser.add_argument(
        "--web-port",
        type=int,
        default=settings.worker_web_port,
        help="port of the worker's web server (/healthz, /readyz, /stats, /metrics)",
    )
    args = parser.parse_args(argv)
    enforce_secret_policy(settings, "the worker")
    settings = settings.model_copy(update={"worker_web_port": args.web_port})
    configure_logging(settings, args.name)
    rt = build_worker(settings, args.name)
    worker = faust.Worker(
        rt.app,
        loglevel=logging.getLevelName(logging.getLogger().level),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    freeze_startup_objects(settings.gc_thresholds)
    if settings.loop_census_ms > 0:
        LOOP_CENSUS.install(settings.loop_census_ms)
    GC_WATCH.install()  # after the start-up collection: /stats counts the serving worker's
    worker.execute_from_commandline()
    return 0
