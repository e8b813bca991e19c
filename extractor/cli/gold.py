"""`extractor gold`: validate gold files, draft them from a run, measure agreement."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from extractor.cli import cli

from ..articles import load_article_texts
from ..errors import ExtractorError
from ..evaluation.report import fmt, report_console
from ..gold import agreement, load_gold, validate_gold, write_drafts
from ..runs import load_predictions, open_run
from .evaluate import DEFAULT_GOLD, article_paths

ARTICLES_HELP = "Article files or folders (repeatable). Default: seeds/ and evals/articles/."


@cli.group("gold")
def gold_group() -> None:
    """Validate gold files, draft them from a run, and compare two annotators."""


@gold_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--articles", multiple=True, type=click.Path(path_type=Path), help=ARTICLES_HELP)
@click.pass_context
def validate_command(ctx: click.Context, paths: tuple[Path, ...], articles: tuple[Path, ...]) -> None:
    """Check gold files (default evals/gold); print every problem, exit 1 if any.

    \b
    Checks: valid JSON (line and column of a syntax error); every field valid;
    article_id equals the file stem and is unique; no duplicate claims; no
    blank speaker/claim/evidence; every evidence verbatim in its article.
    """
    texts = load_article_texts(article_paths(articles))
    checked, problems = validate_gold(list(paths) or [DEFAULT_GOLD], texts)
    if not checked:
        raise ExtractorError(f"no gold files (*.json) in {', '.join(map(str, paths or [DEFAULT_GOLD]))}")
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s) in {checked} gold file(s).", err=True)
        ctx.exit(1)
    click.echo(f"{checked} gold file(s) OK.")


@gold_group.command("draft")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the drafts.")
@click.option(
    "--articles", multiple=True, type=click.Path(path_type=Path),
    help="Article files or folders (repeatable). Default: the run's inputs, seeds/, evals/articles/.",
)
@click.option("--force", is_flag=True, help="Overwrite existing gold files.")
def draft_command(run_dir: Path, out_dir: Path, articles: tuple[Path, ...], force: bool) -> None:
    """Pre-fill gold files from RUN_DIR for a person to correct.

    Drafts carry annotator "draft:<model>"; grounded evidence is copied from
    the article text at its span. Existing files are kept unless --force.
    """
    run = open_run(run_dir)
    predictions = load_predictions(run)
    texts = load_article_texts(article_paths(articles, run.read_manifest()))
    written, skipped = write_drafts(predictions.values(), texts, out_dir, force=force)
    click.echo(f"Wrote {len(written)} draft(s) to {out_dir}.")
    if skipped:
        click.echo(f"Skipped {len(skipped)} existing file(s) (use --force to overwrite): "
                   + ", ".join(p.name for p in skipped))


@gold_group.command("agree")
@click.argument("gold_a", type=click.Path(path_type=Path))
@click.argument("gold_b", type=click.Path(path_type=Path))
@click.option("--articles", multiple=True, type=click.Path(path_type=Path), help=ARTICLES_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def agree_command(gold_a: Path, gold_b: Path, articles: tuple[Path, ...], as_json: bool) -> None:
    """Agreement of annotator GOLD_B with GOLD_A (A treated as gold).

    Claims are matched with the evaluation matcher on articles both annotated;
    reports claim P/R/F1 (lenient and strict) and, on lenient matched pairs,
    stance accuracy and Cohen's kappa.
    """
    texts = load_article_texts(article_paths(articles))
    result = agreement(load_gold([gold_a]), load_gold([gold_b]), texts)
    result["a"], result["b"] = str(gold_a), str(gold_b)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Agreement of {gold_b} with {gold_a} ({result['articles']} articles)", title_justify="left")
    for column in ("metric", "value", "detail"):
        table.add_column(column, justify="right" if column == "value" else "left")
    claims = result["claims"]
    for level in ("lenient", "strict"):
        c = claims[level]
        table.add_row(
            f"claims F1 ({level})", fmt(c["f1"]),
            f"P {fmt(c['precision'])} R {fmt(c['recall'])}; {c['matched']} matched of {claims['a']} (A) / {claims['b']} (B)",
        )
    stance = result["stance"]
    table.add_row("stance accuracy", fmt(stance["accuracy"]), f"{stance['n']} matched pairs")
    table.add_row("stance kappa", fmt(stance["kappa"]), "Cohen's kappa")
    console = report_console()
    console.print(table)
    for side in ("a", "b"):
        if result[f"only_in_{side}"]:
            console.print(
                f"Only in {side.upper()} (not compared): {', '.join(result[f'only_in_{side}'])}",
                markup=False, highlight=False,
            )
