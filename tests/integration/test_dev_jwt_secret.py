"""Development without JWT_SECRET_KEY: an app restarted on the same data dir keeps tokens valid."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from app.auth.tokens import SECRET_FILE
from app.main import create_app
from loaders.stack import Services
from tests.kb_fixtures import make_services

pytestmark = pytest.mark.integration


def dev_services(data_dir: Path, mongo_uri: str, db_name: str) -> Services:
    return make_services(
        data_dir, mongo_uri, mongodb_name=db_name, app_env="development", jwt_secret_key=None
    )


def me(client: TestClient, token: str) -> Any:
    return client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})


def test_a_restarted_app_accepts_the_tokens_of_the_first(mongo: Any, tmp_path: Path) -> None:
    """Two app instances over one data dir, one after the other (the data dir has one owner)."""
    db_name = f"jwt_{uuid.uuid4().hex[:10]}"
    first = dev_services(tmp_path, mongo.uri, db_name)
    try:
        with TestClient(create_app(first.settings, first)) as a:
            body = {"email": "dev@example.com", "password": "a long password", "full_name": "D"}
            r = a.post("/api/v1/users/register", json=body)
            assert r.status_code == 201, r.text
            tokens = r.json()["data"]
            assert me(a, tokens["access_token"]).status_code == 200
    finally:
        first.close()
    secret_file = tmp_path / SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # Signed with the file's secret, not one held by this process: what a restart reads back.
    claims = jwt.decode(tokens["access_token"], secret_file.read_text().strip(), ["HS256"])
    assert claims["type"] == "access"
    second = dev_services(tmp_path, mongo.uri, db_name)
    try:
        with TestClient(create_app(second.settings, second)) as b:
            r = me(b, tokens["access_token"])
            assert r.status_code == 200 and r.json()["data"]["email"] == "dev@example.com"
            r = b.post("/api/v1/users/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert r.status_code == 200, r.text
    finally:
        second.close()
