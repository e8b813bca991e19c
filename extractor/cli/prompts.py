"""`extractor prompts list | show | diff`, `extractor schema export`, `extractor runs show`."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from ..prompts import list_prompts, load_prompt
from ..runs import open_run
from ..schema import export_schemas
from . import cli
from .extract import claims_table


@cli.group("prompts")
def prompts_group() -> None:
    """Versioned prompt files in prompts/."""


@prompts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def prompts_list(as_json: bool) -> None:
    """List prompt versions with strategy, schema version, hash and changelog."""
    prompts = list_prompts()
    rows: list[dict[str, Any]] = [
        {
            "ref": p.ref,
            "strategy": p.meta.strategy,
            "schema_version": p.meta.schema_version,
            "sha256": p.sha256,
            "changelog": p.meta.changelog,
            "path": str(p.path),
        }
        for p in prompts
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("prompt", "strategy", "schema", "sha256", "changelog")
    for row in rows:
        table.add_row(row["ref"], row["strategy"], f"v{row['schema_version']}", row["sha256"][:12], row["changelog"])
    Console().print(table)


@prompts_group.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print metadata and messages as JSON.")
def prompts_show(ref: str, as_json: bool) -> None:
    """Show one prompt version, e.g. claims@v1."""
    prompt = load_prompt(ref)
    if as_json:
        click.echo(json.dumps({
            "ref": prompt.ref, "sha256": prompt.sha256, "path": str(prompt.path),
            "meta": prompt.meta.model_dump(), "system": prompt.system, "user": prompt.user,
            "examples": [list(e) for e in prompt.examples],
        }, indent=2, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{prompt.ref}[/bold]  sha256 {prompt.sha256}  ({prompt.path})")
    console.print(Syntax(prompt.text, "markdown", word_wrap=True))


@prompts_group.command("diff")
@click.argument("ref_a")
@click.argument("ref_b")
def prompts_diff(ref_a: str, ref_b: str) -> None:
    """Unified text diff of two prompt versions."""
    a, b = load_prompt(ref_a), load_prompt(ref_b)
    lines = difflib.unified_diff(
        a.text.splitlines(keepends=True), b.text.splitlines(keepends=True), fromfile=a.ref, tofile=b.ref
    )
    text = "".join(lines)
    if Console().is_terminal:
        Console().print(Syntax(text, "diff", word_wrap=True))
    else:
        click.echo(text, nl=False)


@cli.group("schema")
def schema_group() -> None:
    """JSON Schemas of the records."""


@schema_group.command("export")
@click.option("-o", "--output", "directory", type=click.Path(path_type=Path), default=Path("schemas"), show_default=True)
def schema_export(directory: Path) -> None:
    """Write the JSON Schemas of this schema version (schemas/*.json)."""
    for path in export_schemas(directory):
        click.echo(str(path))


@cli.group("runs")
def runs_group() -> None:
    """Inspect run folders."""


@runs_group.command("show")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print claims as JSON Lines.")
def runs_show(run_dir: Path, as_json: bool) -> None:
    """Print the claims of a run as a table (or JSONL)."""
    run = open_run(run_dir)
    records = []
    for extraction in run.iter_extractions():
        for claim in extraction.claims:
            records.append({"article_id": extraction.article_id, **claim.model_dump(mode="json")})
    if as_json:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    Console().print(claims_table(records, f"{len(records)} claims in {run_dir}"))
