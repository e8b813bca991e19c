"""`extractor gold`: validate, draft and agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from extractor.articles import text_sha256
from extractor.cli import cli
from extractor.gold import draft_gold, validate_gold
from extractor.schema import ArticleExtraction, Claim, GoldFile, Span

TEXT = (
    "Moscow. Russian President Vladimir Putin said Russia will wait for the official results. "
    "Ivan Petrov called the delay embarrassing. Anna Smirnova said she supports the decision."
)


def claim(speaker: str, evidence: str, stance: str = "neutral", **extra: object) -> dict:
    return {
        "speaker": speaker,
        "speaker_aliases": extra.pop("aliases", []),
        "speaker_type": "person",
        "target": "the election",
        "claim": extra.pop("claim", f"{speaker} commented on the election."),
        "stance": stance,
        "conditions": [],
        "attribution": "indirect",
        "evidence": evidence,
    }


GOOD_CLAIMS = [
    claim("Vladimir Putin", "Russia will wait for the official results", aliases=["Putin"]),
    claim("Ivan Petrov", "called the delay embarrassing", "oppose"),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "001_moscow.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "gold").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_gold(folder: Path, article_id: str, claims: list[dict], stem: str | None = None, annotator: str = "a") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem or article_id}.json"
    path.write_text(
        json.dumps({"article_id": article_id, "annotator": annotator, "claims": claims}, indent=2), encoding="utf-8"
    )
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


# --- validate -----------------------------------------------------------------------


def test_valid_gold_passes(project: Path) -> None:
    write_gold(project / "gold", "001_moscow", GOOD_CLAIMS)
    result = invoke("gold", "validate", "gold", "--articles", "articles")
    assert result.exit_code == 0, result.output
    assert "1 gold file(s) OK." in result.output


def test_validate_reports_every_problem_by_file_and_field(project: Path) -> None:
    gold = project / "gold"
    write_gold(gold, "001_moscow", [*GOOD_CLAIMS, claim("Anna Smirnova", "she fully supports the decision", "support")])
    write_gold(gold / "second", "001_moscow", [claim("Anna Smirnova", "she supports the decision", "hostile")])
    write_gold(gold, "001_moscow", GOOD_CLAIMS, stem="002_renamed")
    result = invoke("gold", "validate", "gold", "--articles", "articles")
    assert result.exit_code == 1
    out = result.output
    # Non-verbatim evidence ("fully" is not in the article).
    assert "gold/001_moscow.json: field claims.2.evidence: not a verbatim substring" in out
    # A stance outside support/oppose/neutral/mixed.
    assert "gold/second/001_moscow.json: field claims.0.stance:" in out
    # article_id differs from the file stem, and the id is used by two files.
    assert "gold/002_renamed.json: field article_id: '001_moscow' differs from the file name stem" in out
    assert "field article_id: duplicate id '001_moscow'" in out


def test_validate_reports_broken_json_with_its_line(project: Path) -> None:
    (project / "gold" / "001_moscow.json").write_text(
        '{\n  "article_id": "001_moscow",\n  "annotator": "a"\n  "claims": []\n}\n', encoding="utf-8"
    )
    result = invoke("gold", "validate", "gold", "--articles", "articles")
    assert result.exit_code == 1
    # The missing comma after "a" is detected where the next key starts: line 4.
    assert "gold/001_moscow.json: line 4, column 3: invalid JSON" in result.output


def test_validate_flags_duplicate_claims_and_missing_article(project: Path) -> None:
    write_gold(project / "gold", "001_moscow", [GOOD_CLAIMS[0], GOOD_CLAIMS[0]])
    write_gold(project / "gold", "009_unknown", GOOD_CLAIMS[:1])
    _, problems = validate_gold([project / "gold"], {"001_moscow": TEXT})
    messages = [str(p) for p in problems]
    assert any("001_moscow.json: field claims.1: duplicates claims.0" in m for m in messages)
    assert any("009_unknown.json: no article text found for '009_unknown'" in m for m in messages)
    assert len(messages) == 2


def test_validate_without_gold_files_is_an_error(project: Path) -> None:
    result = invoke("gold", "validate", "gold", "--articles", "articles")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no gold files")


# --- draft --------------------------------------------------------------------------------


def make_run(folder: Path) -> Path:
    folder.mkdir()
    start = TEXT.find("Russia will wait")
    grounded = Claim.model_validate(
        {
            **claim("Vladimir Putin", "Russia will wait for official results"),  # model's paraphrased evidence
            "evidence_span": Span(start=start, end=start + len("Russia will wait for the official results")),
            "grounding": "fuzzy",
        }
    )
    unaligned = Claim.model_validate(
        {**claim("Ivan Petrov", "the delay is shameful", "oppose"), "evidence_span": None, "grounding": "unaligned"}
    )
    record = ArticleExtraction(
        article_id="001_moscow", article_sha256=text_sha256(TEXT), claims=[grounded, unaligned],
        prompt="claims@v1", model="qwen-1.5b",
    )
    (folder / "extractions.jsonl").write_text(record.model_dump_json() + "\n", encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({"inputs": ["articles"]}), encoding="utf-8")
    return folder


def test_draft_prefills_gold_and_never_overwrites_without_force(project: Path) -> None:
    make_run(project / "run")
    result = invoke("gold", "draft", "run", "-o", "drafts")
    assert result.exit_code == 0, result.output
    drafted = GoldFile.model_validate_json((project / "drafts" / "001_moscow.json").read_text(encoding="utf-8"))
    assert drafted.annotator == "draft:qwen-1.5b"
    # Grounded evidence is replaced by the article's own text at the span; unaligned is kept.
    assert [c.evidence for c in drafted.claims] == ["Russia will wait for the official results", "the delay is shameful"]

    (project / "drafts" / "001_moscow.json").write_text("corrected by hand", encoding="utf-8")
    again = invoke("gold", "draft", "run", "-o", "drafts")
    assert again.exit_code == 0
    assert "Skipped 1 existing file(s)" in again.output
    assert (project / "drafts" / "001_moscow.json").read_text(encoding="utf-8") == "corrected by hand"
    forced = invoke("gold", "draft", "run", "-o", "drafts", "--force")
    assert forced.exit_code == 0
    assert "Wrote 1 draft(s)" in forced.output
    assert json.loads((project / "drafts" / "001_moscow.json").read_text(encoding="utf-8"))["annotator"] == "draft:qwen-1.5b"


def test_draft_gold_without_text_keeps_model_evidence() -> None:
    record = ArticleExtraction(
        article_id="x", article_sha256="0", prompt="p", model="m",
        claims=[Claim.model_validate({**claim("A", "said so"), "evidence_span": Span(start=0, end=7), "grounding": "exact"})],
    )
    assert draft_gold(record, None).claims[0].evidence == "said so"
    # A text other than the one the run saw (sha256 differs) is not used either.
    assert draft_gold(record, "A text that changed").claims[0].evidence == "said so"


# --- agree --------------------------------------------------------------------------------


def test_agree_reports_claim_f1_stance_accuracy_and_kappa(project: Path) -> None:
    a_claims = [
        claim("Vladimir Putin", "Russia will wait for the official results", "neutral"),
        claim("Ivan Petrov", "called the delay embarrassing", "oppose"),
        claim("Anna Smirnova", "she supports the decision", "support"),
    ]
    b_claims = [
        claim("Putin", "Russia will wait for the official results", "neutral"),
        claim("Petrov", "called the delay embarrassing", "neutral"),
        claim("Anna Smirnova", "she supports the decision", "support"),
        claim("Vladimir Putin", "Moscow", "neutral"),
    ]
    write_gold(project / "a", "001_moscow", a_claims)
    write_gold(project / "b", "001_moscow", b_claims, annotator="b")
    write_gold(project / "b", "002_other", [], annotator="b")
    result = invoke("gold", "agree", "a", "b", "--articles", "articles", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # A is gold: 3 claims; B has 4; 3 match -> P 3/4, R 3/3, F1 = 2·0.75·1 / 1.75 = 6/7 = 0.8571.
    assert report["claims"]["lenient"] == {"matched": 3, "precision": 0.75, "recall": 1.0, "f1": 0.8571}
    assert report["only_in_b"] == ["002_other"] and report["articles"] == 1
    # Matched stances (A, B): (neutral, neutral), (oppose, neutral), (support, support) -> accuracy 2/3.
    # p_o = 2/3; A: neutral 1, oppose 1, support 1; B: neutral 2, support 1.
    # p_e = (1·2 + 1·0 + 1·1) / 9 = 1/3; kappa = (2/3 - 1/3) / (2/3) = 0.5.
    assert report["stance"] == {"n": 3, "accuracy": 0.6667, "kappa": 0.5}

    table = invoke("gold", "agree", "a", "b", "--articles", "articles")
    assert table.exit_code == 0, table.output
    assert "stance kappa" in table.output and "Only in B" in table.output
