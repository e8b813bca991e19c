"""The SQLite run store: migrations, idempotent indexing, speaker lookup, `runs list`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from extractor.articles import text_sha256
from extractor.cli import cli
from extractor.errors import ExtractorError
from extractor.schema import ArticleExtraction, Claim, Span
from extractor.store import (
    MIGRATIONS,
    STANCE_CHANGES_SQL,
    default_db_path,
    find_claims,
    index_after_run,
    index_run,
    list_runs,
    open_db,
    schema_version,
)

TEXT = (
    "Kremlin spokesman Dmitry Peskov said Moscow would wait for the official results. "
    "Peskov added that Russia respects the choice of the American people. "
    "The Kremlin spokesman said no call was planned. "
    "Former president Dmitry Medvedev said the election changed nothing. "
    "Anna Peskova, his daughter, said she was in Paris."
)


def claim(speaker: str, evidence: str, stance: str = "neutral", aliases: list[str] | None = None) -> Claim:
    start = TEXT.find(evidence)
    assert start >= 0
    return Claim(
        speaker=speaker, speaker_aliases=aliases or [], speaker_type="person", target="the US election",
        claim=f"{speaker} spoke.", stance=stance, conditions=[], attribution="indirect", evidence=evidence,
        evidence_span=Span(start=start, end=start + len(evidence)), grounding="exact",
    )


def write_run(path: Path, claims: list[Claim], created: str, prompt: str = "claims@v1", failures: int = 0) -> Path:
    path.mkdir(parents=True)
    record = ArticleExtraction(article_id="kremlin", article_sha256=text_sha256(TEXT), claims=claims, prompt=prompt, model="m")
    (path / "extractions.jsonl").write_text(record.model_dump_json() + "\n", encoding="utf-8")
    (path / "failures.jsonl").write_text(
        "".join(json.dumps({"article_id": f"bad{i}", "source": "x", "stage": "input", "reason": "empty file"}) + "\n" for i in range(failures)),
        encoding="utf-8",
    )
    manifest = {
        "run_id": path.name, "created": created, "finished": created, "status": "complete",
        "prompt": {"ref": prompt, "sha256": "ab" * 32}, "model": {"model": "local/test"}, "schema_version": 1,
    }
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


V1_CLAIMS = [
    claim("Dmitry Peskov", "Moscow would wait for the official results", "neutral", aliases=["Peskov", "Kremlin spokesman"]),
    claim("Peskov", "Russia respects the choice of the American people", "support"),
    claim("Kremlin spokesman", "no call was planned", "neutral"),
    claim("Dmitry Medvedev", "the election changed nothing", "oppose", aliases=["Medvedev"]),
    claim("Anna Peskova", "she was in Paris", "neutral"),
]
V2_CLAIMS = [
    claim("Dmitry Peskov", "Moscow would wait for the official results", "oppose"),
    claim("Dmitry Medvedev", "the election changed nothing", "oppose"),
]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store" / "runs.db"
    monkeypatch.setenv("EXTRACTOR_DB", str(path))
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_migrations_from_empty(db: Path) -> None:
    conn = open_db(db)
    try:
        assert schema_version(conn) == len(MIGRATIONS) == 2
        assert {"runs", "articles", "claims", "speaker_names"} <= tables(conn)
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        conn.close()
    # Opening again applies nothing.
    conn = open_db(db)
    assert schema_version(conn) == 2
    conn.close()


def test_migration_2_backfills_speaker_names_of_existing_claims(db: Path) -> None:
    conn = open_db(db, upto=1)
    assert schema_version(conn) == 1 and "speaker_names" not in tables(conn)
    conn.execute(
        "INSERT INTO runs (run_key, run_id, path, articles, failed, claims, manifest_json, indexed_at)"
        " VALUES ('k', 'old', '/old', 1, 0, 1, '{}', 'now')"
    )
    conn.execute("INSERT INTO articles (run_key, article_id, status, claims) VALUES ('k', 'a', 'extracted', 1)")
    conn.execute(
        "INSERT INTO claims (run_key, article_id, claim_index, speaker, speaker_norm, speaker_aliases, speaker_type,"
        " target, claim, stance, conditions, attribution, evidence, grounding) VALUES"
        " ('k', 'a', 0, 'Mr. Dmitry Peskov', 'dmitry peskov', '[\"Kremlin spokesman\"]', 'person', 't', 'c', 'neutral',"
        " '[]', 'direct', 'e', 'exact')"
    )
    conn.close()
    conn = open_db(db)
    assert schema_version(conn) == 2
    names = sorted(tuple(r) for r in conn.execute("SELECT name, last FROM speaker_names"))
    conn.close()
    assert names == [("dmitry peskov", "peskov"), ("kremlin spokesman", "spokesman")]
    assert [r["run_id"] for r in find_claims(db, "Peskov")] == ["old"]


def test_a_newer_database_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ExtractorError, match="newer than this extractor"):
        open_db(db)


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("runs", "articles", "claims", "speaker_names")}
    finally:
        conn.close()


def test_reindexing_a_run_replaces_its_rows(db: Path, tmp_path: Path) -> None:
    run = write_run(tmp_path / "v1", V1_CLAIMS, "2024-06-01T10:00:00+00:00", failures=2)
    first = index_run(db, run)
    assert (first.articles, first.failed, first.claims) == (1, 2, 5)
    before = counts(db)
    assert before == {"runs": 1, "articles": 3, "claims": 5, "speaker_names": 8}
    index_run(db, run)
    assert counts(db) == before
    # The run changed on disk (e.g. resumed): re-indexing reflects it, nothing stale is left.
    record = ArticleExtraction(article_id="kremlin", article_sha256=text_sha256(TEXT), claims=V2_CLAIMS, prompt="claims@v1", model="m")
    (run / "extractions.jsonl").write_text(record.model_dump_json() + "\n", encoding="utf-8")
    (run / "failures.jsonl").write_text("", encoding="utf-8")
    index_run(db, run)
    assert counts(db) == {"runs": 1, "articles": 1, "claims": 2, "speaker_names": 2}
    assert [r["speaker"] for r in find_claims(db, "Anna Peskova")] == []


def test_runs_index_and_list_json(db: Path, tmp_path: Path) -> None:
    v1 = write_run(tmp_path / "runs" / "v1", V1_CLAIMS, "2024-06-01T10:00:00+00:00", failures=1)
    v2 = write_run(tmp_path / "runs" / "v2", V2_CLAIMS, "2024-06-02T10:00:00+00:00", prompt="claims@v2")
    result = invoke("runs", "index", str(v1), str(v2))
    assert result.exit_code == 0, result.output
    assert "Indexed" in result.stdout and "5 claims" in result.stdout
    listed = invoke("runs", "list", "--json")
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert [r["run_id"] for r in runs] == ["v2", "v1"]  # newest first
    assert runs[1] | {"indexed_at": None} == {
        "run_id": "v1", "path": str(v1.resolve()), "created": "2024-06-01T10:00:00+00:00", "finished": "2024-06-01T10:00:00+00:00",
        "status": "complete", "prompt_ref": "claims@v1", "model": "local/test", "articles": 1, "failed": 1, "claims": 5,
        "indexed_at": None,
    }
    table = invoke("runs", "list")
    assert table.exit_code == 0 and "v1" in table.stdout and "claims@v2" in table.stdout
    # --db wins over the environment.
    other = tmp_path / "other.db"
    assert json.loads(invoke("runs", "list", "--json", "--db", str(other)).stdout) == []


def test_runs_list_of_a_missing_database_is_empty(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "absent.db") == []
    assert not (tmp_path / "absent.db").exists()


def test_runs_index_of_a_missing_folder_is_an_error(db: Path, tmp_path: Path) -> None:
    result = invoke("runs", "index", str(tmp_path / "nope"))
    assert result.exit_code == 1 and "no such run folder" in result.stderr


def speakers_found(*args: str) -> list[tuple[str, str]]:
    result = invoke("claims", *args, "--json")
    assert result.exit_code == 0, result.output
    return sorted((r["run_id"], r["evidence"]) for r in json.loads(result.stdout))


@pytest.fixture
def indexed(db: Path, tmp_path: Path) -> dict[str, Path]:
    v1 = write_run(tmp_path / "runs" / "v1", V1_CLAIMS, "2024-06-01T10:00:00+00:00")
    v2 = write_run(tmp_path / "runs" / "v2", V2_CLAIMS, "2024-06-02T10:00:00+00:00", prompt="claims@v2")
    index_run(db, v1)
    index_run(db, v2)
    return {"v1": v1, "v2": v2}


PESKOV_V1 = [
    ("v1", "Moscow would wait for the official results"),
    ("v1", "Russia respects the choice of the American people"),
]


def test_claims_by_speaker_match_aliases_and_surnames(indexed: dict[str, Path]) -> None:
    everywhere = [*PESKOV_V1, ("v2", "Moscow would wait for the official results")]
    # full name finds the surname-only claim; the surname finds the full name
    assert speakers_found("--speaker", "Dmitry Peskov") == sorted(everywhere)
    assert speakers_found("--speaker", "Peskov") == sorted(everywhere)
    assert speakers_found("--speaker", "Mr. Peskov") == sorted(everywhere)
    # an alias ("Kremlin spokesman") finds the claim that lists it, and the claim made under that name
    assert speakers_found("--speaker", "Kremlin spokesman") == [
        ("v1", "Moscow would wait for the official results"), ("v1", "no call was planned"),
    ]
    # a different person with the same first name, or a similar surname, is not Peskov
    assert ("v1", "the election changed nothing") not in speakers_found("--speaker", "Dmitry Peskov")
    assert ("v1", "she was in Paris") not in speakers_found("--speaker", "Peskov")
    assert speakers_found("--speaker", "Nobody Here") == []


def test_claims_filters_by_run_and_stance(indexed: dict[str, Path]) -> None:
    assert speakers_found("--speaker", "Peskov", "--run", "v1") == PESKOV_V1
    assert speakers_found("--speaker", "Peskov", "--run", str(indexed["v2"])) == [("v2", "Moscow would wait for the official results")]
    assert speakers_found("--speaker", "Peskov", "--stance", "support") == [("v1", "Russia respects the choice of the American people")]
    table = invoke("claims", "--speaker", "Peskov")
    assert table.exit_code == 0 and "3 claims by 'Peskov'" in table.stdout


def test_stance_change_query(indexed: dict[str, Path], db: Path) -> None:
    conn = sqlite3.connect(db)
    rows = conn.execute(STANCE_CHANGES_SQL).fetchall()
    conn.close()
    assert rows == [("Dmitry Peskov", "kremlin", "the US election", "v1", "neutral", "v2", "oppose")]


def test_index_after_run_never_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = write_run(tmp_path / "v1", V1_CLAIMS, "2024-06-01T10:00:00+00:00")
    monkeypatch.setenv("EXTRACTOR_DB", "off")
    assert index_after_run(run) is None
    assert default_db_path().name == "runs.db"
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    warning = index_after_run(run, blocker / "runs.db")
    assert warning is not None and warning.startswith("Warning: the run was not indexed")
    monkeypatch.setenv("EXTRACTOR_DB", str(tmp_path / "ok.db"))
    assert index_after_run(run) is None
    assert [r["run_id"] for r in list_runs(tmp_path / "ok.db")] == ["v1"]


def test_default_db_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EXTRACTOR_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "extractor" / "runs.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_db_path() == Path.home() / ".local" / "share" / "extractor" / "runs.db"
