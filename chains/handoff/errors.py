"""Handoff errors: each a stable code and the status a client can act on."""

from __future__ import annotations

from loaders.errors import SupportbotError


class AlreadyClaimed(SupportbotError):
    """Another agent holds the session (the claim race's loser)."""

    code = "SESSION_ALREADY_CLAIMED"
    status = 409


class WrongHandoffState(SupportbotError):
    """The move is not allowed from the session's current state."""

    code = "HANDOFF_STATE_CONFLICT"
    status = 409


class NotSessionAgent(SupportbotError):
    """Only the agent holding the session (or an admin) may do this."""

    code = "NOT_SESSION_AGENT"
    status = 403
