"""What every `ocs` command group shares: failing with a message, and the settings."""

from __future__ import annotations

from typing import NoReturn

import typer

from serving.config import ConfigError, Settings, get_settings


def fail(message: str) -> NoReturn:
    """Print ``error: message`` to stderr and exit 2 (bad input or configuration)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        fail(str(exc))
