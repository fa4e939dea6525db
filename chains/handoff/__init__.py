"""Human handoff: the session's handoff state, its moves, live events and agent views."""
