"""The environment variables kithost's Settings reads, for tests that check docs and deploy
files name only real settings."""

from __future__ import annotations

from kithost.settings import Settings


def setting_names() -> set[str]:
    """Each field's alias when it has one, else ``KITHOST_`` + its name in capitals."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names
