"""`extractor eval`: self-evaluation, empty runs, reports and the baseline gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from extractor.articles import text_sha256
from extractor.cli import cli
from extractor.schema import ArticleExtraction, Claim, ClaimDraft, GoldFile, Span

ARTICLES = {
    "001_kremlin": (
        "Kremlin, 24 November. Russian President Vladimir Putin said Moscow will wait for the "
        "official results before congratulating anyone. Putin added that he respects the choice "
        "of the American people. Opposition figure Ivan Petrov said the delay was embarrassing."
    ),
    "002_washington": (
        "Washington. Joe Biden said he would rejoin the climate agreement on his first day. "
        "The State Department said talks would resume only after a ceasefire."
    ),
}


def claim(speaker: str, evidence: str, stance: str, aliases: list[str] | None = None, **extra: object) -> dict:
    return {
        "speaker": speaker,
        "speaker_aliases": aliases or [],
        "speaker_type": extra.pop("speaker_type", "person"),
        "target": extra.pop("target", "the election"),
        "claim": extra.pop("claim", f"{speaker} said something about the election."),
        "stance": stance,
        "conditions": extra.pop("conditions", []),
        "attribution": "indirect",
        "evidence": evidence,
    }


GOLD = {
    "001_kremlin": [
        claim(
            "Vladimir Putin", "Moscow will wait for the official results before congratulating anyone", "neutral",
            aliases=["Putin"], conditions=["until the official results are announced"],
        ),
        claim("Vladimir Putin", "he respects the choice of the American people", "support", aliases=["Putin"]),
        claim("Ivan Petrov", "the delay was embarrassing", "oppose"),
    ],
    "002_washington": [
        claim("Joe Biden", "he would rejoin the climate agreement on his first day", "support", target="climate agreement"),
        claim(
            "State Department", "talks would resume only after a ceasefire", "mixed",
            speaker_type="government", target="talks", conditions=["only after a ceasefire"],
        ),
    ],
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with articles and gold; the working directory is set to it."""
    articles = tmp_path / "articles"
    gold = tmp_path / "gold"
    articles.mkdir()
    gold.mkdir()
    for article_id, text in ARTICLES.items():
        (articles / f"{article_id}.txt").write_text(text, encoding="utf-8")
        document = GoldFile.model_validate({"article_id": article_id, "annotator": "tester", "claims": GOLD[article_id]})
        (gold / f"{article_id}.json").write_text(document.model_dump_json(indent=2), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_run(path: Path, claims: dict[str, list[dict]], inputs: list[str] | None = None) -> Path:
    """A run folder whose claims are grounded by `text.find` (exact spans)."""
    path.mkdir()
    lines = []
    for article_id, drafts in claims.items():
        text = ARTICLES[article_id]
        grounded = []
        for raw in drafts:
            draft = ClaimDraft.model_validate(raw)
            start = text.find(draft.evidence)
            assert start >= 0
            grounded.append(
                Claim(**draft.model_dump(), evidence_span=Span(start=start, end=start + len(draft.evidence)), grounding="exact")
            )
        record = ArticleExtraction(
            article_id=article_id, article_sha256=text_sha256(text), claims=grounded, prompt="claims@v1", model="test-model"
        )
        lines.append(record.model_dump_json() + "\n")
    (path / "extractions.jsonl").write_text("".join(lines), encoding="utf-8")
    manifest = {"inputs": inputs if inputs is not None else ["articles"]}
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def run_eval(*args: str) -> Result:
    return CliRunner().invoke(cli, ["eval", *args])


def report_of(result: Result) -> dict:
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def without_petrov() -> dict[str, list[dict]]:
    return {"001_kremlin": GOLD["001_kremlin"][:2], "002_washington": GOLD["002_washington"]}


def test_gold_against_itself_scores_one_everywhere(project: Path) -> None:
    write_run(project / "run", GOLD)
    result = run_eval("run", "--gold", "gold", "--json")
    assert result.exit_code == 0, result.output
    report = report_of(result)
    assert {"meta", "claims", "speakers", "stance", "conditions", "grounding", "articles"} <= set(report)
    for level in ("lenient", "strict"):
        section = report["claims"][level]
        assert (section["precision"], section["recall"], section["f1"]) == (1.0, 1.0, 1.0)
        assert section["macro"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
        assert section["ci95"] == [1.0, 1.0]
        assert section["matched"] == 5
    assert report["speakers"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert (report["stance"]["accuracy"], report["stance"]["macro_f1"], report["stance"]["n"]) == (1.0, 1.0, 5)
    assert report["stance"]["confusion"]["mixed"]["mixed"] == 1
    conditions = report["conditions"]
    assert (conditions["precision"], conditions["recall"], conditions["f1"], conditions["content_f1"]) == (1.0,) * 4
    assert (conditions["tp"], conditions["content_n"]) == (2, 2)
    assert (report["grounding"]["exact"], report["grounding"]["fuzzy"], report["grounding"]["unaligned"]) == (1.0, 0.0, 0.0)
    assert all(row["f1"] == 1.0 and row["missed_gold"] == [] for row in report["articles"])
    # Texts came from the manifest's "inputs" (no article is without text).
    assert report["meta"]["without_text"] == []


def test_empty_run_has_zero_recall(project: Path) -> None:
    (project / "run").mkdir()
    (project / "run" / "extractions.jsonl").write_text("", encoding="utf-8")
    result = run_eval("run", "--gold", "gold", "--json")
    assert result.exit_code == 0, result.output
    report = report_of(result)
    assert report["claims"]["lenient"]["recall"] == 0.0
    assert report["claims"]["lenient"]["precision"] == 0.0
    assert report["claims"]["strict"]["f1"] == 0.0
    assert report["meta"]["missing_from_run"] == ["001_kremlin", "002_washington"]
    # Without manifest inputs, seeds/ or evals/articles/ there is no text: still no crash.
    assert report["meta"]["without_text"] == ["001_kremlin", "002_washington"]


def test_table_and_markdown_outputs(project: Path) -> None:
    write_run(project / "run", without_petrov())
    table = run_eval("run", "--gold", "gold")
    assert table.exit_code == 0, table.output
    assert "claims F1 (lenient)" in table.output and "001_kremlin" in table.output
    markdown = run_eval("run", "--gold", "gold", "--markdown")
    assert markdown.exit_code == 0, markdown.output
    assert markdown.output.startswith("## Extraction evaluation")
    # 4 matched of 5 gold / 4 predicted: F1 = 8/9 = 0.889.
    assert "| claims F1 (lenient) | 0.889 |" in markdown.output
    both = run_eval("run", "--gold", "gold", "--json", "--markdown")
    assert both.exit_code == 2
    assert both.output.startswith("Error:")


def test_write_baseline_round_trip(project: Path) -> None:
    write_run(project / "run", GOLD)
    written = run_eval("run", "--gold", "gold", "--baseline", "baseline.json", "--write-baseline")
    assert written.exit_code == 0, written.output
    baseline = json.loads((project / "baseline.json").read_text(encoding="utf-8"))
    assert baseline["metrics"]["claims.lenient.f1"] == 1.0
    assert baseline["articles"]["001_kremlin"]["matched_gold"][2] == "2|Ivan Petrov|the delay was embarrassing"
    gated = run_eval("run", "--gold", "gold", "--baseline", "baseline.json", "--json")
    assert gated.exit_code == 0, gated.output
    gate = report_of(gated)["baseline"]
    assert gate["passed"] is True and gate["regressions"] == [] and gate["lost_claims"] == []


def test_gate_fails_on_a_drop_and_lists_the_lost_claim(project: Path) -> None:
    write_run(project / "full", GOLD)
    write_run(project / "worse", without_petrov())
    assert run_eval("full", "--gold", "gold", "--baseline", "baseline.json", "--write-baseline").exit_code == 0
    result = run_eval("worse", "--gold", "gold", "--baseline", "baseline.json", "--tolerance", "0.02")
    # Lenient F1 1.0 -> 8/9 = 0.889: a drop of 0.111 > 0.02.
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    assert "claims.lenient.f1" in result.output
    assert '001_kremlin gold #2 Ivan Petrov: "the delay was embarrassing"' in result.output

    as_json = run_eval("worse", "--gold", "gold", "--baseline", "baseline.json", "--json")
    assert as_json.exit_code == 1
    gate = report_of(as_json)["baseline"]
    assert [lost["key"] for lost in gate["lost_claims"]] == ["2|Ivan Petrov|the delay was embarrassing"]
    assert "claims.lenient.f1" in [r["metric"] for r in gate["regressions"]]


def test_gate_passes_within_tolerance_but_still_lists_lost_claims(project: Path) -> None:
    write_run(project / "full", GOLD)
    write_run(project / "worse", without_petrov())
    assert run_eval("full", "--gold", "gold", "--baseline", "baseline.json", "--write-baseline").exit_code == 0
    # Headline drops: lenient/strict F1 1 -> 8/9 (0.111); speakers F1, macro over articles:
    # article 1 finds Putin but not Petrov -> P 1, R 1/2, F1 2/3; (2/3 + 1) / 2 = 0.833 (0.167);
    # stance (4 of 4 pairs agree) and conditions unchanged. All drops are within 0.2.
    result = run_eval("worse", "--gold", "gold", "--baseline", "baseline.json", "--tolerance", "0.2", "--json")
    assert result.exit_code == 0, result.output
    gate = report_of(result)["baseline"]
    assert gate["passed"] is True
    assert len(gate["lost_claims"]) == 1


def test_gate_tolerates_a_small_drop(project: Path) -> None:
    write_run(project / "run", GOLD)
    metrics = {
        "claims.lenient.f1": 1.0,
        "claims.strict.f1": 1.0,
        "speakers.f1": 1.0,
        "stance.accuracy": 1.0,
        "conditions.f1": 1.0,
    }
    baseline = {"baseline_version": 1, "metrics": metrics, "articles": {}}
    # Raise a baseline metric above what the run can reach: 1.015 - 1.0 = 0.015 <= 0.02.
    metrics["stance.accuracy"] = 1.015
    (project / "baseline.json").write_text(json.dumps(baseline), encoding="utf-8")
    assert run_eval("run", "--gold", "gold", "--baseline", "baseline.json").exit_code == 0
    metrics["stance.accuracy"] = 1.03  # drop 0.03 > 0.02
    (project / "baseline.json").write_text(json.dumps(baseline), encoding="utf-8")
    assert run_eval("run", "--gold", "gold", "--baseline", "baseline.json").exit_code == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"metrics": {"claims.lenient.f1": "high"}}', "field 'metrics.claims.lenient.f1'"),
        ('{"articles": {}}', "field 'metrics'"),
        ('{\n  "metrics": {,\n}', "baseline.json:2: baseline is not valid JSON"),
        ("[1, 2]", "baseline must be a JSON object"),
    ],
)
def test_malformed_baseline_is_one_error_line(project: Path, content: str, expected: str) -> None:
    write_run(project / "run", GOLD)
    (project / "baseline.json").write_text(content, encoding="utf-8")
    result = run_eval("run", "--gold", "gold", "--baseline", "baseline.json")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "baseline.json" in lines[0] and expected in lines[0]


