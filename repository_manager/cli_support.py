"""What every ``dagster-ecs`` command shares: plain help, and errors as one line on stderr.

Usage errors (an unknown verb or option) become one ``error:`` line with the likely verb meant;
an exception that escapes a command becomes one line naming its cause, never a traceback
(``DAGSTER_ECS_DEBUG=1`` shows it). Typer 0.29 runs on its own copy of click (``typer._click``),
whose exceptions these are: the pin in pyproject.toml keeps that so.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

SYNONYMS = {
    "start": "up",
    "run": "up",
    "down": "stop",
    "halt": "stop",
    "ps": "status",
    "log": "logs",
    "rm": "remove",
    "delete": "remove",
    "ls": "list",
}

ENVIRONMENT_HELP = (
    "Environment: DAGSTER_ECS_STATE_DIR (the stack's state folder, default .local/), "
    "DAGSTER_ECS_EMULATOR_PORT, DAGSTER_ECS_POSTGRES_PORT, DAGSTER_ECS_CODE_SERVER_PORT, "
    "DAGSTER_ECS_WEBSERVER_PORT (the ports of a stack about to start; a started stack keeps "
    "its own, from <state folder>/stack.json), TOFU (tofu or terraform), "
    "DAGSTER_ECS_DEBUG=1 (tracebacks)."
)


def describe_error(error: BaseException) -> str:
    """One line for an exception that escaped a command."""
    if isinstance(error, EndpointConnectionError):
        return (
            f"cannot reach {getattr(error, 'kwargs', {}).get('endpoint_url', 'the endpoint')}: "
            "is the stack running? start it with `make dev`"
        )
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, for the account the stack lives in"
        )
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (the platform runs in ap-southeast-2)"
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"AWS refused {error.operation_name}: {info.get('Code')}: {info.get('Message')}"
    if isinstance(error, BotoCoreError):
        return f"AWS client error: {error}"
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text} (DAGSTER_ECS_DEBUG=1 shows the traceback)"


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


class OneLineGroup(TyperGroup):
    """A command group whose usage errors and escaped exceptions print one line."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name = args[0] if args else None
        if name is not None and self.get_command(ctx, name) is None:
            meant = SYNONYMS.get(name)
            if meant is not None and self.get_command(ctx, meant) is not None:
                raise UsageError(f"no such command {name!r}; did you mean {meant!r}?", ctx)
        return super().resolve_command(ctx, args)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except typer.Exit as done:
            sys.exit(done.exit_code)
        except NoArgsIsHelpError as error:
            if error.ctx is not None:
                sys.stdout.write(error.ctx.get_help() + "\n")
            sys.exit(0 if error.ctx is not None else 2)
        except UsageError as error:
            where = error.ctx.command_path if error.ctx else "dagster-ecs"
            message = error.format_message().rstrip(".")
            if message[1:2].islower():
                message = message[:1].lower() + message[1:]
            error_line(f"{message} (see `{where} --help`)")
            sys.exit(error.exit_code)
        except ClickException as error:
            error_line(error.format_message())
            sys.exit(error.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            sys.stderr.write("aborted\n")
            sys.exit(130)
        except Exception as error:
            if os.environ.get("DAGSTER_ECS_DEBUG"):
                raise
            error_line(describe_error(error))
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def new_app(help_text: str, **kwargs: Any) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        cls=OneLineGroup,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        **kwargs,
    )
