"""`extractor runs list | index` and `extractor claims`: the SQLite run store."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..schema import STANCES
from ..store import DB_ENV, default_db_path, find_claims, index_run, list_runs
from . import cli
from .prompts import runs_group

DB_HELP = f"Run database (default: ${DB_ENV}, else ~/.local/share/extractor/runs.db)."


def db_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)(function)


def resolve_db(db_path: Path | None) -> Path:
    return db_path if db_path is not None else default_db_path()


def console() -> Console:
    return Console() if Console().is_terminal else Console(width=140)


@runs_group.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as a JSON array.")
def runs_list(db_path: Path | None, as_json: bool) -> None:
    """List indexed runs, newest first."""
    path = resolve_db(db_path)
    runs = list_runs(path)
    if as_json:
        click.echo(json.dumps(runs, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(runs)} runs in {path}", title_justify="left")
    for column in ("run", "created", "status", "prompt", "model", "articles", "failed", "claims", "path"):
        table.add_column(column, overflow="fold", justify="right" if column in ("articles", "failed", "claims") else "left")
    for run in runs:
        table.add_row(
            run["run_id"], run["created"] or "-", run["status"] or "-", run["prompt_ref"] or "-", run["model"] or "-",
            str(run["articles"]), str(run["failed"]), str(run["claims"]), run["path"],
        )
    console().print(table)


@runs_group.command("index")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
def runs_index(run_dirs: tuple[Path, ...], db_path: Path | None) -> None:
    """Index existing run folders (re-indexing a folder replaces its rows)."""
    path = resolve_db(db_path)
    for run_dir in run_dirs:
        result = index_run(path, run_dir)
        click.echo(f"Indexed {run_dir}: {result.articles} articles, {result.failed} failed, {result.claims} claims -> {path}")


@cli.command("claims")
@click.option("--speaker", required=True, help='Speaker name; matches aliases and surnames ("Peskov" finds "Dmitry Peskov").')
@click.option("--run", "run", help="Only this run (run id or run folder).")
@click.option("--stance", type=click.Choice(STANCES), help="Only claims with this stance.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as a JSON array.")
def claims_command(speaker: str, run: str | None, stance: str | None, db_path: Path | None, as_json: bool) -> None:
    """Find a speaker's claims across indexed runs."""
    records = find_claims(resolve_db(db_path), speaker, run=run, stance=stance)
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(records)} claims by {speaker!r}", title_justify="left")
    for column in ("run", "article", "speaker", "stance", "target", "conditions", "evidence"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            r["run_id"], r["article_id"], r["speaker"], r["stance"], r["target"],
            "; ".join(r["conditions"]) or "-", r["evidence"],
        )
    console().print(table)
