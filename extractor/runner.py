"""One extraction run into a run folder: manifest, streaming writers, resume.

Each finished article is appended to `extractions.jsonl` (or `failures.jsonl`)
at once, so an interrupted run loses nothing that finished; `resume=True`
repairs a torn last line and skips the finished ids. When the run completes,
`extractions.jsonl` is rewritten in input order (atomically) so that two runs
over the same inputs and responses produce identical files whatever the
concurrency.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_core import PydanticSerializationError

from . import __version__
from .articles import Article, InputProblem, read_articles
from .errors import UsageError
from .jsonl import JsonlWriter, dumps_line
from .pipeline import ArticleResult, Extractor, run_extraction
from .runs import RunDir
from .schema import SCHEMA_VERSION, ArticleExtraction, Usage


@dataclass
class RunSummary:
    run_dir: Path
    status: str = "running"
    articles: int = 0
    failed: int = 0
    claims: int = 0
    grounding: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    usage: Usage = field(default_factory=Usage)
    cached_calls: int = 0
    seconds: float = 0.0
    resumed_skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "articles": self.articles,
            "failed": self.failed,
            "claims": self.claims,
            "grounding": dict(sorted(self.grounding.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "usage": self.usage.model_dump(),
            "cached_calls": self.cached_calls,
            "seconds": round(self.seconds, 3),
            # Wall time over articles: the throughput at this concurrency, which
            # is what a user planning a larger run needs.
            "seconds_per_article": round(self.seconds / self.articles, 3) if self.articles else None,
            "resumed_skipped": self.resumed_skipped,
        }


def code_version() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=2, cwd=Path(__file__).parent, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def _failure_record(article_id: str, source: str, stage: str, reason: str) -> dict[str, Any]:
    return {"article_id": article_id, "source": source, "stage": stage, "reason": reason}


# How the runner starts every extraction line (`ArticleExtraction` field order).
_LINE_ARTICLE_ID = re.compile(rb'\{"schema_version":\d+,"article_id":("(?:[^"\\]|\\.)*")')


def _line_article_id(line: bytes) -> str | None:
    """The article id of one JSONL line; None for a line `read_jsonl` would skip.

    A whole line as the runner writes it is read from its first bytes; any
    other line (a torn final line, another layout) is parsed in full.
    """
    match = _LINE_ARTICLE_ID.match(line)
    if match and line.endswith(b"}\n"):
        try:
            value = json.loads(match.group(1))
        except json.JSONDecodeError:
            value = None
        if isinstance(value, str):
            return value
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return str(record.get("article_id")) if isinstance(record, dict) else None


def _reorder(path: Path, order: list[str]) -> None:
    """Rewrite a JSONL of extractions in `order` (unknown ids last), atomically.

    Streaming, so memory does not grow with the run: one pass notes each line's
    rank, byte offset and length (a few integers per article, never the
    records); the lines are then copied in rank order from the old file into a
    temporary file that replaces it. Ties keep file order; lines `read_jsonl`
    skips (blank, unparsable) are dropped. A file already in order is left as is.
    """
    rank = {article_id: i for i, article_id in enumerate(order)}
    unknown = len(rank)
    index: list[tuple[int, int, int]] = []  # (rank, offset, length)
    in_order = True
    previous = -1
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            start, offset = offset, offset + len(line)
            article_id = _line_article_id(line) if line.strip() else None
            if article_id is None or not line.endswith(b"\n"):
                in_order = False  # dropped, or its newline is added
                if article_id is None:
                    continue
            position = rank.get(article_id, unknown)
            in_order = in_order and position >= previous
            previous = position
            index.append((position, start, offset - start))
    if in_order:
        return
    index.sort(key=lambda entry: entry[0])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with path.open("rb") as source, tmp.open("wb") as target:
        for _position, start, length in index:
            source.seek(start)
            line = source.read(length)
            target.write(line if line.endswith(b"\n") else line + b"\n")
        target.flush()
        os.fsync(target.fileno())
    os.replace(tmp, path)


def _extraction_line(extraction: ArticleExtraction) -> str:
    """One extractions.jsonl line. pydantic's own JSON is byte-identical to
    `dumps_line(model_dump(mode="json"))` and ~5x faster; text it cannot encode
    (lone surrogates) goes through `dumps_line`, which escapes it."""
    try:
        return extraction.model_dump_json()
    except PydanticSerializationError:
        return dumps_line(extraction.model_dump(mode="json"))


def execute_run(
    extractor: Extractor,
    inputs: list[Path],
    run_dir: Path,
    *,
    resume: bool = False,
    on_progress: Callable[[ArticleResult | InputProblem], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> RunSummary:
    """Run `extractor` over `inputs` into `run_dir`; returns the summary.

    Raises `UsageError` when `run_dir` already holds a run and `resume` is off.
    KeyboardInterrupt propagates after the manifest is marked "interrupted".
    """
    run = RunDir(run_dir)
    if run.exists() and not resume:
        raise UsageError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another -o")
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = run.read_manifest() if resume else {}
    if previous and previous.get("prompt", {}).get("sha256") not in (None, extractor.prompt.sha256):
        raise UsageError(f"{run_dir}: --resume with a different prompt than the run was started with")
    if previous and previous.get("model", {}).get("model") not in (None, extractor.provider.model_id):
        raise UsageError(f"{run_dir}: --resume with a different model than the run was started with")
    run.repair()
    finished = run.finished_ids() if resume else set()
    # Failures of earlier attempts are retried, so they are cleared here.
    if resume and run.failures_path.exists():
        run.failures_path.unlink()

    summary = RunSummary(run_dir=run_dir, resumed_skipped=len(finished))
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    manifest: dict[str, Any] = {
        "run_id": run_dir.name,
        "created": previous.get("created", started_at),
        "started": started_at,
        "status": "running",
        "prompt": {
            "ref": extractor.prompt.ref,
            "id": extractor.prompt.meta.id,
            "version": extractor.prompt.meta.version,
            "sha256": extractor.prompt.sha256,
            "strategy": extractor.prompt.meta.strategy,
            "changelog": extractor.prompt.meta.changelog,
        },
        "schema_version": SCHEMA_VERSION,
        "model": extractor.provider.describe(),
        "params": extractor.prompt.meta.params.model_dump(),
        "options": {
            "max_retries": extractor.options.max_retries,
            "keep_unaligned": extractor.options.keep_unaligned,
            "concurrency": extractor.options.concurrency,
        },
        "code_version": code_version(),
        "python": platform.python_version(),
        "inputs": [str(p) for p in inputs],
    }
    run.write_manifest(manifest)

    order: list[str] = []
    started = time.perf_counter()
    extractions = JsonlWriter(run.extractions_path)
    failures = JsonlWriter(run.failures_path)

    def on_result(result: ArticleResult) -> None:
        if result.extraction is not None:
            extractions.write_line(_extraction_line(result.extraction))
            summary.articles += 1
            summary.claims += len(result.extraction.claims)
            summary.grounding.update(c.grounding for c in result.extraction.claims)
            summary.dropped.update(result.extraction.dropped)
            summary.usage.add(result.extraction.usage)
        else:
            failures.write(_failure_record(result.article.id, result.article.source, result.stage, result.failure or "failed"))
            summary.failed += 1
        summary.cached_calls += result.cached_calls
        if on_progress:
            on_progress(result)

    def on_problem(problem: InputProblem) -> None:
        failures.write(_failure_record(problem.id, problem.source, "input", problem.reason))
        summary.failed += 1
        if on_progress:
            on_progress(problem)

    def items() -> Any:
        for item in read_articles(inputs):
            if isinstance(item, Article):
                order.append(item.id)
            yield item

    try:
        if on_total:  # inside the try: Ctrl-C while counting a huge folder is an interruption too
            on_total(_count_inputs(inputs))
        asyncio.run(_run_and_close(extractor, items(), on_result, on_problem, finished))
        summary.status = "complete" if summary.failed == 0 else "complete_with_failures"
    except KeyboardInterrupt:
        summary.status = "interrupted"
        raise
    except Exception:  # an ExtractorError, or a bug: the manifest must not say "running"
        summary.status = "failed"
        raise
    finally:
        extractions.close()
        failures.close()
        summary.seconds = time.perf_counter() - started
        if summary.status.startswith("complete"):
            _reorder(run.extractions_path, order)
        manifest.update(
            status=summary.status,
            finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            timings={
                "seconds": round(summary.seconds, 3),
                "seconds_per_article": summary.as_dict()["seconds_per_article"],
            },
            usage=summary.usage.model_dump(),
            counts={
                k: v for k, v in summary.as_dict().items() if k in ("articles", "failed", "claims", "grounding", "dropped", "cached_calls", "resumed_skipped")
            },
        )
        run.write_manifest(manifest)
    return summary


async def _run_and_close(
    extractor: Extractor,
    items: Any,
    on_result: Callable[[ArticleResult], None],
    on_problem: Callable[[InputProblem], None],
    skip: set[str],
) -> None:
    try:
        await run_extraction(extractor, items, on_result, on_problem, skip)
    finally:
        await extractor.provider.aclose()


def _count_inputs(inputs: list[Path]) -> int:
    """A cheap estimate of the number of articles, for the progress bar."""
    total = 0
    for path in inputs:
        try:
            if path.is_dir():
                total += sum(1 for p in path.rglob("*") if p.is_file() and p.suffix.lower() in {".txt", ".md", ".html", ".htm"})
            elif path.suffix.lower() == ".jsonl" and path.is_file():
                with path.open("rb") as handle:
                    total += sum(1 for line in handle if line.strip())
            else:
                total += 1
        except OSError:  # unreadable: the reader records it as a failure
            total += 1
    return total
