"""JWT access and refresh tokens: HS256 only, with ``exp``, ``iat`` and a token ``type``."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jwt

from app.auth.dev_secrets import read_or_create
from app.auth.errors import InvalidToken, TokenExpired
from loaders.errors import SupportbotError
from loaders.settings import Settings

ALGORITHM = "HS256"
ISSUER = "supportbot"
TokenType = Literal["access", "refresh", "visitor", "visitor_refresh"]
SECRET_FILE = "jwt-secret"


def signing_secret(settings: Settings) -> str:
    """The configured secret; in development a file under ``DATA_DIR``; production refuses.

    The development file (``jwt-secret``, mode 0600) is made once, like the PII key, so tokens
    survive a restart and every process on one data dir accepts the others' tokens.
    """
    if settings.jwt_secret_key:
        return settings.jwt_secret_key
    if settings.is_production:
        raise SupportbotError(
            "JWT_SECRET_KEY must be set in production.", code="AUTH_NOT_CONFIGURED", status=503
        )
    return read_or_create(
        Path(settings.data_dir) / SECRET_FILE, lambda: secrets.token_urlsafe(48), "JWT_SECRET_KEY"
    )


@dataclass(frozen=True)
class RefreshGrant:
    """A freshly issued refresh token and the ids the store keeps (the jti only hashed)."""

    token: str
    jti: str
    family_id: str
    expires_at: datetime


class TokenService:
    """Issues and verifies tokens; the algorithm is pinned so ``alg`` in a header is ignored."""

    def __init__(self, secret: str, *, access_ttl: int, refresh_ttl: int) -> None:
        self._secret = secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenService:
        return cls(
            signing_secret(settings),
            access_ttl=settings.jwt_access_ttl_seconds,
            refresh_ttl=settings.jwt_refresh_ttl_seconds,
        )

    def _encode(self, claims: dict[str, Any], ttl: int) -> tuple[str, datetime]:
        now = datetime.now(UTC)
        exp = now + timedelta(seconds=ttl)
        payload = {**claims, "iss": ISSUER, "iat": now, "exp": exp}
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), exp

    def issue_access(self, user_id: str, role: str) -> str:
        token, _ = self._encode(
            {"sub": user_id, "role": role, "type": "access", "jti": uuid.uuid4().hex},
            self.access_ttl,
        )
        return token

    def issue_refresh(self, user_id: str, family_id: str | None = None) -> RefreshGrant:
        jti = uuid.uuid4().hex
        family = family_id or uuid.uuid4().hex
        claims = {"sub": user_id, "type": "refresh", "jti": jti, "fam": family}
        token, exp = self._encode(claims, self.refresh_ttl)
        return RefreshGrant(token=token, jti=jti, family_id=family, expires_at=exp)

    def issue_visitor(self, claims: dict[str, Any], *, refresh: bool, ttl: int) -> str:
        """A widget visitor's access (``visitor``) or refresh (``visitor_refresh``) token.

        Stateless on purpose: a visitor is anonymous and scoped to one session, so there is no
        family to revoke; deactivating the site key cuts every visitor of that key off.
        """
        kind = "visitor_refresh" if refresh else "visitor"
        token, _ = self._encode({**claims, "type": kind, "jti": uuid.uuid4().hex}, ttl)
        return token

    def decode(self, token: str, expected: TokenType | tuple[TokenType, ...]) -> dict[str, Any]:
        """Verified claims, or ``InvalidToken`` / ``TokenExpired`` (both 401); ``expected`` is
        one type or several (the caller then dispatches on ``claims["type"]``)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "type", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("The token has expired; log in or refresh.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("The token is invalid.") from exc
        allowed = (expected,) if isinstance(expected, str) else expected
        if claims.get("type") not in allowed:
            raise InvalidToken(f"An {' or '.join(allowed)} token is required here.")
        return claims
