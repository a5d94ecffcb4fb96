"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatcher.api import (
    admin,
    answer_pages,
    assignment_pages,
    config_live,
    config_routes,
    health,
    helper_pages,
    households,
    messages,
    offer_pages,
    recipient_pages,
    registration_pages,
    registrations,
    requests,
)
from dispatcher.api import ops_pages as ops_web
from dispatcher.api.auth import DB_UNAVAILABLE
from dispatcher.api.body_limit import BodyLimit
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import database_unreachable, refused, validation_refused
from dispatcher.api.intake_route import IntakeRoute
from dispatcher.api.llm_classifier import close_llm
from dispatcher.api.platform_login import routes as platform_login_routes
from dispatcher.api.platforms.routes import router as platforms_router
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.api.unrecorded_sweeper import sweep_forever
from dispatcher.api.url_guard import UrlGuard
from dispatcher.groupchat.loop import GroupReplies, whistle_people
from dispatcher.groupchat.sender import GroupSender
from dispatcher.push.egress import EgressPolicy
from dispatcher.push.http import make_client
from dispatcher.record.retention import purge_forever
from dispatcher.sealing import keyring
from dispatcher.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, deps: ApiDeps | None = None) -> FastAPI:
    deps = deps or ApiDeps(settings=settings, sink=KafkaCommandSink(settings))
    reply_client = make_client(timeout=5.0, egress=EgressPolicy(settings.outbound_private_hosts))
    group_replies = GroupReplies(
        GroupSender(lambda: deps.registry, reply_client, deps.clock),
        deps.pool,
        clock=deps.clock,
        keys=keyring(settings),
        hotlines=lambda community_id: deps.config.hotlines(community_id),
        # Whether a whistle called anyone but the group robot for the request's place (its
        # group's, from the live bots): else the group is told so.
        whistle_people=lambda community_id, place=None: whistle_people(
            community_id,
            deps.config.endpoints,
            deps.config.endpoint_owner,
            deps.config.whistle_recipients(community_id),
            place,
        ),
        group_place=lambda bot_id, group_id: deps.registry.group_place(bot_id, group_id),
    )
    tasks: dict[str, asyncio.Task[None]] = {}

    def start_group_replies() -> None:
        # Platform robots' groups hear back (dispatcher/groupchat); off until a platform bot
        # is configured (at start, or later through the live configuration).
        if "updates" in tasks or not any(b.platform for b in deps.registry.bots.values()):
            return
        tasks["updates"] = asyncio.create_task(
            group_replies.consume_forever(settings), name="group-replies"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start = getattr(deps.sink, "start", None)
        if start is not None:
            try:
                await start()
            except Exception as exc:  # readiness reports it; the sink retries on first use
                log.warning("kafka producer not started yet: %s", type(exc).__name__)
        tasks["sweeper"] = asyncio.create_task(sweep_forever(deps), name="unrecorded-sweeper")
        tasks["purger"] = asyncio.create_task(
            purge_forever(settings, deps.pool, deps.clock), name="retention"
        )
        if deps.config_follower is not None:
            deps.config_follower.on_change = lambda record: start_group_replies()
            tasks["config"] = asyncio.create_task(config_live.follow(deps), name="config")
        start_group_replies()
        try:
            yield
        finally:
            for task in list(tasks.values()):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await group_replies.close()
            await reply_client.aclose()
            await close_llm(app.state)
            await deps.close()

    app = FastAPI(
        title="Neighbour help dispatch API",
        version="1",
        description=(
            "Chat-group bots submit help requests; volunteers answer offers through signed links; "
            "staff watch and administer. This service never replaces 120/110/119.\n\n"
            "**Bots** sign every request with Standard Webhooks (`webhook-id`, "
            "`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of "
            '"{id}.{timestamp}.{payload}">`) and name themselves in `X-Bot-Id`. The payload is '
            "the method and target, a newline, then the body (`POST /v1/requests\\n{...}`; "
            "a GET: `GET /v1/requests/ID\\n`), so a signature is good for one route only. "
            "Timestamps older than 5 minutes and reused "
            "webhook-ids are refused. **Staff** send `Authorization: Bearer <token>`."
        ),
        lifespan=lifespan,
        # No OpenTelemetry here (the API's metrics are Prometheus: ops/api_metrics.py), and
        # FastAPI's bridge asked OpenTelemetry's global providers on every request whether
        # one was configured (about 10 µs of CPU each); it would also export exception
        # messages, which may quote what a caller sent.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Every route's 422, the intake's below the framework too (it uses the app's
        # handlers): what was sent is never quoted back. PostgreSQL out of reach where a
        # route does not answer it itself: 503 with Retry-After, never a bare 500. On the
        # pages opened from a message (/l/, /join/, /card/), a browser gets each refusal
        # as a page in Chinese instead (errors.wants_page); JSON everywhere else.
        exception_handlers={
            StarletteHTTPException: refused,
            RequestValidationError: validation_refused,
            **dict.fromkeys(DB_UNAVAILABLE, database_unreachable),
        },
    )
    app.state.deps = deps
    app.state.group_replies = group_replies
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        # Ledgers (helpers, households) hold a whole community: the larger limit.
        larger=lambda path: (
            settings.roster_max_bytes if path.endswith(("/roster", "/households")) else None
        ),
    )
    app.add_middleware(UrlGuard)
    app.include_router(health.router)
    app.include_router(messages.router)
    app.include_router(platforms_router)
    app.include_router(requests.router)
    requests.document(app)  # the lean intake route's body model
    app.include_router(offer_pages.router)
    app.include_router(assignment_pages.router)
    app.include_router(platform_login_routes.router)
    app.include_router(helper_pages.router)
    app.include_router(recipient_pages.router)
    app.include_router(answer_pages.router)
    app.include_router(admin.router)
    app.include_router(registration_pages.router)
    app.include_router(registrations.router)
    app.include_router(households.admin)
    app.include_router(households.card)
    app.include_router(config_routes.router)
    ops_web.install(app, settings)
    # Last, so outermost of our middlewares: the bot intake served below the framework.
    app.add_middleware(
        IntakeRoute,
        endpoint=requests.submit_request,
        limit=settings.max_body_bytes,
        timing=settings.server_timing,
    )
    return app
