"""Reading input articles: .txt files, folders of them, and JSONL of {"id", "text"}.

Every input problem becomes an `InputProblem` (skipped and recorded in
`failures.jsonl`) rather than an exception, so one bad file never stops a run.

Decoding policy: UTF-8 (with or without BOM) first; otherwise cp1251 when the
bytes look Cyrillic, else latin-1. The chosen encoding is recorded on the article.
HTML pages are reduced to their visible text.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

MAX_ARTICLE_BYTES = 2_000_000
ARTICLE_SUFFIXES = {".txt", ".md", ".html", ".htm"}
SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    source: str
    encoding: str = "utf-8"

    @property
    def sha256(self) -> str:
        return text_sha256(self.text)


@dataclass(frozen=True)
class InputProblem:
    id: str
    source: str
    reason: str


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def safe_article_id(raw: str) -> str:
    """An id that is safe as a file name: no separators, no `..`, not empty."""
    cleaned = SAFE_ID.sub("_", raw.replace("/", "_").replace("\\", "_")).strip("._")
    return cleaned or "article"


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode article bytes by the module's policy; returns (text, encoding)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # cp1251 Cyrillic words are runs of high bytes; latin-1 accents sit alone
    # between ASCII letters ("déclaré"). Most high bytes in runs means Cyrillic.
    high = sum(1 for b in data if b >= 0x80)
    in_runs = sum(len(m.group(0)) for m in re.finditer(rb"[\x80-\xff]{3,}", data))
    if high and in_runs / high > 0.6:
        return data.decode("cp1251"), "cp1251"
    return data.decode("latin-1"), "latin-1"


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


def looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return True
    control = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return bool(sample) and control / len(sample) > 0.05


class _TextExtractor(HTMLParser):
    SKIP: ClassVar[set[str]] = {"script", "style", "noscript", "template", "svg", "head"}
    BLOCK: ClassVar[set[str]] = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        body = "".join(self.parts)
        lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in body.splitlines()]
        out = "\n".join(line for line in lines if line)
        title = " ".join("".join(self._title).split())
        if title and not out.startswith(title):
            out = f"{title}\n\n{out}"
        return out


def looks_html(text: str) -> bool:
    head = text[:2000].lower()
    return "<html" in head or "<!doctype html" in head or ("<body" in head and "</" in head)


def html_to_text(text: str) -> str:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return html.unescape(parser.text()) if "&" in parser.text() else parser.text()


def _article_from_bytes(article_id: str, source: str, data: bytes) -> Article | InputProblem:
    if not data.strip():
        return InputProblem(article_id, source, "empty file")
    if len(data) > MAX_ARTICLE_BYTES:
        return InputProblem(
            article_id, source, f"file too large ({len(data):,} bytes > {MAX_ARTICLE_BYTES:,})"
        )
    if looks_binary(data):
        return InputProblem(article_id, source, "binary file, not text")
    text, encoding = decode_bytes(data)
    return _article_from_text(article_id, source, text, encoding)


def _article_from_text(article_id: str, source: str, text: str, encoding: str) -> Article | InputProblem:
    if looks_html(text):
        text = html_to_text(text)
    if not text.strip():
        return InputProblem(article_id, source, "no text after decoding")
    return Article(article_id, text, source, encoding)


def _iter_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not child.name.startswith(".") and (
                child.suffix.lower() in ARTICLE_SUFFIXES or child.suffix.lower() == ".jsonl"
            ):
                yield child
    else:
        yield path


def _read_file(file: Path) -> Article | InputProblem:
    """One article file; its size is checked before it is read, and only regular files are read."""
    article_id, source = safe_article_id(file.stem), str(file)
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):
            return InputProblem(article_id, source, "not a regular file")
        if info.st_size > MAX_ARTICLE_BYTES:
            return InputProblem(
                article_id, source, f"file too large ({info.st_size:,} bytes > {MAX_ARTICLE_BYTES:,})"
            )
        data = file.read_bytes()
    except OSError as exc:
        return InputProblem(article_id, source, f"unreadable: {exc.strerror or exc}")
    return _article_from_bytes(article_id, source, data)


def _read_jsonl_articles(path: Path) -> Iterator[Article | InputProblem]:
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            yield InputProblem(safe_article_id(path.stem), str(path), "not a regular file")
            return
        handle = path.open("rb")
    except OSError as exc:
        yield InputProblem(safe_article_id(path.stem), str(path), f"unreadable: {exc.strerror or exc}")
        return
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                yield InputProblem(f"{path.stem}:{number}", where, f"broken JSONL line ({exc})")
                continue
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                yield InputProblem(f"{path.stem}:{number}", where, 'line lacks a string "text" field')
                continue
            raw_id = str(record.get("id") or f"{path.stem}-{number}")
            article_id = safe_article_id(raw_id)
            # A lone surrogate escape ("\ud800") is not text: it could not be written out.
            text = _LONE_SURROGATE.sub("\ufffd", record["text"])
            if len(text.encode("utf-8")) > MAX_ARTICLE_BYTES:
                yield InputProblem(article_id, where, "text too large")
                continue
            yield _article_from_text(article_id, where, text, "utf-8")


def read_articles(paths: list[Path]) -> Iterator[Article | InputProblem]:
    """Yield every article (or problem) under `paths`, in a stable order.

    Duplicate ids: the first wins; later ones become problems naming the first source.
    """
    seen: dict[str, str] = {}
    for root in paths:
        if not root.exists():
            yield InputProblem(safe_article_id(root.name), str(root), "no such file or directory")
            continue
        for file in _iter_files(root):
            items: Iterator[Article | InputProblem]
            if file.suffix.lower() == ".jsonl":
                items = _read_jsonl_articles(file)
            else:
                items = iter([_read_file(file)])
            for item in items:
                if isinstance(item, Article):
                    if item.id in seen:
                        yield InputProblem(item.id, item.source, f"duplicate id (first seen in {seen[item.id]})")
                        continue
                    seen[item.id] = item.source
                yield item


def load_article_texts(paths: list[Path]) -> dict[str, str]:
    """id -> text for every readable article under `paths` (problems are ignored)."""
    return {a.id: a.text for a in read_articles(paths) if isinstance(a, Article)}
