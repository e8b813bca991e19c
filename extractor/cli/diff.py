"""`extractor diff`: compare two runs (or two prompt versions) claim by claim."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console

from ..articles import load_article_texts
from ..cache import DEFAULT_CACHE_DIR
from ..diffing.document import build_diff
from ..diffing.execute import ProviderSettings, default_output_dir, run_prompt_versions
from ..diffing.html import render_html
from ..diffing.render import DEFAULT_DETAIL_ROWS, print_diff, render_json, render_markdown
from ..errors import ExtractorError, UsageError
from ..gold import load_gold
from ..pipeline import ExtractOptions
from ..providers import DEFAULT_MODEL
from ..runs import RunDir, load_predictions, open_run
from ..secrets import register_secret
from ..store import index_after_run
from . import cli
from .evaluate import article_paths

# Options that only make sense when diff runs the extraction itself.
EXTRACTION_OPTIONS = {
    "model_id": "--model", "out_dir": "--output", "base_url": "--base-url", "api_key": "--api-key",
    "cache_dir": "--cache-dir", "no_cache": "--no-cache", "replay_dirs": "--replay-from", "record_dir": "--record",
    "concurrency": "--concurrency", "max_retries": "--max-retries", "timeout": "--timeout",
    "max_attempts": "--max-attempts",
}


def texts_for(runs: list[RunDir], explicit: tuple[Path, ...]) -> dict[str, str]:
    """Article texts: --articles, else both runs' inputs, seeds/ and evals/articles/."""
    paths: list[Path] = []
    for run in runs:
        for path in article_paths(explicit, run.read_manifest()):
            if path not in paths:
                paths.append(path)
    return load_article_texts(paths)


def write_outputs(
    document: dict[str, Any], articles: Any, as_json: bool, markdown: bool, html_path: Path | None, max_rows: int
) -> None:
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(document, articles), encoding="utf-8")
    if as_json:
        click.echo(render_json(document), nl=False)
    elif markdown:
        click.echo(render_markdown(document, max_rows), nl=False)
    else:
        console = Console() if os.isatty(1) else Console(width=120)
        print_diff(document, console, max_rows)
    if html_path is not None:
        click.echo(f"HTML review page: {html_path}", err=True)


@cli.command("diff")
@click.argument("args", nargs=-1, type=click.Path(path_type=Path), metavar="RUN_A RUN_B | PATHS...")
@click.option("--gold", "gold_dir", type=click.Path(path_type=Path), help="Gold folder: adds metric deltas and gold flips.")
@click.option("--articles", multiple=True, type=click.Path(path_type=Path),
              help="Article files or folders (repeatable). Default: the runs' inputs, seeds/, evals/articles/.")
@click.option("--json", "as_json", is_flag=True, help="Print the diff document as JSON.")
@click.option("--markdown", is_flag=True, help="Print a Markdown summary (PR comment).")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the HTML review page to this file.")
@click.option("--max-rows", type=click.IntRange(0), default=DEFAULT_DETAIL_ROWS, show_default=True,
              help="Changed claims listed in the terminal and Markdown views.")
@click.option("--prompts", "prompt_refs", nargs=2, metavar="REF_A REF_B",
              help="Run two prompt versions over PATHS first, then diff them.")
@click.option("-m", "--model", "model_id", envvar="EXTRACTOR_MODEL", default=DEFAULT_MODEL, show_default=True,
              help="With --prompts: the model id (as for extract).")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path),
              help="With --prompts: folder for the two runs (default: a new runs/diff-* folder).")
@click.option("--base-url", help="With --prompts: an OpenAI-compatible server.")
@click.option("--api-key", help="With --prompts: API key (default: $OPENAI_API_KEY).")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=DEFAULT_CACHE_DIR, show_default=True, help="With --prompts: response cache.")
@click.option("--no-cache", is_flag=True, help="With --prompts: neither read nor write the response cache.")
@click.option("--replay-from", "replay_dirs", multiple=True, type=click.Path(path_type=Path),
              help="With --prompts and -m replay: recording folders.")
