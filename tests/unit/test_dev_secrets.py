"""The development JWT secret: one file under DATA_DIR (0600), the same for every process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.auth.dev_secrets import DevSecretError, read_or_create
from app.auth.tokens import SECRET_FILE, TokenService, signing_secret
from loaders.errors import SupportbotError
from loaders.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# A separate interpreter: nothing cached in this process can make two "processes" agree.
SECRET_SCRIPT = """
import sys
from app.auth.tokens import TokenService, signing_secret
from loaders.settings import Settings
settings = Settings(app_env="development", jwt_secret_key=None, data_dir=sys.argv[1])
if sys.argv[2] == "secret":
    print(signing_secret(settings))
elif sys.argv[2] == "issue":
    print(TokenService.from_settings(settings).issue_access("user-from-child", "admin"))
else:
    print(TokenService.from_settings(settings).decode(sys.argv[3], "access")["sub"])
"""


def dev(data_dir: Path) -> Settings:
    return Settings(app_env="development", jwt_secret_key=None, data_dir=data_dir)


def child(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET_KEY", "APP_ENV"}}
    return subprocess.Popen(
        [sys.executable, "-c", SECRET_SCRIPT, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def output(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out.strip()


def test_the_secret_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    first = signing_secret(dev(tmp_path))
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first and len(first) >= 32
    assert signing_secret(dev(tmp_path)) == first  # a "restart" reads the file back
    assert output(child(str(tmp_path), "secret")) == first
    assert signing_secret(dev(tmp_path / "other")) != first  # per data dir, not per machine
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [SECRET_FILE]  # no temp left


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    procs = [child(str(tmp_path), "secret") for _ in range(4)]
    secrets = {output(p) for p in procs}
    assert secrets == {(tmp_path / SECRET_FILE).read_text().strip()}


def test_a_token_from_one_process_is_accepted_by_another(tmp_path: Path) -> None:
    token = output(child(str(tmp_path), "issue"))
    assert TokenService.from_settings(dev(tmp_path)).decode(token, "access")["sub"] == (
        "user-from-child"
    )
    mine = TokenService.from_settings(dev(tmp_path)).issue_access("user-from-parent", "user")
    assert output(child(str(tmp_path), "decode", mine)) == "user-from-parent"


def test_production_refuses_without_a_secret_and_writes_no_file(tmp_path: Path) -> None:
    prod = Settings(app_env="production", jwt_secret_key=None, data_dir=tmp_path)
    with pytest.raises(SupportbotError) as info:
        signing_secret(prod)
    assert info.value.code == "AUTH_NOT_CONFIGURED"
    configured = Settings(app_env="development", jwt_secret_key="s" * 40, data_dir=tmp_path)
    assert signing_secret(configured) == "s" * 40
    assert not (tmp_path / SECRET_FILE).exists()


def test_an_unusable_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(DevSecretError, match="is empty"):
        read_or_create(empty, lambda: "never", "JWT_SECRET_KEY")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # DATA_DIR below a file cannot be created
    with pytest.raises(DevSecretError) as info:
        signing_secret(dev(blocker / "data"))
    assert info.value.code == "DEV_SECRET_UNAVAILABLE" and "JWT_SECRET_KEY" in info.value.message
