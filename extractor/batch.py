"""The OpenAI Batch API: submit a corpus as JSONL, poll it, collect it into a run folder.

`submit` builds one chat-completion request per unit (passage or chunk) with
the same units, messages, parameters and schema as an online run
(`Extractor.units`, `Prompt.messages`, `Extractor._request`), uploads them
through the Files API and creates one batch per file. Files are split at the
provider's limits (50,000 requests or 200 MB per file by default). The batch
ids are recorded in `RUN_DIR/manifest.json` under `"batch"`, in rounds: the
first submission, then each `--resubmit-failed`.

`collect` downloads every output and error file and runs the normal
`Extractor` (with no re-asks) over the inputs with a provider that serves the
downloaded responses (`BatchResultsProvider`), through `execute_run`, so
`extractions.jsonl` and `failures.jsonl` have exactly the format, validation
and grounding of an online run. A unit whose answer is invalid is not re-asked
here: it is dropped and counted (`invalid_answer`), and an article none of
whose units has a usable answer, or with a unit whose request failed in the
batch, goes to `failures.jsonl`. `resubmit_failed` sends the units of those
articles that have no answer (or all their units, when each was answered but
unusably) as a new round tracked in the same manifest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .articles import Article, read_articles
from .cache import CachedProvider, ResponseStore
from .errors import ConfigError, ExtractorError, ProviderError, UsageError
from .llm import Completion, CompletionRequest, Provider
from .pipeline import ExtractOptions, Extractor
from .prompts import Prompt, load_prompt
from .runner import RunSummary, execute_run
from .runs import RunDir
from .schema import SCHEMA_VERSION
from .secrets import redact, register_secret

if TYPE_CHECKING:  # the SDK costs ~0.6 s to import: only the batch commands pay it
    import openai

CHAT_ENDPOINT: Final = "/v1/chat/completions"
COMPLETION_WINDOW: Final = "24h"
MAX_REQUESTS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 200 * 1024 * 1024
TERMINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass(frozen=True)
class BatchRequest:
    custom_id: str
    article_id: str
    key: str  # the response cache key, as an online run would compute it
    line: bytes  # one JSONL line, newline included


def custom_id(article_id: str, unit_index: int) -> str:
    return f"{article_id}::{unit_index}"


def article_of(custom: str) -> str:
    return custom.rsplit("::", 1)[0]


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The same `response_format` an online call sends (`OpenAICompatibleProvider`)."""
    return {"type": "json_schema", "json_schema": {"name": "claims", "schema": schema, "strict": False}}


def chat_body(api_model: str, request: CompletionRequest) -> dict[str, Any]:
    return {
        "model": api_model,
        "messages": request.message_dicts(),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "response_format": response_format(request.json_schema),
    }


def iter_requests(
    extractor: Extractor, articles: Iterable[Article], api_model: str, only: set[str] | None = None
) -> Iterator[BatchRequest]:
    """One request per unit, exactly as `Extractor.extract_unit` first asks it."""
    for article in articles:
        for index, unit in enumerate(extractor.units(article.text)):
            custom = custom_id(article.id, index)
            if only is not None and custom not in only:
                continue
            request = extractor._request(extractor.prompt.messages(extractor.unit_variables(article.text, unit)))
            line = {"custom_id": custom, "method": "POST", "url": CHAT_ENDPOINT, "body": chat_body(api_model, request)}
            data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
            yield BatchRequest(custom, article.id, request.cache_key(extractor.provider.model_id), data)


def read_inputs(inputs: list[Path]) -> Iterator[Article]:
    """The readable articles; unreadable ones are recorded as failures at collect time."""
    return (item for item in read_articles(inputs) if isinstance(item, Article))


