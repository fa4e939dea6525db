"""Encryption at rest for the PII fields the seed marks encrypted (``users.phone``).

Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``. ``PII_ENCRYPTION_KEY`` holds one or
more comma-separated keys, newest first, so a key can be rotated: new values are written with
the first, old values still decrypt with any. Unset in development: a key file under
``DATA_DIR`` (mode 0600) is created once and reused. Unset in production: refuse to start, as a
random key would make every stored phone number unreadable after a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.auth.dev_secrets import read_or_create
from loaders.errors import SupportbotError
from loaders.settings import Settings

log = logging.getLogger(__name__)
KEY_FILE = "pii.key"


class PiiKeyError(SupportbotError):
    """The PII key is missing (production) or not a valid Fernet key."""

    code = "PII_KEY_NOT_CONFIGURED"
    status = 503


def fernet_for(raw: str) -> MultiFernet:
    """A ``MultiFernet`` over comma-separated keys, or ``PiiKeyError`` naming the fix."""
    try:
        return MultiFernet([Fernet(k.strip().encode()) for k in raw.split(",") if k.strip()])
    except (ValueError, TypeError) as exc:
        raise PiiKeyError(
            "PII_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64 bytes); "
            "make one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        ) from exc


class PiiCipher:
    """Encrypts and decrypts single string fields; ``None`` stays ``None``.

    The key is loaded on first use, so tools that never touch PII (``users create-admin``)
    never create a development key file.
    """

    def __init__(self, load_key: Callable[[], str]) -> None:
        self._load_key = load_key
        self._cached: MultiFernet | None = None
        self._lock = threading.Lock()

    @property
    def _fernet(self) -> MultiFernet:
        if self._cached is None:
            with self._lock:
                if self._cached is None:
                    self._cached = fernet_for(self._load_key())
        return self._cached

    def encrypt(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        """The clear text; a value written with an unknown key reads as ``None`` (logged)."""
        if value is None:
            return None
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            log.warning("a PII field could not be decrypted with the configured key(s)")
            return None


def require_pii_key(settings: Settings) -> None:
    """Refuse to start in production without ``PII_ENCRYPTION_KEY``, or with a malformed one."""
    if settings.pii_encryption_key:
        fernet_for(settings.pii_encryption_key)
    elif settings.is_production:
        raise PiiKeyError("PII_ENCRYPTION_KEY must be set in production.")


def _dev_key(data_dir: Path) -> str:
    """The development key file, created with 0600 on first use (never in production)."""
    return read_or_create(
        data_dir / KEY_FILE, lambda: Fernet.generate_key().decode(), "PII_ENCRYPTION_KEY"
    )


def cipher_from_settings(settings: Settings) -> PiiCipher:
    require_pii_key(settings)
    configured = settings.pii_encryption_key
    data_dir = Path(settings.data_dir)
    return PiiCipher(lambda: configured or _dev_key(data_dir))
