"""The run folder: `manifest.json`, `extractions.jsonl`, `failures.jsonl`.

`extractions.jsonl` holds one `ArticleExtraction` per finished article, appended
as each article finishes. `failures.jsonl` holds one `{"article_id", "source",
"stage", "reason"}` per article that could not be read or extracted. The manifest
is rewritten atomically at start and end of a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ConfigError, ExtractorError
from .jsonl import read_jsonl, repair_jsonl, write_json_atomic
from .schema import ArticleExtraction

MANIFEST = "manifest.json"
EXTRACTIONS = "extractions.jsonl"
FAILURES = "failures.jsonl"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def extractions_path(self) -> Path:
        return self.path / EXTRACTIONS

    @property
    def failures_path(self) -> Path:
        return self.path / FAILURES

    def exists(self) -> bool:
        return self.manifest_path.exists() or self.extractions_path.exists()

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {}
        try:
            document = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{self.manifest_path}:{exc.lineno}: manifest is not valid JSON ({exc.msg})"
            ) from None
        if not isinstance(document, dict):
            raise ConfigError(f"{self.manifest_path}: manifest must be a JSON object")
        return document

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.manifest_path, manifest)

    def iter_extractions(self) -> Iterator[ArticleExtraction]:
        """Yield the run's extractions; a torn final line (killed run) is skipped."""
        if not self.extractions_path.exists():
            return
        for number, record in enumerate(read_jsonl(self.extractions_path), start=1):
            try:
                yield ArticleExtraction.model_validate(record)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"])
                raise ConfigError(
                    f"{self.extractions_path}: record {number}: {field}: {first['msg']}"
                ) from None

    def iter_failures(self) -> Iterator[dict[str, Any]]:
        if self.failures_path.exists():
            yield from read_jsonl(self.failures_path)

    def finished_ids(self) -> set[str]:
        return {e.article_id for e in self.iter_extractions()}

    def repair(self) -> None:
        """Drop torn final lines so a resumed run appends to whole lines."""
        repair_jsonl(self.extractions_path)
        repair_jsonl(self.failures_path)


def open_run(path: Path) -> RunDir:
    """A run folder that must already hold a run (for eval, diff, gold draft)."""
    run = RunDir(path)
    if not path.is_dir():
        raise ExtractorError(f"{path}: no such run folder")
    if not run.extractions_path.exists():
        raise ExtractorError(f"{path}: not a run folder (no {EXTRACTIONS})")
    return run


def load_predictions(run: RunDir) -> dict[str, ArticleExtraction]:
    """article_id -> extraction; a later line for the same id replaces an earlier one."""
    return {e.article_id: e for e in run.iter_extractions()}
