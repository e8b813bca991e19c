"""`extractor eval`: score a run against gold, with an optional baseline gate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from extractor.cli import cli

from ..articles import load_article_texts
from ..errors import ExtractorError, UsageError
from ..evaluation.baseline import DEFAULT_TOLERANCE, compare_with_baseline, read_baseline
from ..evaluation.baseline import write_baseline as save_baseline
from ..evaluation.metrics import evaluate
from ..evaluation.report import print_report, render_json, render_markdown, report_console
from ..gold import load_gold
from ..runs import load_predictions, open_run

DEFAULT_GOLD = Path("evals/gold")
DEFAULT_BASELINE = Path("evals/baseline.json")
DEFAULT_ARTICLE_DIRS = (Path("seeds"), Path("evals/articles"))


def article_paths(explicit: Sequence[Path], manifest: dict[str, Any] | None = None) -> list[Path]:
    """Where article texts are read from.

    Explicit `--articles` paths win. Otherwise: the run manifest's `inputs`
    (when given), then `seeds/` and `evals/articles/` when they exist.
    """
    if explicit:
        return list(explicit)
    paths: list[Path] = []
    inputs = (manifest or {}).get("inputs")
    if isinstance(inputs, list):
        paths.extend(Path(p) for p in inputs if isinstance(p, str))
    paths.extend(d for d in DEFAULT_ARTICLE_DIRS if d.is_dir())
    return paths


@cli.command("eval")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--gold", "gold_dir", type=click.Path(path_type=Path), default=DEFAULT_GOLD, show_default=True,
    help="Folder (or file) of gold files.",
)
@click.option(
    "--articles", multiple=True, type=click.Path(path_type=Path),
    help="Article files or folders (repeatable). Default: the run's inputs, seeds/, evals/articles/.",
)
@click.option(
    "--only-run-articles", is_flag=True,
    help="Score only the gold articles the run contains (by default a gold article missing from the run counts as all missed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--markdown", is_flag=True, help="Print the report as Markdown (PR comment, CI summary).")
@click.option("--baseline", type=click.Path(path_type=Path), help="Gate against this baseline file.")
@click.option(
    "--tolerance", type=float, default=DEFAULT_TOLERANCE, show_default=True,
    help="Largest allowed drop of a headline metric.",
)
@click.option(
    "--write-baseline", is_flag=True,
    help=f"Write (or update) the baseline from this run instead of gating (default file {DEFAULT_BASELINE}).",
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    run_dir: Path,
    gold_dir: Path,
    articles: tuple[Path, ...],
    only_run_articles: bool,
    as_json: bool,
    markdown: bool,
    baseline: Path | None,
    tolerance: float,
    write_baseline: bool,
) -> None:
    """Score RUN_DIR against hand-labelled gold.

    \b
    Claims are matched one-to-one per article at two thresholds:
      lenient: (speaker agrees and evidence overlap >= 0.3) or overlap >= 0.5
      strict:  speaker agrees and evidence overlap >= 0.6
    Overlap is the character IoU of evidence spans, or token Jaccard when a
    span is unknown. Stance and conditions are scored on lenient pairs.

    \b
    With --baseline, exits 1 when claims lenient F1, claims strict F1,
    speakers F1, stance accuracy or conditions F1 drops by more than
    --tolerance, and lists every gold claim that went from matched to missed.
    """
    if as_json and markdown:
        raise UsageError("--json and --markdown cannot be combined")
    if tolerance < 0:
        raise UsageError("--tolerance must not be negative")
    if write_baseline and baseline is None:
        baseline = DEFAULT_BASELINE
    stored = read_baseline(baseline) if baseline is not None and not write_baseline else None

    run = open_run(run_dir)
    gold = load_gold([gold_dir])
    if not gold:
        raise ExtractorError(f"{gold_dir}: no gold files (*.json)")
    texts = load_article_texts(article_paths(articles, run.read_manifest()))
    predictions = load_predictions(run)
    if only_run_articles:
        gold = {article_id: g for article_id, g in gold.items() if article_id in predictions}
    report = evaluate(predictions, gold, texts)
    report["meta"]["run"] = str(run_dir)
    report["meta"]["gold"] = str(gold_dir)

    failed = False
    if write_baseline and baseline is not None:
        save_baseline(baseline, report)
        report["baseline"] = {"written": True, "path": str(baseline)}
    elif stored is not None and baseline is not None:
        gate = compare_with_baseline(report, stored, tolerance)
        report["baseline"] = {"path": str(baseline), **gate}
        failed = not gate["passed"]

    if as_json:
        click.echo(render_json(report), nl=False)
    elif markdown:
        click.echo(render_markdown(report), nl=False)
    else:
        print_report(report, report_console())
    if failed:
        ctx.exit(1)

