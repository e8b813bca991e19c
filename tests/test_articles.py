from __future__ import annotations

import json
from pathlib import Path

from extractor.articles import Article, InputProblem, decode_bytes, read_articles, safe_article_id
from extractor.strategies import passage_units, split_sentences


def items(paths: list[Path]) -> tuple[list[Article], list[InputProblem]]:
    found = list(read_articles(paths))
    return [a for a in found if isinstance(a, Article)], [p for p in found if isinstance(p, InputProblem)]


def test_folder_txt_and_jsonl_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Title\n\nHe said hello.", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"id": "j1", "text": "Some text here."}) + "\n", encoding="utf-8")
    articles, problems = items([tmp_path])
    assert [a.id for a in articles] == ["a", "j1"]
    assert problems == []


def test_empty_binary_and_broken_jsonl_are_problems_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "lines.jsonl").write_text('{"id": "ok", "text": "fine text"}\n{"id": broken\n', encoding="utf-8")
    articles, problems = items([tmp_path])
    assert [a.id for a in articles] == ["ok"]
    reasons = {p.id: p.reason for p in problems}
    assert reasons["empty"] == "empty file"
    assert reasons["blob"] == "binary file, not text"
    assert reasons["lines:2"].startswith("broken JSONL line")


def test_cp1251_and_latin1_are_decoded_by_policy() -> None:
    russian = "Песков заявил, что Кремль подождёт официальных итогов."
    assert decode_bytes(russian.encode("cp1251")) == (russian, "cp1251")
    french = "Le ministre a déclaré que l'économie était forte."
    assert decode_bytes(french.encode("latin-1")) == (french, "latin-1")
    assert decode_bytes(b"plain") == ("plain", "utf-8")


def test_html_is_reduced_to_text(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Big news</title><script>var x=1;</script></head>"
        "<body><p>Mayor Berg said &quot;no&quot;.</p><p>Second&nbsp;para.</p></body></html>",
        encoding="utf-8",
    )
    [article], _ = items([tmp_path])
    assert article.text.startswith("Big news")
    assert 'Mayor Berg said "no".' in article.text
    assert "var x" not in article.text


def test_duplicate_ids_and_path_traversal_ids(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text(
        json.dumps({"id": "../../x", "text": "first"}) + "\n" + json.dumps({"id": "../../x", "text": "second"}) + "\n",
        encoding="utf-8",
    )
    articles, problems = items([tmp_path / "in.jsonl"])
    assert [a.id for a in articles] == ["x"]
    assert "/" not in articles[0].id and ".." not in articles[0].id
    assert problems[0].reason.startswith("duplicate id")
    assert safe_article_id("..") == "article"


def test_oversized_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "huge.txt").write_bytes(b"word " * 4_200_000)  # 21 MB
    _, [problem] = items([tmp_path])
    assert problem.reason.startswith("file too large")


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    _, [problem] = items([tmp_path / "nope"])
    assert problem.reason == "no such file or directory"


def test_sentences_keep_abbreviations_together() -> None:
    text = "Mr. Smith said the U.S. plan works. Dr. Jones disagreed."
    spans = [text[s.start : s.end] for s in split_sentences(text)]
    assert spans == ["Mr. Smith said the U.S. plan works.", "Dr. Jones disagreed."]


def test_passages_join_a_quote_that_spans_sentences_but_not_a_new_speaker() -> None:
    text = (
        "Intro line.\n"
        "“We will wait. The results must be official,” Putin said. Peskov said Moscow was ready to cooperate.\n"
        "Nothing to see here.\n"
    )
    units = passage_units(text)
    assert [u.text for u in units] == [
        "“We will wait. The results must be official,” Putin said.",
        "Peskov said Moscow was ready to cooperate.",
    ]
    assert units[1].context == "The results must be official,” Putin said."  # the sentence before


def test_looks_binary_counts_control_bytes_but_not_whitespace() -> None:
    from extractor.articles import looks_binary

    text = b"a" * 950
    assert not looks_binary(text + b"\x01" * 50)  # exactly 5% control bytes
    assert looks_binary(text[:-1] + b"\x01" * 51)  # just over
    assert not looks_binary(text + b"\t\n\x0c\r" * 50)  # tab, newline, form feed, CR are text
    assert not looks_binary(b"x" * 8000 + b"\x00")  # only the first 4,096 bytes are looked at ...
    assert not looks_binary(b"x" * 4096 + b"\x01" * 4000)  # ... for NULs and control bytes alike
    assert not looks_binary(b"")