@click.option("--record", "record_dir", type=click.Path(path_type=Path), help="With --prompts: also store every response here.")
@click.option("--concurrency", type=click.IntRange(1, 512), default=8, show_default=True, help="With --prompts: concurrent model calls.")
@click.option("--max-retries", type=click.IntRange(0, 10), default=2, show_default=True, help="With --prompts: re-asks per unit.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="With --prompts: seconds per remote call (each attempt).")
@click.option("--max-attempts", envvar="EXTRACTOR_MAX_ATTEMPTS", type=click.IntRange(1, 20), default=5, show_default=True,
              help="With --prompts: attempts per remote call on transient errors.")
@click.pass_context
def diff_command(
    ctx: click.Context,
    args: tuple[Path, ...],
    gold_dir: Path | None,
    articles: tuple[Path, ...],
    as_json: bool,
    markdown: bool,
    html_path: Path | None,
    max_rows: int,
    prompt_refs: tuple[str, str] | None,
    model_id: str,
    out_dir: Path | None,
    base_url: str | None,
    api_key: str | None,
    cache_dir: Path,
    no_cache: bool,
    replay_dirs: tuple[Path, ...],
    record_dir: Path | None,
    concurrency: int,
    max_retries: int,
    timeout: float,
    max_attempts: int,
) -> None:
    """Compare run B with run A claim by claim.

    \b
      extractor diff RUN_A RUN_B [--gold DIR] [--json | --markdown] [--html FILE]
      extractor diff --prompts claims@v1 claims@v2 -m MODEL PATHS... [-o DIR]

    \b
    Claims are aligned per article with the eval matcher (lenient: speaker
    agrees and evidence overlap >= 0.3, or overlap >= 0.5). Each row is
    unchanged, changed (stance, target, conditions, speaker or evidence span
    differ), added (only in B) or removed (only in A). With --gold: metric
    deltas overall and per article, and gold claims that one run matches and
    the other misses.
    """
    if as_json and markdown:
        raise UsageError("--json and --markdown cannot be combined")
    if prompt_refs:
        if not args:
            raise UsageError("--prompts needs the articles to run: extractor diff --prompts A B -m MODEL PATHS...")
        register_secret(api_key)
        register_secret(os.environ.get("OPENAI_API_KEY"))
        folder = out_dir or default_output_dir()
        settings = ProviderSettings(
            model_id=model_id, base_url=base_url, api_key=api_key, cache_dir=None if no_cache else cache_dir,
            replay_dirs=replay_dirs, record_dir=record_dir, timeout=timeout, max_attempts=max_attempts,
        )
        err = Console(stderr=True)
        err.print(f"Running {prompt_refs[0]} and {prompt_refs[1]} with {model_id} into {folder}", highlight=False)
        results = run_prompt_versions(prompt_refs, args, folder, settings, ExtractOptions(max_retries, False, concurrency))
        for run_dir, summary in results:
            err.print(
                f"  {run_dir}: {summary.articles} articles, {summary.claims} claims, {summary.failed} failed "
                f"({summary.cached_calls} cached calls)", highlight=False,
            )
            warning = index_after_run(run_dir)
            if warning:
                err.print(warning, highlight=False)
        run_a, run_b = open_run(results[0][0]), open_run(results[1][0])
        if not articles:
            articles = args
    else:
        given = [name for name in EXTRACTION_OPTIONS if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
        if given:
            raise UsageError(f"{EXTRACTION_OPTIONS[given[0]]} only applies with --prompts")
        if len(args) != 2:
            raise UsageError("give two run folders: extractor diff RUN_A RUN_B (or --prompts A B PATHS...)")
        run_a, run_b = open_run(args[0]), open_run(args[1])

    gold = None
    if gold_dir is not None:
        gold = load_gold([gold_dir])
        if not gold:
            raise ExtractorError(f"{gold_dir}: no gold files (*.json)")
    texts = texts_for([run_a, run_b], articles)
    document, diffs = build_diff(run_a, run_b, load_predictions(run_a), load_predictions(run_b), texts, gold, gold_dir)
    write_outputs(document, diffs, as_json, markdown, html_path, max_rows)
