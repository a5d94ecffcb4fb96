"""Help requests: submit (202 once the command is in Kafka with acks=all), status by id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, status

from dispatcher.api.models import Accepted, HelpRequestIn, RequestStatusOut
from dispatcher.api.replies import emergency_for, reply_text
from schemas.commands import SubmitRequest, new_command
from schemas.places import PlacePath
from schemas.requests import RequesterContact, RequestSource, RequestSpec

router = APIRouter(prefix="/v1/requests", tags=["requests"])


def spec_from(body: HelpRequestIn, request_id: str) -> RequestSpec:
    return RequestSpec(
        request_id=request_id,
        community_id=body.place.community_id,
        place=PlacePath(**body.place.model_dump()),
        category=body.category,
        urgency=body.urgency,
        skills=tuple(dict.fromkeys(body.skills)),
        helpers_needed=body.helpers_needed,
        text=body.text,
        contact=RequesterContact(**body.contact.model_dump()),
        requester_helper_id=body.requester_helper_id,
        prefer_gender=body.prefer_gender,
        prefer_party_member=body.prefer_party_member,
        source=RequestSource(**body.source.model_dump()) if body.source else None,
    )


async def submit_spec(request: Request, spec: RequestSpec) -> Accepted:
    deps = request.app.state.deps
    command = new_command(
        SubmitRequest(spec=spec), community_id=spec.community_id, issued_at=datetime.now(UTC)
    )
    try:
        await deps.sink.send(
            deps.settings.commands_topic, spec.community_id, command.model_dump_json().encode()
        )
    except Exception as exc:
        # Not acknowledged: the caller must retry (bots do), so say so with 503.
        raise HTTPException(
            status_code=503,
            detail=f"could not queue the request ({type(exc).__name__}); please retry",
            headers={"Retry-After": "2"},
        ) from exc
    number = emergency_for(spec)
    return Accepted(
        request_id=spec.request_id,
        reply_text=reply_text(spec),
        advise_emergency_call=number is not None,
        emergency_number=number,
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def submit_request(body: HelpRequestIn, request: Request) -> Accepted:
    """Submit a structured help request. Answers 202 once it is durably queued."""
    try:
        spec = spec_from(body, str(uuid.uuid4()))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return await submit_spec(request, spec)


@router.get("/{request_id}", response_model=RequestStatusOut)
async def request_status(request_id: str, request: Request) -> RequestStatusOut:
    """The request's latest recorded status (the read model lags the stream by milliseconds)."""
    pool = await request.app.state.deps.pool()
    row = await pool.fetchrow("SELECT * FROM requests WHERE request_id = $1", request_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such request (yet): retry in a moment")
    iso = lambda v: v.isoformat() if v is not None else None  # noqa: E731
    return RequestStatusOut(
        request_id=row["request_id"],
        community_id=row["community_id"],
        category=row["category"],
        urgency=row["urgency"],
        status=row["status"],
        outcome=row["outcome"],
        ring=row["ring"],
        step=row["step"],
        helpers_needed=row["helpers_needed"],
        helpers_assigned=row["helpers_assigned"],
        offers_sent=row["offers_sent"],
        opened_at=row["opened_at"].isoformat(),
        first_offer_at=iso(row["first_offer_at"]),
        first_accept_at=iso(row["first_accept_at"]),
        closed_at=iso(row["closed_at"]),
    )
