"""`extractor batch submit | status | collect`: large corpora through the OpenAI Batch API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from .. import batch as batch_api
from ..cache import DEFAULT_CACHE_DIR, ResponseStore
from ..prompts import DEFAULT_PROMPT, load_prompt
from ..runs import RunDir
from ..store import index_after_run
from . import cli
from .extract import summary_table


@cli.group("batch")
def batch_group() -> None:
    """Submit a corpus to the OpenAI Batch API, poll it, and collect it into a run folder.

    \b
      extractor batch submit seeds/ -m openai/gpt-4o-mini -o runs/b1
      extractor batch status runs/b1
      extractor batch collect runs/b1 [--resubmit-failed]
    """


def _client(run_dir: Path | None, base_url: str | None, api_key: str | None) -> Any:
    if base_url is None and run_dir is not None:
        recorded = RunDir(run_dir).read_manifest().get("batch", {}).get("base_url")
        base_url = recorded if isinstance(recorded, str) and "[REDACTED]" not in recorded else None
    return batch_api.make_client(base_url, api_key)


@batch_group.command("submit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--model", "model_id", required=True, help="openai/<model> (or a model of --base-url).")
@click.option("-p", "--prompt", "prompt_ref", default=DEFAULT_PROMPT, show_default=True, help="Prompt version, ID@vN.")
@click.option("-o", "--output", "run_dir", required=True, type=click.Path(path_type=Path), help="Run folder.")
@click.option("--base-url", help="An OpenAI-compatible server with the Files and Batches endpoints.")
@click.option("--api-key", help="API key (default: $OPENAI_API_KEY). Never written anywhere.")
@click.option("--max-requests-per-file", type=click.IntRange(min=1), default=batch_api.MAX_REQUESTS_PER_FILE,
              show_default=True, help="Split into several batches above this many requests.")
@click.option("--max-bytes-per-file", type=click.IntRange(min=1), default=batch_api.MAX_BYTES_PER_FILE,
              show_default=True, help="Split into several batches above this many bytes.")
@click.option("--json", "as_json", is_flag=True, help="Print the batch record as JSON.")
def submit_command(
    paths: tuple[Path, ...], model_id: str, prompt_ref: str, run_dir: Path, base_url: str | None,
    api_key: str | None, max_requests_per_file: int, max_bytes_per_file: int, as_json: bool,
) -> None:
    """Build one request per passage or chunk, upload it and create the batch(es)."""
    prompt = load_prompt(prompt_ref)
    client = batch_api.make_client(base_url, api_key)
    manifest = batch_api.submit(
        client, prompt, model_id.strip(), list(paths), run_dir, base_url=base_url,
        max_requests=max_requests_per_file, max_bytes=max_bytes_per_file,
    )
    batches = batch_api.all_batches(manifest["batch"])
    if as_json:
        click.echo(json.dumps({"run_dir": str(run_dir), "batches": batches}, indent=2))
        return
    requests = sum(b["requests"] for b in batches)
    click.echo(f"Submitted {requests} request(s) in {len(batches)} batch(es) to {run_dir}:")
    for entry in batches:
        click.echo(f"  {entry['id']}  {entry['requests']} requests  {entry['status']}")
    click.echo(f"Check with: extractor batch status {run_dir}")


@batch_group.command("status")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--base-url", help="Override the server recorded at submit time.")
@click.option("--api-key", help="API key (default: $OPENAI_API_KEY).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def status_command(run_dir: Path, base_url: str | None, api_key: str | None, as_json: bool) -> None:
    """Progress of each batch (status, request counts) and overall."""
    report = batch_api.refresh_status(_client(run_dir, base_url, api_key), run_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    table = Table("batch", "status", "completed", "failed", "total", title=f"Batches of {run_dir}")
    for entry in report["batches"]:
        counts = entry["request_counts"]
        table.add_row(entry["id"], entry["status"], str(counts["completed"]), str(counts["failed"]), str(counts["total"]))
    overall = report["overall"]
    table.add_row("overall", overall["status"], str(overall["completed"]), str(overall["failed"]), str(overall["total"]))
    Console().print(table)


@batch_group.command("collect")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--resubmit-failed", is_flag=True, help="Submit the failed items again as a new batch in the same run.")
@click.option("--keep-unaligned/--drop-unaligned", default=False, show_default=True, help="Keep claims whose evidence cannot be found, marked unaligned.")
@click.option("--base-url", help="Override the server recorded at submit time.")
@click.option("--api-key", help="API key (default: $OPENAI_API_KEY).")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=DEFAULT_CACHE_DIR, show_default=True,
              help="Also store the answers in the response cache (an online rerun is then free).")
@click.option("--no-cache", is_flag=True, help="Do not write the response cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def collect_command(
    run_dir: Path, resubmit_failed: bool, keep_unaligned: bool, base_url: str | None, api_key: str | None,
    cache_dir: Path, no_cache: bool, as_json: bool,
) -> None:
    """Download the results into extractions.jsonl and failures.jsonl (validated and grounded). Exit 1 on failures."""
    result = batch_api.collect(
        _client(run_dir, base_url, api_key), run_dir, resubmit_failed=resubmit_failed,
        keep_unaligned=keep_unaligned, cache=None if no_cache else ResponseStore(cache_dir),
    )
    err = Console(stderr=True)
    if warning := index_after_run(run_dir):
        err.print(warning, highlight=False)
    resubmitted = result.resubmitted
    if as_json:
        extra: dict[str, Any] = {"resubmitted": resubmitted} if resubmitted else {}
        click.echo(json.dumps({"run_dir": str(run_dir), **result.summary.as_dict(), **extra}, indent=2))
    else:
        Console().print(summary_table(result.summary))
        if resubmitted:
            click.echo(f"Re-submitted {resubmitted['requests']} failed request(s) in "
                       f"{len(resubmitted['batches'])} batch(es); collect again when done.")
    if result.summary.failed:
        sys.exit(1)
