"""Users and tokens for tests: a real user in MongoDB and a real signed access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from app.auth.service import auth_service_for
from app.auth.users import Role
from loaders.stack import Services

PASSWORD = "correct horse battery"


@dataclass
class TestUser:
    """A user document, its access token and the header that carries it."""

    __test__ = False  # not a pytest class

    user: dict[str, Any]
    token: str

    @property
    def user_id(self) -> str:
        return str(self.user["user_id"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(svc: Services, role: Role = "user", *, email: str | None = None) -> TestUser:
    """Create a user with ``role`` through the real auth service and sign an access token."""
    auth = auth_service_for(svc.extras, svc.db, svc.settings)
    address = email or f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    user = auth.create_user(address, PASSWORD, f"Test {role}", role=role)
    return TestUser(user, auth.tokens.issue_access(user["user_id"], user["role"]))
