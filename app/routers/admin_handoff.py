"""Admin handoff settings: support hours and time zone (outside them, or with no agent online,
a customer who asks for a person is told so and may leave an email)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.audit import Audit
from app.auth.deps import AdminUser, require_role
from app.envelope import ok, request_id
from app.routers.chat import chat_service
from chains.chat import ChatService
from loaders.errors import InvalidInput

router = APIRouter(
    prefix="/api/v1/admin/handoff",
    tags=["admin: handoff"],
    dependencies=[Depends(require_role("admin"))],
)


class Hours(BaseModel):
    timezone: str = Field(default="UTC", max_length=64)
    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    start: str = Field(default="09:00", max_length=5)
    end: str = Field(default="17:00", max_length=5)


class HandoffSettings(BaseModel):
    hours: Hours | None = Field(
        default=None, description="Support hours; null means a person may answer at any time."
    )


def _public(chat: ChatService) -> dict[str, Any]:
    doc = chat.handoffs.settings()
    return {"hours": doc.get("hours"), "availability": chat.handoffs.availability()}


@router.get("")
async def get_settings(request: Request, chat: ChatService = Depends(chat_service)) -> JSONResponse:
    return ok(request, await run_in_threadpool(_public, chat))


@router.put("")
async def put_settings(
    request: Request,
    body: HandoffSettings,
    admin: AdminUser,
    audit: Audit,
    chat: ChatService = Depends(chat_service),
) -> JSONResponse:
    def run() -> dict[str, Any]:
        before = chat.handoffs.settings().get("hours")
        try:
            saved = chat.handoffs.save_settings(body.hours.model_dump() if body.hours else None)
        except ValueError as exc:
            raise InvalidInput(str(exc), code="INVALID_HOURS") from None
        audit.record(
            actor=admin,
            action="handoff.settings",
            target_type="handoff_settings",
            target="hours",
            before={"hours": before},
            after={"hours": saved["hours"]},
            request_id=request_id(request),
        )
        return _public(chat)

    return ok(request, await run_in_threadpool(run))
