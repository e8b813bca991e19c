"""extractor: who said what, with which stance, under which condition.

\b
Quick start:
  extractor extract seeds/ -o runs/demo          # embedded local model, offline
  extractor eval runs/demo --gold evals/gold     # score against hand-labelled gold
  extractor diff runs/v1 runs/v2 --html r.html   # review a prompt change claim by claim

Each command group has its own --help. Exit codes: 0 ok, 1 failure or
regression, 2 usage error.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from .. import __version__
from ..errors import ExtractorError, UsageError
from ..secrets import redact

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ExtractorGroup(click.Group):
    """Turns expected errors into one `Error: ...` line (exit 1, or 2 for usage)."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except UsageError as exc:
            if debug:
                _print_traceback(exc)
            click.echo(f"Error: {redact(str(exc))}", err=True)
            ctx.exit(2)
        except ExtractorError as exc:
            if debug:
                _print_traceback(exc)
            click.echo(f"Error: {redact(str(exc))}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as exc:  # an unexpected bug: one line unless --debug
            if debug:
                _print_traceback(exc)
                ctx.exit(1)
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {redact(str(exc))} (rerun with --debug for a traceback)",
                err=True,
            )
            ctx.exit(1)


def _print_traceback(exc: BaseException) -> None:
    """--debug: the traceback, with keys redacted (SDK errors can quote headers)."""
    click.echo(redact("".join(traceback.format_exception(exc))).rstrip(), err=True)


@click.group(cls=ExtractorGroup, context_settings=CONTEXT_SETTINGS, help=__doc__)
@click.version_option(__version__, "--version", prog_name="extractor")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# Imported after `cli` exists: each command module decorates it.
from . import batch, diff, evaluate, extract, gold, prompts, store  # noqa: E402, F401


def main() -> None:
    try:
        cli(prog_name="extractor")
    except BrokenPipeError:  # e.g. `extractor ... | head`
        sys.stderr.close()
        sys.exit(0)
