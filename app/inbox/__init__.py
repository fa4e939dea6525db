"""The agent inbox at ``/agent/``: a plain HTML + ES-module page over the agent REST/SSE API."""
