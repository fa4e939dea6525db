"""Register, login and refresh: the rules between the HTTP routes and the stores."""

from __future__ import annotations

import threading
from typing import Any

from pymongo.database import Database

from app.auth import passwords
from app.auth.api_keys import ApiKeyStore
from app.auth.errors import AccountDisabled, InvalidCredentials, InvalidToken, RefreshTokenReused
from app.auth.pii import PiiCipher, cipher_from_settings
from app.auth.tokens import TokenService
from app.auth.users import RefreshTokenStore, Role, UserRepository
from loaders.settings import Settings

_LOCK = threading.Lock()
EXTRAS_KEY = "auth"


class AuthService:
    """Owns the users, refresh-token and API-key stores and the token service of one database."""

    def __init__(
        self, db: Database[dict[str, Any]], tokens: TokenService, cipher: PiiCipher
    ) -> None:
        self.users = UserRepository(db, cipher)
        self.refresh_tokens = RefreshTokenStore(db)
        self.api_keys = ApiKeyStore(db)
        self.tokens = tokens

    @classmethod
    def build(cls, db: Database[dict[str, Any]], settings: Settings) -> AuthService:
        service = cls(db, TokenService.from_settings(settings), cipher_from_settings(settings))
        service.users.ensure_indexes()
        service.refresh_tokens.ensure_indexes()
        service.api_keys.ensure_indexes()
        return service

    def create_user(
        self, email: str, password: str, full_name: str, *, role: Role = "user", **extra: Any
    ) -> dict[str, Any]:
        """Check the password policy, hash, insert; ``role`` is never taken from a request."""
        passwords.check_policy(password)
        return self.users.create(
            email=email,
            password_hash=passwords.hash_password(password),
            full_name=full_name,
            role=role,
            **extra,
        )

    def issue_pair(self, user: dict[str, Any], family_id: str | None = None) -> dict[str, Any]:
        """A new access token and a refresh token recorded (hashed) in its family."""
        grant = self.tokens.issue_refresh(user["user_id"], family_id)
        self.refresh_tokens.add(
            grant.jti,
            user_id=user["user_id"],
            family_id=grant.family_id,
            expires_at=grant.expires_at,
        )
        return {
            "access_token": self.tokens.issue_access(user["user_id"], user["role"]),
            "refresh_token": grant.token,
            "token_type": "bearer",
            "expires_in": self.tokens.access_ttl,
        }

    def login(self, email: str, password: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The user and a token pair; unknown email and wrong password look the same."""
        user = self.check_credentials(email, password)
        return user, self.issue_pair(user)

    def check_credentials(self, email: str, password: str) -> dict[str, Any]:
        """The active user with this email and password (the login page needs no refresh
        token); unknown email and wrong password look the same."""
        user = self.users.by_email(email)
        if user is None:
            passwords.verify_password(passwords.dummy_hash(), password)
            raise InvalidCredentials("Email or password is incorrect.")
        if not passwords.verify_password(str(user.get("password_hash", "")), password):
            raise InvalidCredentials("Email or password is incorrect.")
        ensure_active(user)
        if passwords.needs_rehash(str(user["password_hash"])):
            self.users.set_password_hash(user["user_id"], passwords.hash_password(password))
        self.users.touch_login(user["user_id"])
        return user

    def refresh(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Rotate: the presented token is spent; presenting it again revokes its family."""
        claims = self.tokens.decode(token, "refresh")
        family = claims.get("fam")
        if not isinstance(family, str):
            raise InvalidToken("The token is invalid.")
        outcome = self.refresh_tokens.consume(str(claims["jti"]))
        if outcome == "unknown":
            raise InvalidToken("The refresh token is not recognised.")
        if outcome == "reused":
            raise RefreshTokenReused(
                "This refresh token was already used; all sessions from it are revoked. "
                "Please log in again."
            )
        user = self.users.by_id(str(claims["sub"]))
        if user is None:
            raise InvalidToken("The token's user no longer exists.")
        ensure_active(user)
        return user, self.issue_pair(user, family)


def ensure_active(user: dict[str, Any]) -> None:
    if user.get("status", "active") != "active":
        raise AccountDisabled(f"This account is {user.get('status')}; contact support.")


def auth_service_for(
    extras: dict[str, Any], db: Database[dict[str, Any]], settings: Settings
) -> AuthService:
    """One ``AuthService`` per services stack, built (and indexed) on first use."""
    service = extras.get(EXTRAS_KEY)
    if service is None:
        with _LOCK:
            service = extras.get(EXTRAS_KEY)
            if service is None:
                service = AuthService.build(db, settings)
                extras[EXTRAS_KEY] = service
    return service  # type: ignore[no-any-return]
