"""Auth at start-up: refuse to run production without its secrets; give development an admin.

``make run`` with embedded defaults has no users, and every route but login needs one. In
development only, the first start with an empty ``users`` collection creates
``admin@supportbot.local`` with a random password written to ``DATA_DIR/initial-admin-password``
(mode 0600); the log names the file, never the password (logs carry no secrets).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from app.auth.errors import EmailTaken
from app.auth.pii import require_pii_key
from app.auth.service import auth_service_for
from app.auth.tokens import signing_secret
from loaders.settings import Settings
from loaders.stack import Services

log = logging.getLogger(__name__)
DEV_ADMIN_EMAIL = "admin@supportbot.local"  # is_email wants a dotted domain
PASSWORD_FILE = "initial-admin-password"
_DEV_ENVS = {"development", "dev"}


def check_auth_config(settings: Settings) -> None:
    """Raise (so the server does not start) when production lacks JWT or PII keys."""
    signing_secret(settings)
    require_pii_key(settings)


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


def bootstrap_dev_admin(svc: Services) -> Path | None:
    """Create the development admin when there are no users; the password file's path."""
    settings = svc.settings
    if settings.app_env.strip().lower() not in _DEV_ENVS:
        return None
    auth = auth_service_for(svc.extras, svc.db, settings)
    if auth.users.count():
        return None
    password = secrets.token_urlsafe(18)
    try:
        auth.create_user(DEV_ADMIN_EMAIL, password, "Development admin", role="admin")
    except EmailTaken:  # another worker got there first
        return None
    path = Path(settings.data_dir) / PASSWORD_FILE
    _write_secret(path, password)
    log.warning(
        "APP_ENV=development and no users: created admin %s; its password is in %s "
        "(log in at /login). Create real admins with `supportbot users create-admin`.",
        DEV_ADMIN_EMAIL,
        path,
    )
    return path