def split_files(requests: Iterable[BatchRequest], max_requests: int, max_bytes: int) -> Iterator[list[BatchRequest]]:
    """Group requests into files of at most `max_requests` lines and `max_bytes` bytes."""
    chunk: list[BatchRequest] = []
    size = 0
    for request in requests:
        if len(request.line) > max_bytes:
            raise UsageError(f"request {request.custom_id} alone is {len(request.line)} bytes, over the {max_bytes}-byte file limit")
        if chunk and (len(chunk) >= max_requests or size + len(request.line) > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(request)
        size += len(request.line)
    if chunk:
        yield chunk


def make_client(base_url: str | None, api_key: str | None, timeout: float = 120.0) -> openai.OpenAI:
    register_secret(api_key)
    register_secret(os.environ.get("OPENAI_API_KEY"))
    key = (api_key or os.environ.get("OPENAI_API_KEY") or "").strip()
    if not key:
        if base_url is None:
            raise ProviderError("the Batch API needs an API key: set OPENAI_API_KEY or pass --api-key")
        key = "not-needed"
    register_secret(key)
    import openai

    return openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=2)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _openai_error() -> type[Exception]:
    import openai

    return openai.OpenAIError


def _api_error(exc: Exception) -> ProviderError:
    return ProviderError(f"Batch API: {redact(' '.join(str(exc).split()))[:300]}")


def submit_round(
    client: openai.OpenAI, requests: Iterable[BatchRequest], *, max_requests: int, max_bytes: int, reason: str
) -> dict[str, Any]:
    """Upload the requests (split into files) and create one batch per file."""
    batches: list[dict[str, Any]] = []
    total = 0
    try:
        for number, chunk in enumerate(split_files(requests, max_requests, max_bytes)):
            data = b"".join(r.line for r in chunk)
            uploaded = client.files.create(file=(f"batch-{number:03d}.jsonl", data, "application/jsonl"), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint=CHAT_ENDPOINT, completion_window=COMPLETION_WINDOW,
            )
            batches.append({
                "id": batch.id, "input_file_id": uploaded.id, "requests": len(chunk), "bytes": len(data),
                "status": batch.status, "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
            })
            total += len(chunk)
    except _openai_error() as exc:
        raise _api_error(exc) from None
    return {"submitted": _now(), "reason": reason, "requests": total, "batches": batches}


