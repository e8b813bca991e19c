"""Crash-safe JSON Lines: whole-line appends, and readers that skip a torn last line.

A run appends one complete line per finished article in a single `write` followed
by `flush`, so a SIGKILL leaves at most one torn final line; `read_jsonl` reports
it and `repair_jsonl` truncates it before a resumed run appends again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError


def dumps_line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


class JsonlWriter:
    """Appends records to a JSONL file, one `write` + `flush` per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, record: Any) -> None:
        self._file.write(dumps_line(record))
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: Path, *, strict: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file.

    A final line without its newline is a torn write from an interrupted run and is
    skipped. Any other unparsable line raises `ConfigError` naming file and line
    when `strict`, and is skipped otherwise.
    """
    with path.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            torn = not line.endswith("\n")
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if torn:
                    return
                if strict:
                    raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                continue
            if not isinstance(record, dict):
                if strict:
                    raise ConfigError(f"{path}:{number}: expected a JSON object")
                continue
            yield record


def repair_jsonl(path: Path) -> int:
    """Truncate a torn final line left by a killed writer; returns bytes removed."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as handle:
        handle.truncate(keep)
    return len(data) - keep


def write_json_atomic(path: Path, document: Any) -> None:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
