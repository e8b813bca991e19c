"""`extractor diff`: the aligner and classifier, gold flips, the document and its renderings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from extractor.articles import text_sha256
from extractor.cli import cli
from extractor.diffing.align import align_claims, changed_fields, diff_article
from extractor.diffing.html import json_for_script
from extractor.evaluation.metrics import evaluate
from extractor.schema import ArticleExtraction, Claim, ClaimDraft, GoldFile, Span

TEXT = (
    "Kremlin, Monday. Vladimir Putin said Moscow will wait for the official results before congratulating anyone. "
    "Putin added that he respects the choice of the American people. "
    "Opposition figure Ivan Petrov said the delay was embarrassing and pointless. "
    "Foreign minister Sergei Lavrov said talks could resume once the sanctions are lifted. "
    "Lavrov also said the embassy would reopen in spring. "
    "Analyst Maria Volkova said the economy was stronger than expected. "
    "The central bank said inflation would fall next year. "
    "Trade unions said the new labour law was unfair to workers. "
    "Mayor Anna Berg said the stadium vote would be delayed."
)


def draft(speaker: str, evidence: str, stance: str = "neutral", **extra: Any) -> dict[str, Any]:
    return {
        "speaker": speaker,
        "speaker_aliases": extra.pop("aliases", []),
        "speaker_type": extra.pop("speaker_type", "person"),
        "target": extra.pop("target", "the election"),
        "claim": extra.pop("claim", f"{speaker} said something."),
        "stance": stance,
        "conditions": extra.pop("conditions", []),
        "attribution": extra.pop("attribution", "indirect"),
        "evidence": evidence,
    }


def grounded(raw: dict[str, Any], text: str = TEXT) -> Claim:
    start = text.find(raw["evidence"])
    assert start >= 0, raw["evidence"]
    return Claim(**raw, evidence_span=Span(start=start, end=start + len(raw["evidence"])), grounding="exact")


WAIT = "Moscow will wait for the official results before congratulating anyone"
RESPECT = "he respects the choice of the American people"
PETROV = "the delay was embarrassing and pointless"
LAVROV = "talks could resume once the sanctions are lifted"
EMBASSY = "the embassy would reopen in spring"
VOLKOVA = "the economy was stronger than expected"
BANK = "inflation would fall next year"
UNIONS = "the new labour law was unfair to workers"
BERG = "the stadium vote would be delayed"

# One row of each class; key -> (claim in A or None, claim in B or None).
CASES: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    "unchanged": (
        draft("Vladimir Putin", WAIT, conditions=["until the official results"], aliases=["Putin"]),
        # a fuller/shorter name, reordered casing and a different paraphrase are not changes
        draft("Putin", WAIT, conditions=["Until the official results."], claim="Putin will wait."),
    ),
    "stance": (draft("Vladimir Putin", RESPECT, "support"), draft("Vladimir Putin", RESPECT, "neutral")),
    "target": (draft("Ivan Petrov", PETROV, "oppose", target="the delay"), draft("Ivan Petrov", PETROV, "oppose", target="the Kremlin")),
    "conditions": (
        draft("Sergei Lavrov", LAVROV, "mixed", conditions=["once the sanctions are lifted"]),
        draft("Sergei Lavrov", LAVROV, "mixed", conditions=[]),
    ),
    "speaker": (draft("Sergei Lavrov", EMBASSY), draft("Anna Berg", EMBASSY)),
    "evidence_span": (
        draft("Maria Volkova", VOLKOVA, "support"),
        draft("Maria Volkova", "said the economy was stronger than expected", "support"),
    ),
    "removed": (draft("Central Bank", BANK, speaker_type="organization"), None),
    "added": (None, draft("Trade unions", UNIONS, "oppose", speaker_type="organization")),
}


def build_runs() -> tuple[list[Claim], list[Claim]]:
    a = [grounded(pair[0]) for pair in CASES.values() if pair[0] is not None]
    b = [grounded(pair[1]) for pair in CASES.values() if pair[1] is not None]
    # B lists its claims in another order: alignment must not depend on it.
    return a, list(reversed(b))


def rows_by_case(rows: list[Any]) -> dict[str, Any]:
    found = {}
    for row in rows:
        claim = row.a or row.b
        for case, pair in CASES.items():
            side = pair[0] if row.a is not None else pair[1]
            if side is not None and side["evidence"] == claim.evidence and side["speaker"] == claim.speaker:
                found[case] = row
    return found


def test_every_change_class_is_classified() -> None:
    a, b = build_runs()
    rows = align_claims(a, b, TEXT)
    assert len(rows) == len(CASES)
    by_case = rows_by_case(rows)
    assert set(by_case) == set(CASES)
    assert by_case["unchanged"].status == "unchanged" and by_case["unchanged"].changed == []
    for field in ("stance", "target", "conditions", "speaker", "evidence_span"):
        row = by_case[field]
        assert row.status == "changed", field
        assert row.changed == [field], (field, row.changed)
    assert by_case["removed"].status == "removed" and by_case["removed"].b is None and by_case["removed"].b_index is None
    assert by_case["added"].status == "added" and by_case["added"].a is None and by_case["added"].a_index is None
    # The paraphrase differs in the unchanged row: listed, but not a change.
    assert "claim" in by_case["unchanged"].other_fields
    # Rows are in text order (by the start of their evidence).
    starts = [min(s[0] for s in (r.a_span, r.b_span) if s) for r in rows]
    assert starts == sorted(starts)


def test_several_fields_change_at_once() -> None:
    a = grounded(draft("Vladimir Putin", RESPECT, "support", target="the vote", conditions=["if asked"]))
    b = grounded(draft("Ivan Petrov", RESPECT, "oppose", target="the count", conditions=[]))
    assert changed_fields(a, b, TEXT) == ["stance", "target", "conditions", "speaker"]


def test_evidence_without_spans_is_compared_by_words() -> None:
    a = Claim(**draft("Ivan Petrov", PETROV), evidence_span=None, grounding="unaligned")
    b = Claim(**draft("Ivan Petrov", "The delay was embarrassing, and pointless!"), evidence_span=None, grounding="unaligned")
    assert changed_fields(a, b, None) == []
    c = Claim(**draft("Ivan Petrov", "the delay was embarrassing"), evidence_span=None, grounding="unaligned")
    assert changed_fields(a, c, None) == ["evidence_span"]


def extraction(article_id: str, claims: list[Claim], prompt: str, text: str = TEXT) -> ArticleExtraction:
    return ArticleExtraction(article_id=article_id, article_sha256=text_sha256(text), claims=claims, prompt=prompt, model="m")


def test_gold_flips_are_marked_per_claim_and_per_gold_claim() -> None:
    gold = [
        ClaimDraft.model_validate(draft("Central Bank", BANK, speaker_type="organization")),  # A finds it, B does not
        ClaimDraft.model_validate(draft("Trade unions", UNIONS, "oppose", speaker_type="organization")),  # only B
        ClaimDraft.model_validate(draft("Vladimir Putin", RESPECT, "support")),  # both
        ClaimDraft.model_validate(draft("Anna Berg", BERG)),  # neither
    ]
    a, b = build_runs()
    article = diff_article("x", extraction("x", a, "p@v1"), extraction("x", b, "p@v2"), TEXT, gold)
    by_case = rows_by_case(article.rows)
    assert (by_case["removed"].gold_a, by_case["removed"].gold_b, by_case["removed"].gold_flip) == (0, None, "lost")
    assert (by_case["added"].gold_a, by_case["added"].gold_b, by_case["added"].gold_flip) == (None, 1, "gained")
    assert (by_case["stance"].gold_a, by_case["stance"].gold_b, by_case["stance"].gold_flip) == (2, 2, None)
    assert all(row.gold_flip is None for case, row in by_case.items() if case not in ("removed", "added"))
    assert (article.gold_lost, article.gold_gained) == ([0], [1])


def test_article_in_one_run_only() -> None:
    a, _ = build_runs()
    only_a = diff_article("x", extraction("x", a, "p@v1"), None, TEXT)
    assert only_a.presence == "only_in_a" and {r.status for r in only_a.rows} == {"removed"}
    only_b = diff_article("x", None, extraction("x", a, "p@v2"), TEXT)
    assert only_b.presence == "only_in_b" and {r.status for r in only_b.rows} == {"added"}


def test_spans_of_another_text_version_are_not_trusted() -> None:
    """Run B saw an edited article: its offsets are dropped, evidence is compared by words."""
    edited = "Breaking. " + TEXT
    a = [grounded(draft("Ivan Petrov", PETROV, "oppose"))]
    b = [grounded(draft("Ivan Petrov", PETROV, "oppose"), edited)]
    article = diff_article("x", extraction("x", a, "p@v1"), extraction("x", b, "p@v2", edited), TEXT)
    assert article.spans_dropped
    assert [r.status for r in article.rows] == ["unchanged"]


# --- the command ------------------------------------------------------------------------

SECOND = "Washington. Joe Biden said he would rejoin the climate agreement on his first day."


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "kremlin.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "articles" / "washington.txt").write_text(SECOND, encoding="utf-8")
    (tmp_path / "gold").mkdir()
    gold = GoldFile(
        article_id="kremlin",
        annotator="tester",
        claims=[
            ClaimDraft.model_validate(draft("Central Bank", BANK, speaker_type="organization")),
            ClaimDraft.model_validate(draft("Trade unions", UNIONS, "oppose", speaker_type="organization")),
            ClaimDraft.model_validate(draft("Vladimir Putin", RESPECT, "support")),
            ClaimDraft.model_validate(draft("Ivan Petrov", PETROV, "oppose", target="the delay")),
        ],
    )
    (tmp_path / "gold" / "kremlin.json").write_text(gold.model_dump_json(indent=2), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    a, b = build_runs()
    biden = grounded(draft("Joe Biden", "he would rejoin the climate agreement on his first day", "support"), SECOND)
    write_run(tmp_path / "run_a", [extraction("kremlin", a, "claims@v1"), extraction("washington", [biden], "claims@v1", SECOND)])
    write_run(tmp_path / "run_b", [extraction("kremlin", b, "claims@v2")])
    return tmp_path


def write_run(path: Path, extractions: list[ArticleExtraction]) -> None:
    path.mkdir()
    (path / "extractions.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in extractions), encoding="utf-8")
    manifest = {"run_id": path.name, "prompt": {"ref": extractions[0].prompt}, "model": {"model": "m"}, "inputs": ["articles"]}
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def run_diff(*args: str) -> Result:
    return CliRunner().invoke(cli, ["diff", *args])


def test_json_document(project: Path) -> None:
    result = run_diff("run_a", "run_b", "--gold", "gold", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"diff_version", "runs", "threshold", "summary", "articles", "metrics"} <= set(doc)
    summary = doc["summary"]
    # kremlin: one row per case; washington (only in A): one removed row.
    assert {k: summary[k] for k in ("unchanged", "changed", "added", "removed")} == {
        "unchanged": 1, "changed": 5, "added": 1, "removed": 2,
    }
    assert summary["changed_fields"] == {"stance": 1, "target": 1, "conditions": 1, "speaker": 1, "evidence_span": 1}
    assert (summary["articles"], summary["articles_only_in_a"], summary["articles_only_in_b"]) == (2, 1, 0)
    assert (summary["gold_lost"], summary["gold_gained"]) == (1, 1)
    assert doc["runs"]["a"]["prompt"] == "claims@v1" and doc["runs"]["b"]["prompt"] == "claims@v2"
    kremlin, washington = doc["articles"]
    assert washington["presence"] == "only_in_a" and washington["has_gold"] is False
    assert kremlin["text_available"] and kremlin["counts"]["changed"] == 5
    stance_row = next(r for r in kremlin["claims"] if r["changed"] == ["stance"])
    assert (stance_row["a"]["stance"], stance_row["b"]["stance"]) == ("support", "neutral")
    assert stance_row["gold"] == {"a": 2, "b": 2, "flip": None}
    assert [g["index"] for g in kremlin["gold_lost"]] == [0] and [g["index"] for g in kremlin["gold_gained"]] == [1]
    flips = {r["gold"]["flip"] for r in kremlin["claims"]}
    assert flips == {None, "lost", "gained"}

    # Metric deltas are the differences of `evaluate` over the gold articles in the runs.
    from extractor.gold import load_gold
    from extractor.runs import RunDir, load_predictions

    gold = load_gold([Path("gold")])
    texts = {"kremlin": TEXT, "washington": SECOND}
    report_a = evaluate(load_predictions(RunDir(Path("run_a"))), gold, texts)
    report_b = evaluate(load_predictions(RunDir(Path("run_b"))), gold, texts)
    overall = doc["metrics"]["overall"]
    assert overall["claims_f1"]["a"] == report_a["claims"]["lenient"]["f1"]
    assert overall["claims_f1"]["b"] == report_b["claims"]["lenient"]["f1"]
    assert overall["claims_f1"]["delta"] == round(report_b["claims"]["lenient"]["f1"] - report_a["claims"]["lenient"]["f1"], 4)
    assert set(overall) == {
        "claims_f1", "claims_precision", "claims_recall", "claims_strict_f1", "stance_accuracy", "conditions_f1", "speakers_f1",
    }
    assert kremlin["metrics"]["claims_recall"] == {"a": 0.75, "b": 0.75, "delta": 0.0}


def test_without_gold_there_are_no_metrics(project: Path) -> None:
    doc = json.loads(run_diff("run_a", "run_b", "--json").stdout)
    assert doc["metrics"] is None
    assert "gold_lost" not in doc["summary"] and "gold" not in doc["articles"][0]["claims"][0]


def test_terminal_and_markdown_views(project: Path) -> None:
    result = run_diff("run_a", "run_b", "--gold", "gold")
    assert result.exit_code == 0, result.output
    assert "Claims, A -> B" in result.stdout and "claims F1 (lenient)" in result.stdout
    assert "stance 'support' -> 'neutral'" in result.stdout
    md = run_diff("run_a", "run_b", "--gold", "gold", "--markdown").stdout
    assert md.startswith("## Run diff")
    assert "| unchanged | changed | added | removed |" in md
    assert "| claims F1 (lenient) |" in md and "<details>" in md
    assert "Gold claims matched by A and missed by B" in md


def test_html_report_is_self_contained_and_escaped(project: Path) -> None:
    result = run_diff("run_a", "run_b", "--gold", "gold", "--html", "out/report.html")
    assert result.exit_code == 0, result.output
    page = (project / "out" / "report.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no network resources"
    blob = re.search(r'<script type="application/json" id="diff-data">(.*?)</script>', page, re.S)
    assert blob and json.loads(blob.group(1))["summary"]["changed"] == 5
    assert page.count("</script>") == 2  # the data blob and the code, nothing from the data


def test_json_for_script_cannot_break_out() -> None:
    hostile = {"t": "</script><script>alert(1)</script><!-- & \u2028"}
    encoded = json_for_script(hostile)
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded and "\u2028" not in encoded
    assert json.loads(encoded) == hostile


def test_usage_errors(project: Path) -> None:
    assert run_diff("run_a").exit_code == 2
    assert run_diff("run_a", "run_b", "--json", "--markdown").exit_code == 2
    result = run_diff("run_a", "run_b", "-o", "somewhere")
    assert result.exit_code == 2 and "--output only applies with --prompts" in result.stderr
    missing = run_diff("run_a", "nope")
    assert missing.exit_code == 1 and "nope: no such run folder" in missing.stderr


# --- diff --prompts ---------------------------------------------------------------------


def test_prompts_runs_both_versions_then_diffs(tmp_path: Path, fake_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACTOR_DB", str(tmp_path / "runs.db"))
    server = fake_server()
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        (inputs / f"art{i}.txt").write_text(
            f"Story {i}\n\nMinister Karl Olsen said the budget is sound for year {i}. "
            f"\"We will cut taxes only after the audit,\" said Lena Holm.\n",
            encoding="utf-8",
        )
    args = [
        "diff", "--prompts", "claims@v1", "claims@v2", "-m", "fake-model", "--base-url", server.base_url,
        str(inputs), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (tmp_path / "out" / "claims-v1" / "extractions.jsonl").exists()
    assert (tmp_path / "out" / "claims-v2" / "manifest.json").exists()
    assert doc["runs"]["a"]["prompt"] == "claims@v1" and doc["runs"]["b"]["prompt"] == "claims@v2"
    assert doc["summary"]["articles"] == 2 and all(a["text_available"] for a in doc["articles"])
    calls = len(server.requests)
    assert calls > 0
    # Both runs were indexed in the run store.
    runs = json.loads(CliRunner().invoke(cli, ["runs", "list", "--json"]).stdout)
    assert sorted(r["prompt_ref"] for r in runs) == ["claims@v1", "claims@v2"]
    # Again into the same folder: the finished runs are reused, no model call.
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert len(server.requests) == calls
    assert json.loads(again.stdout)["summary"] == doc["summary"]


def test_prompts_needs_paths_and_two_versions(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["diff", "--prompts", "claims@v1", "claims@v2", "-m", "replay"])
    assert result.exit_code == 2 and "needs the articles" in result.stderr
    same = CliRunner().invoke(
        cli, ["diff", "--prompts", "claims@v1", "claims@v1", "-m", "replay", "seeds", "-o", str(tmp_path / "o")]
    )
    assert same.exit_code == 2 and "two different prompt versions" in same.stderr