def submit(
    client: openai.OpenAI,
    prompt: Prompt,
    model_id: str,
    inputs: list[Path],
    run_dir: Path,
    *,
    base_url: str | None = None,
    max_requests: int = MAX_REQUESTS_PER_FILE,
    max_bytes: int = MAX_BYTES_PER_FILE,
) -> dict[str, Any]:
    """Submit every unit of `inputs`; writes and returns the run manifest."""
    run = RunDir(run_dir)
    if run.exists():
        raise UsageError(f"{run_dir} already holds a run: choose another -o")
    if max_requests < 1 or max_bytes < 1:
        raise UsageError("the per-file limits must be positive")
    api_model = model_id.removeprefix("openai/")
    if not api_model:
        raise UsageError("give a model name, e.g. -m openai/gpt-4o-mini")
    extractor = Extractor(prompt, BatchResultsProvider(model_id, {}, {}))
    round_ = submit_round(
        client, iter_requests(extractor, read_inputs(inputs), api_model),
        max_requests=max_requests, max_bytes=max_bytes, reason="initial",
    )
    if not round_["batches"]:
        raise UsageError("no articles to submit")
    manifest: dict[str, Any] = {
        "run_id": run_dir.name,
        "created": _now(),
        "status": "batch_submitted",
        "prompt": {
            "ref": prompt.ref, "id": prompt.meta.id, "version": prompt.meta.version, "sha256": prompt.sha256,
            "strategy": prompt.meta.strategy, "changelog": prompt.meta.changelog,
        },
        "schema_version": SCHEMA_VERSION,
        "model": {"model": model_id, "backend": "openai-batch", **({"base_url": redact(base_url)} if base_url else {})},
        "params": prompt.meta.params.model_dump(),
        "inputs": [str(p) for p in inputs],
        "batch": {
            "api_model": api_model,
            "base_url": redact(base_url) if base_url else None,
            "endpoint": CHAT_ENDPOINT,
            "completion_window": COMPLETION_WINDOW,
            "max_requests_per_file": max_requests,
            "max_bytes_per_file": max_bytes,
            "rounds": [round_],
        },
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    run.write_manifest(manifest)
    return manifest


def _batch_section(run: RunDir) -> tuple[dict[str, Any], dict[str, Any]]:
    manifest = run.read_manifest()
    section = manifest.get("batch")
    if not isinstance(section, dict) or not section.get("rounds"):
        raise ExtractorError(f"{run.path}: not a batch run (no \"batch\" in manifest.json)")
    return manifest, section


def all_batches(section: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for round_ in section["rounds"] for b in round_["batches"]]


def refresh_status(client: openai.OpenAI, run_dir: Path) -> dict[str, Any]:
    """Ask the API about every batch, record it in the manifest; returns the per-batch and overall progress."""
    run = RunDir(run_dir)
    manifest, section = _batch_section(run)
    overall = {"total": 0, "completed": 0, "failed": 0}
    try:
        for entry in all_batches(section):
            batch = client.batches.retrieve(entry["id"])
            counts = batch.request_counts
            entry["status"] = batch.status
            entry["output_file_id"] = batch.output_file_id
            entry["error_file_id"] = batch.error_file_id
            entry["request_counts"] = (
                {"total": counts.total, "completed": counts.completed, "failed": counts.failed}
                if counts else {"total": entry["requests"], "completed": 0, "failed": 0}
            )
            for name in overall:
                overall[name] += int(entry["request_counts"][name])
    except _openai_error() as exc:
        raise _api_error(exc) from None
    statuses = {b["status"] for b in all_batches(section)}
    overall_status = "completed" if statuses <= {"completed"} else (
        "finished" if statuses <= TERMINAL else "in_progress"
    )
    run.write_manifest(manifest)
    return {"batches": all_batches(section), "overall": {"status": overall_status, **overall}}


def parse_result(record: dict[str, Any]) -> tuple[str, Completion | None, str | None]:
    """(custom_id, completion, error) from one line of an output or error file."""
    custom = str(record.get("custom_id"))
    raw = record.get("response")
    response: dict[str, Any] = raw if isinstance(raw, dict) else {}
    status = response.get("status_code")
    body = response.get("body")
    if status == 200 and isinstance(body, dict) and body.get("choices"):
        try:
            choice = body["choices"][0]
            message = choice.get("message") or {}
            usage = body.get("usage") or {}
            return custom, Completion(
                text=message.get("content") or "",
                finish_reason=choice.get("finish_reason") or "stop",
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                refusal=message.get("refusal"),
                cached=False,
            ), None
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return custom, None, "response is not a chat completion"
    error = record.get("error")
    message = ""
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("code") or "")
    elif isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message", ""))
    prefix = f"HTTP {status}" if status else "error"
    return custom, None, f"{prefix}: {message or 'request failed in the batch'}"[:300]


def download_results(
    client: openai.OpenAI, section: dict[str, Any]
) -> tuple[dict[str, Completion], dict[str, str]]:
    """Every answer and error by custom_id; a later round's answer replaces an earlier one."""
    answers: dict[str, Completion] = {}
    errors: dict[str, str] = {}
    try:
        for entry in all_batches(section):
            for file_id in (entry.get("output_file_id"), entry.get("error_file_id")):
                if not file_id:
                    continue
                for raw in client.files.content(file_id).text.splitlines():
                    if not raw.strip():
                        continue
                    try:
                        record = json.loads(raw)
                    except json.JSONDecodeError:
                        continue
                    if not isinstance(record, dict):
                        continue
                    custom, completion, error = parse_result(record)
                    if completion is not None:
                        answers[custom] = completion
                        errors.pop(custom, None)
                    elif custom not in answers:
                        errors[custom] = error or "failed"
    except _openai_error() as exc:
        raise _api_error(exc) from None
    return answers, errors


