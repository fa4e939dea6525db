"""chains package."""
