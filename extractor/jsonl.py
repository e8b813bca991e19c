"""Crash-safe JSON Lines: whole-line appends, and readers that skip a torn last line.

A run appends one complete line per finished article in a single `write` followed
by `flush`, so a SIGKILL leaves at most one torn final line (cut at any byte, even
inside a UTF-8 sequence); `read_jsonl` skips it and `repair_jsonl` truncates it
before a resumed run appends again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError


def dumps_line(record: Any) -> str:
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    if _encodable(line):
        return line
    # Lone surrogates (an undecodable file name, say) cannot be written as UTF-8:
    # escape them, so the line is still valid JSON that reads back the same.
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class JsonlWriter:
    """Appends records to a JSONL file, one `write` + `flush` per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, record: Any) -> None:
        self.write_line(dumps_line(record))

    def write_line(self, line: str) -> None:
        """Append one serialized record (a newline is added when missing)."""
        self._file.write(line if line.endswith("\n") else line + "\n")
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

    A final line without its newline is a torn write from an interrupted run:
    it is skipped unless it is a whole record (the kill came just before the
    newline). The file is read as bytes, so a line cut inside a UTF-8 sequence
    is a torn line like any other, not a crash. Any other unparsable line
    raises `ConfigError` naming file and line when `strict`, and is skipped
    otherwise.
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            torn = not raw.endswith(b"\n")
            try:
                record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError as exc:
                if torn:
                    return
                if strict:
                    raise ConfigError(f"{path}:{number}: not UTF-8 text (byte {exc.start})") from None
                continue
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


def _is_whole_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line.decode("utf-8")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def repair_jsonl(path: Path) -> int:
    """Make a file killed mid-append end with a whole line; returns bytes removed.

    A torn final line is truncated; a final line that is a whole record but
    lacks its newline (killed just before it) keeps its record and gets the
    newline, so finished work is never thrown away.
    """
    if not path.exists():
        return 0
    with path.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        # Find the start of the last line, reading backwards a block at a time.
        keep = 0
        position = size
        while position > 0:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            found = handle.read(step).rfind(b"\n")
            if found >= 0:
                keep = position + found + 1
                break
        handle.seek(keep)
        tail = handle.read()
        if _is_whole_record(tail):
            handle.seek(size)
            handle.write(b"\n")
            return 0
        handle.truncate(keep)
    return size - keep


def write_json_atomic(path: Path, document: Any) -> None:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
    if not _encodable(text):  # lone surrogates: escape them (see dumps_line)
        text = json.dumps(document, indent=2, ensure_ascii=True, sort_keys=False)
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
