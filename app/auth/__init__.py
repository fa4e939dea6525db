"""Users and JWT auth: password hashing, tokens, the users repository, dependencies, routes."""
