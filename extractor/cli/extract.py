"""`extractor extract` and `extractor models list`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..articles import InputProblem
from ..cache import DEFAULT_CACHE_DIR, CachedProvider, ResponseStore
from ..errors import ExtractorError, UsageError
from ..llm import Provider
from ..pipeline import ArticleResult, ExtractOptions, Extractor
from ..prompts import DEFAULT_PROMPT, load_prompt
from ..providers import DEFAULT_MODEL, build_provider, default_replay_stores, known_models
from ..runner import RunSummary, execute_run
from ..runs import RunDir
from ..secrets import register_secret
from ..store import index_after_run
from . import cli


def show_progress() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def _default_run_dir(prompt_ref: str, model_id: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in model_id).strip("-")
    return Path("runs") / f"{stamp}-{prompt_ref.replace('@', '-')}-{slug}"


def summary_table(summary: RunSummary) -> Table:
    data = summary.as_dict()
    table = Table(title=f"Run {summary.run_dir} ({summary.status})", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    grounding = ", ".join(f"{k} {v}" for k, v in data["grounding"].items()) or "-"
    dropped = ", ".join(f"{k} {v}" for k, v in data["dropped"].items()) or "none"
    table.add_row("articles extracted", str(data["articles"]))
    table.add_row("articles failed", f"{data['failed']} (see failures.jsonl)" if data["failed"] else "0")
    if summary.resumed_skipped:
        table.add_row("skipped (already done)", str(summary.resumed_skipped))
    table.add_row("claims kept", str(data["claims"]))
    table.add_row("grounding", grounding)
    table.add_row("claims dropped", dropped)
    usage = data["usage"]
    table.add_row("model calls", f"{usage['calls']} ({data['cached_calls']} from cache)")
    table.add_row("tokens", f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion")
    per = data["seconds_per_article"]
    table.add_row("time", f"{data['seconds']:.1f} s" + (f" ({per:.2f} s per article)" if per is not None else ""))
    return table


@cli.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--model", "model_id", envvar="EXTRACTOR_MODEL", default=DEFAULT_MODEL, show_default=True,
              help="Model id: local/<name>, openai/<model>, replay[/<model>], or a server model with --base-url.")
@click.option("-p", "--prompt", "prompt_ref", default=DEFAULT_PROMPT, show_default=True, help="Prompt version, ID@vN.")
@click.option("-o", "--output", "run_dir", type=click.Path(path_type=Path), help="Run folder (default: runs/<time>-<prompt>-<model>).")
@click.option("--base-url", "base_urls", multiple=True,
              help="An OpenAI-compatible server, e.g. http://localhost:11434/v1. Give it more than once to spread calls over several servers.")
@click.option("--endpoint-concurrency", type=click.IntRange(1, 512), default=8, show_default=True,
              help="With several --base-url: concurrent calls per server (--concurrency defaults to the sum).")
@click.option("--guided-json", is_flag=True, help="Also send the schema as vLLM guided_json (extra_body).")
@click.option("--api-key", help="API key (default: $OPENAI_API_KEY). Never written anywhere.")
@click.option("--concurrency", type=click.IntRange(1, 512), default=8, show_default=True, help="Concurrent model calls (an in-process model runs one at a time).")
@click.option("--max-retries", type=click.IntRange(0, 10), default=2, show_default=True, help="Re-asks with validation feedback per unit.")
@click.option("--keep-unaligned/--drop-unaligned", default=False, show_default=True, help="Keep claims whose evidence cannot be found, marked unaligned.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --output, skipping finished articles.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=DEFAULT_CACHE_DIR, show_default=True, help="Response cache.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option("--record", "record_dir", type=click.Path(path_type=Path), help="Also store every response in this folder (commit it for replay).")
@click.option("--replay-from", "replay_dirs", multiple=True, type=click.Path(path_type=Path), help="Recording folders for -m replay (default: evals/recordings and the cache).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True, help="Seconds per remote call (each attempt).")
@click.option("--max-attempts", envvar="EXTRACTOR_MAX_ATTEMPTS", type=click.IntRange(1, 20), default=5, show_default=True,
              help="Attempts per remote call on 429, 5xx, timeouts and dropped connections (backoff: $EXTRACTOR_BACKOFF_BASE, $EXTRACTOR_BACKOFF_CAP seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def extract_command(
    paths: tuple[Path, ...],
    model_id: str,
    prompt_ref: str,
    run_dir: Path | None,
    base_urls: tuple[str, ...],
    endpoint_concurrency: int,
    guided_json: bool,
    api_key: str | None,
    concurrency: int,
    max_retries: int,
    keep_unaligned: bool,
    resume: bool,
    cache_dir: Path,
    no_cache: bool,
    record_dir: Path | None,
    replay_dirs: tuple[Path, ...],
    timeout: float,
    max_attempts: int,
    as_json: bool,
) -> None:
    """Extract claims from articles: .txt files, folders, or JSONL of {"id","text"}.

    Writes RUN_DIR/manifest.json, extractions.jsonl and failures.jsonl. Exit 1
    when any article failed (the others are still written).
    """
    register_secret(api_key)
    register_secret(os.environ.get("OPENAI_API_KEY"))
    if resume and run_dir is None:
        raise UsageError("--resume needs the run folder: -o RUN_DIR")
    prompt = load_prompt(prompt_ref)
    cache = None if no_cache else ResponseStore(cache_dir)
    provider: Provider
    remote = not model_id.strip().startswith(("replay", "local/"))
    if remote and (len(base_urls) > 1 or (guided_json and base_urls)):
        from ..providers.multi import MultiEndpointProvider, build_openai_provider

        name = model_id.strip().removeprefix("openai/")
        if not name:
            raise UsageError("give a model name, e.g. -m openai/gpt-4o-mini")
        if len(base_urls) > 1:
            provider = MultiEndpointProvider.from_urls(
                name, list(base_urls), model_id=model_id.strip(), api_key=api_key, timeout=timeout,
                max_attempts=max_attempts, concurrency_per_endpoint=endpoint_concurrency, guided_json=guided_json,
            )
            if click.get_current_context().get_parameter_source("concurrency") == ParameterSource.DEFAULT:
                concurrency = provider.max_concurrency or concurrency
        else:
            provider = build_openai_provider(
                name, model_id=model_id.strip(), base_url=base_urls[0], api_key=api_key, timeout=timeout,
                max_attempts=max_attempts, guided_json=True,
            )
    else:
        provider = build_provider(
            model_id,
            base_url=base_urls[0] if base_urls else None,
            api_key=api_key,
            replay_stores=default_replay_stores(list(replay_dirs), cache.root if cache else None),
            timeout=timeout,
            max_attempts=max_attempts,
        )
    if not model_id.startswith("replay"):
        read = [cache] if cache else []
        write = [s for s in (cache, ResponseStore(record_dir) if record_dir else None) if s]
        provider = CachedProvider(provider, read, write)
    elif record_dir:
        provider = CachedProvider(provider, [], [ResponseStore(record_dir)])
    extractor = Extractor(prompt, provider, ExtractOptions(max_retries, keep_unaligned, concurrency))
    run_dir = run_dir or _default_run_dir(prompt.ref, provider.model_id)

    err = Console(stderr=True)
    progress_shown = show_progress()
    progress = Progress(
        TextColumn("[bold]extract"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(), console=err, transient=True, disable=not progress_shown,
    )
    task = progress.add_task("extract", total=None, last="")

    def on_progress(item: ArticleResult | InputProblem) -> None:
        label = item.id if isinstance(item, InputProblem) else item.article.id
        progress.update(task, advance=1, last=label[:30])

    # A disabled rich Progress still prints a blank line to stderr when it stops.
    with progress if progress_shown else contextlib.nullcontext():
        try:
            summary = execute_run(
                extractor, list(paths), run_dir, resume=resume,
                on_progress=on_progress, on_total=lambda n: progress.update(task, total=n),
            )
        except KeyboardInterrupt:
            if progress_shown:
                progress.stop()
            counts = _manifest_counts(run_dir)
            saved = int(counts.get("articles", 0)) + int(counts.get("resumed_skipped", 0))
            click.echo(
                f"Interrupted: {saved} finished article(s) saved in {run_dir} ({counts.get('failed', 0)} failed); "
                f"continue with --resume -o {run_dir}",
                err=True,
            )
            sys.exit(130)
    if warning := index_after_run(run_dir):
        err.print(warning, highlight=False)
    if as_json:
        click.echo(json.dumps({"run_dir": str(run_dir), **summary.as_dict()}, indent=2))
    else:
        Console().print(summary_table(summary))
    if summary.failed:
        sys.exit(1)


def _manifest_counts(run_dir: Path) -> dict[str, Any]:
    """The counts an interrupted run recorded in its manifest (empty if unreadable)."""
    try:
        counts = RunDir(run_dir).read_manifest().get("counts")
    except (ExtractorError, OSError):
        return {}
    return counts if isinstance(counts, dict) else {}


@cli.group("models")
def models_group() -> None:
    """Known models and backends."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def models_list(as_json: bool) -> None:
    """List model ids, their backend, and the key each needs."""
    models = known_models()
    if as_json:
        click.echo(json.dumps([m.__dict__ for m in models], indent=2))
        return
    table = Table("model", "backend", "key", "note")
    for m in models:
        table.add_row(m.id, m.backend, m.needs_key or "-", m.note)
    Console().print(table)


def claims_table(records: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("article", "speaker", "stance", "target", "conditions", "grounding"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            record["article_id"][:18],
            record["speaker"],
            record["stance"],
            record["target"],
            "; ".join(record["conditions"]) or "-",
            record["grounding"],
        )
    return table