class BatchResultsProvider(Provider):
    """Serves downloaded batch responses by cache key; a unit with no answer is a failed call."""

    max_concurrency = 8

    def __init__(self, model_id: str, answers: dict[str, Completion], errors: dict[str, str]) -> None:
        self.model_id = model_id
        self.answers = answers
        self.errors = errors

    async def complete(self, request: CompletionRequest) -> Completion:
        key = request.cache_key(self.model_id)
        if key in self.answers:
            return self.answers[key]
        reason = self.errors.get(key, "no result in the batch output")
        raise ProviderError(f"{self.model_id}: batch request failed: {reason}", transient=True)

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_id, "backend": "openai-batch"}


@dataclass
class CollectResult:
    summary: RunSummary
    resubmitted: dict[str, Any] | None = None


def collect(
    client: openai.OpenAI,
    run_dir: Path,
    *,
    resubmit_failed: bool = False,
    keep_unaligned: bool = False,
    cache: ResponseStore | None = None,
) -> CollectResult:
    """Download the results and write extractions.jsonl / failures.jsonl as an online run would."""
    run = RunDir(run_dir)
    progress = refresh_status(client, run_dir)
    pending = [b["id"] for b in progress["batches"] if b["status"] not in TERMINAL]
    if pending:
        raise ExtractorError(f"{len(pending)} batch(es) not finished yet ({', '.join(pending[:3])}): try again later")
    manifest, section = _batch_section(run)
    prompt = load_prompt(manifest["prompt"]["ref"])
    if prompt.sha256 != manifest["prompt"]["sha256"]:
        raise ConfigError(f"{run_dir}: prompt {prompt.ref} changed since the batch was submitted")
    model_id = str(manifest["model"]["model"])
    inputs = [Path(p) for p in manifest.get("inputs", [])]

    by_custom, errors_by_custom = download_results(client, section)
    planner = Extractor(prompt, BatchResultsProvider(model_id, {}, {}))
    answers: dict[str, Completion] = {}
    errors: dict[str, str] = {}
    for request in iter_requests(planner, read_inputs(inputs), section["api_model"]):
        if request.custom_id in by_custom:
            answers[request.key] = by_custom[request.custom_id]
        elif request.custom_id in errors_by_custom:
            errors.setdefault(request.key, f"{request.custom_id}: {errors_by_custom[request.custom_id]}")
    provider: Provider = BatchResultsProvider(model_id, answers, errors)
    if cache is not None:
        provider = CachedProvider(provider, [], [cache])
    extractor = Extractor(prompt, provider, ExtractOptions(max_retries=0, keep_unaligned=keep_unaligned))
    try:
        summary = execute_run(extractor, inputs, run_dir, resume=True)
    finally:
        after = run.read_manifest()
        section["collected"] = _now()
        after["batch"] = section
        run.write_manifest(after)

    result = CollectResult(summary)
    if resubmit_failed:
        failed = {str(f["article_id"]) for f in run.iter_failures() if f.get("stage") == "model"}
        todo = _units_to_resubmit(planner, inputs, section["api_model"], failed, set(by_custom))
        if todo:
            round_ = submit_round(
                client, iter_requests(planner, read_inputs(inputs), section["api_model"], only=todo),
                max_requests=int(section["max_requests_per_file"]), max_bytes=int(section["max_bytes_per_file"]),
                reason="resubmit-failed",
            )
            after = run.read_manifest()
            after["batch"]["rounds"].append(round_)
            after["status"] = "batch_submitted"
            run.write_manifest(after)
            result.resubmitted = round_
    return result


def _units_to_resubmit(
    planner: Extractor, inputs: list[Path], api_model: str, failed: set[str], answered: set[str]
) -> set[str]:
    """For each failed article: its units without an answer, or all of them when every one was answered."""
    units: dict[str, list[str]] = {}
    for request in iter_requests(planner, (a for a in read_inputs(inputs) if a.id in failed), api_model):
        units.setdefault(request.article_id, []).append(request.custom_id)
    todo: set[str] = set()
    for ids in units.values():
        missing = [c for c in ids if c not in answered]
        todo.update(missing or ids)
    return todo
