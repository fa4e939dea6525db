"""Analytics APIs (seed: Get Analytics Dashboard) and the unanswered-questions report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from app.auth.deps import require_role
from app.deps import get_services
from app.envelope import ok
from chains.analytics.dashboard import dashboard
from chains.analytics.handoff import handoff_report
from chains.analytics.periods import period_from_query
from chains.analytics.unanswered import unanswered_questions
from loaders.stack import Services

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

StartDate = Annotated[
    str | None,
    Query(description="ISO 8601 date or date-time (UTC if no offset); default: 7 days ago"),
]
EndDate = Annotated[
    str | None, Query(description="ISO 8601; a bare date includes that whole day; default: now")
]


@router.get("/dashboard")
def get_dashboard(
    request: Request,
    _: Annotated[dict[str, Any], Depends(require_role("admin"))],
    services: Annotated[Services, Depends(get_services)],
    start_date: StartDate = None,
    end_date: EndDate = None,
    granularity: Annotated[str | None, Query(description="hour | day | week | month")] = "day",
) -> JSONResponse:
    """Sessions, messages, satisfaction, resolution, response times, errors and knowledge-base
    figures for the period, with a time series per bucket (definitions in
    ``chains.analytics.raw_dashboard``; served from hourly summaries by
    ``chains.analytics.dashboard``)."""
    period = period_from_query(start_date, end_date, granularity)
    return ok(request, dashboard(services.db, period))


@router.get("/handoff")
def get_handoff(
    request: Request,
    _: Annotated[dict[str, Any], Depends(require_role("admin", "support_agent"))],
    services: Annotated[Services, Depends(get_services)],
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> JSONResponse:
    """Handoff rate, time to first human reply, bot resolution (deflection), resolution by
    agent and satisfaction per outcome, over the sessions started in the period (definitions
    in ``chains.analytics.handoff``)."""
    period = period_from_query(start_date, end_date, "day")
    return ok(request, handoff_report(services.db, period))


@router.get("/unanswered")
def get_unanswered(
    request: Request,
    _: Annotated[dict[str, Any], Depends(require_role("admin", "support_agent"))],
    services: Annotated[Services, Depends(get_services)],
    start_date: StartDate = None,
    end_date: EndDate = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> JSONResponse:
    """Questions with no relevant passage, or escalated, grouped and most frequent first."""
    period = period_from_query(start_date, end_date, "day")
    questions = unanswered_questions(services.db, period, limit)
    span = {k: v for k, v in period.as_dict().items() if k != "granularity"}
    return ok(request, {"period": span, "questions": questions})
