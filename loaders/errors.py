"""Domain errors with a stable ``code`` and HTTP status, mapped once to the API envelope.

Loaders, chains and app raise these; ``app`` turns them into ``{success: false, error: {...}}``.
"""

from __future__ import annotations

from typing import Any


class SupportbotError(Exception):
    """Base error: ``code`` is stable for clients, ``message`` is for people."""

    code: str = "INTERNAL_ERROR"
    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}


class InvalidInput(SupportbotError):
    """The request is well-formed but a value is out of range or inconsistent."""

    code = "INVALID_INPUT"
    status = 422


class UnsupportedFormat(SupportbotError):
    """The uploaded file is not one of the formats we can parse."""

    code = "UNSUPPORTED_FORMAT"
    status = 415


class FileTooLarge(SupportbotError):
    """The upload is over the configured size limit."""

    code = "FILE_TOO_LARGE"
    status = 413


class DocumentRejected(SupportbotError):
    """The file claims a supported format but cannot be used (empty, corrupt, encrypted...)."""

    code = "DOCUMENT_REJECTED"
    status = 422


class NotFound(SupportbotError):
    """The addressed resource does not exist."""

    code = "NOT_FOUND"
    status = 404


class ServiceUnavailable(SupportbotError):
    """A backing service (MongoDB, Redis, vector store, model provider) cannot be reached."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
