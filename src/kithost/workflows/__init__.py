"""Workflows: what answers a session's messages (registry, sources, runner, providers)."""