def test_malformed_gold_is_reported_by_file_and_field(project: Path) -> None:
    write_run(project / "run", GOLD)
    bad = json.loads((project / "gold" / "002_washington.json").read_text(encoding="utf-8"))
    bad["claims"][0]["stance"] = "hostile"
    (project / "gold" / "002_washington.json").write_text(json.dumps(bad), encoding="utf-8")
    result = run_eval("run", "--gold", "gold")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "002_washington.json" in result.output and "claims.0.stance" in result.output


def test_missing_run_folder_is_an_error(project: Path) -> None:
    result = run_eval("nope", "--gold", "gold")
    assert result.exit_code == 1
    assert result.output.startswith("Error: nope: no such run folder")


def test_only_run_articles_scores_a_partial_run(tmp_path: Path) -> None:
    """A run over some of the gold articles: by default the others count as missed."""
    gold_dir = tmp_path / "gold"
    gold_dir.mkdir()
    article = "Title\n\nAnna Berg said the plan is fine."
    (tmp_path / "a1.txt").write_text(article, encoding="utf-8")
    (tmp_path / "a2.txt").write_text(article, encoding="utf-8")
    claim = {
        "speaker": "Anna Berg", "speaker_aliases": [], "speaker_type": "person", "target": "the plan",
        "claim": "c", "stance": "support", "conditions": [], "attribution": "indirect", "evidence": "the plan is fine",
    }
    for article_id in ("a1", "a2"):
        (gold_dir / f"{article_id}.json").write_text(json.dumps({"article_id": article_id, "annotator": "t", "claims": [claim]}))
    start = article.index("the plan is fine")
    predicted = {**claim, "evidence_span": {"start": start, "end": start + 16}, "grounding": "exact"}
    run = tmp_path / "run"
    run.mkdir()
    (run / "extractions.jsonl").write_text(json.dumps({
        "article_id": "a1", "article_sha256": "x", "claims": [predicted], "prompt": "p", "model": "m",
    }) + "\n")
    args = ["eval", str(run), "--gold", str(gold_dir), "--articles", str(tmp_path), "--json"]
    full = json.loads(CliRunner().invoke(cli, args).stdout)
    partial = json.loads(CliRunner().invoke(cli, [*args, "--only-run-articles"]).stdout)
    assert full["claims"]["lenient"]["recall"] == 0.5  # 1 of 2 gold claims
    assert partial["claims"]["lenient"]["recall"] == 1.0
