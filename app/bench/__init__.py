"""Service-level benchmarks (`make bench`): whole stacks and HTTP routes."""
