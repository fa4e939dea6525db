"""Auth errors with stable codes: 401 for who-are-you failures, 403 for not-allowed."""

from __future__ import annotations

from loaders.errors import SupportbotError


class AuthError(SupportbotError):
    """The caller could not be authenticated."""

    code = "UNAUTHORIZED"
    status = 401


class InvalidCredentials(AuthError):
    """Wrong email or password; one code for both so emails cannot be probed."""

    code = "INVALID_CREDENTIALS"


class InvalidToken(AuthError):
    """Missing, malformed, tampered, wrong-type or wrong-algorithm token."""

    code = "INVALID_TOKEN"


class TokenExpired(AuthError):
    """A well-signed token past its ``exp``; clients should refresh."""

    code = "TOKEN_EXPIRED"


class RefreshTokenReused(AuthError):
    """A rotated refresh token came back: its whole family is revoked."""

    code = "REFRESH_TOKEN_REUSED"


class AccountDisabled(SupportbotError):
    """The account exists but is inactive or suspended."""

    code = "ACCOUNT_DISABLED"
    status = 403


class Forbidden(SupportbotError):
    """Authenticated, but the role does not allow this."""

    code = "FORBIDDEN"
    status = 403


class EmailTaken(SupportbotError):
    """Registration with an email that already has an account."""

    code = "EMAIL_ALREADY_REGISTERED"
    status = 409
