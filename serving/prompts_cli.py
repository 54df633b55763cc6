"""`ocs prompts`: list the versioned prompts, render one for an order, release new versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

prompts_app = typer.Typer(help="Versioned email prompts", no_args_is_help=True)


def _library(check_lock: bool = True):  # type: ignore[no-untyped-def]
    from serving.config import get_settings
    from serving.email.prompts import PromptError, PromptLibrary

    try:
        return PromptLibrary(get_settings().prompts_dir, check_lock=check_lock)
    except PromptError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@prompts_app.command("list")
def prompts_list() -> None:
    """Every prompt file: ID@VERSION, released or draft, hash and description."""
    library = _library(check_lock=False)
    problems = library.lock_problems()
    typer.echo(f"{'prompt':<24}{'status':<10}{'sha256':<14}description")
    for ref, prompt in sorted(library.prompts.items()):
        status = "released" if library.released(prompt) else "draft"
        typer.echo(f"{ref:<24}{status:<10}{prompt.sha256[:12]:<14}{prompt.description}")
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


@prompts_app.command("render")
def prompts_render(
    ref: Annotated[str, typer.Argument(help="ID@VERSION, e.g. retention-email@1")],
    order: Annotated[Path, typer.Option(help="JSON file with the POST /v1/emails body")],
) -> None:
    """The messages (or fallback email) a prompt produces for one order."""
    from pydantic import ValidationError

    from serving.config import get_settings
    from serving.email import context
    from serving.email.prompts import PromptError
    from serving.email.schemas import EmailRequest

    library = _library()
    try:
        prompt = library.get(ref)
        request = EmailRequest.model_validate(json.loads(order.read_text()))
        variables = context.variables(request, get_settings().email_order_url)
        blocks = ("subject", "body") if ref.startswith("fallback-") else ("system", "user")
        for block in blocks:
            typer.echo(f"--- {block} ---")
            typer.echo(prompt.render(block, **variables))
    except (OSError, ValueError, ValidationError, PromptError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@prompts_app.command("release")
def prompts_release() -> None:
    """Record the hashes of new prompt files in prompts.lock (released files never change)."""
    added = _library().release_all()
    typer.echo("released: " + (", ".join(added) if added else "nothing new"))
