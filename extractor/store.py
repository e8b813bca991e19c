"""The run store: every run indexed in a local SQLite database (runs, articles, claims).

Location: `--db PATH`, else `$EXTRACTOR_DB`, else
`$XDG_DATA_HOME/extractor/runs.db` (default `~/.local/share/extractor/runs.db`).
`EXTRACTOR_DB=off` turns off the automatic indexing after `extractor extract`.

The schema evolves only through `MIGRATIONS`, applied in order; the number
applied is kept in `PRAGMA user_version`, so opening a database brings it up
to date and a database from a newer version is refused. Each migration runs
in one transaction together with its `user_version` bump.

Tables (after all migrations):

- `runs(run_key, run_id, path, created, finished, status, prompt_ref,
  prompt_sha256, model, schema_version, code_version, articles, failed,
  claims, manifest_json, indexed_at)`. `run_key` (and `path`) is the run
  folder's resolved path, so re-indexing a folder replaces its rows
  (`index_run` is idempotent).
- `articles(run_key, article_id, status, article_sha256, prompt, model,
  claims, prompt_tokens, completion_tokens, calls, failure_stage,
  failure_reason)`: status `extracted` or `failed`.
- `claims(id, run_key, article_id, claim_index, speaker, speaker_norm,
  speaker_aliases, speaker_type, target, claim, stance, conditions,
  attribution, evidence, span_start, span_end, grounding)`. `speaker_norm`
  is `normalize_name(speaker)` joined by spaces; aliases and conditions are
  JSON arrays.
- `speaker_names(claim_id, name, last)`: every normalised name (speaker and
  aliases) of a claim with its last word, for alias- and surname-aware lookup.

Deleting a run cascades to its articles, claims and speaker names.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ExtractorError
from .evaluation.matching import name_sets_agree, normalize_name
from .runs import open_run
from .schema import ArticleExtraction

DB_ENV = "EXTRACTOR_DB"
DISABLED = "off"

Migration = str | Callable[[sqlite3.Connection], None]


def default_db_path() -> Path:
    """`$EXTRACTOR_DB`, else `$XDG_DATA_HOME/extractor/runs.db` (~/.local/share by default)."""
    configured = os.environ.get(DB_ENV)
    if configured and configured.lower() != DISABLED:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "extractor" / "runs.db"


# --- migrations ---------------------------------------------------------------------

MIGRATION_1 = """
CREATE TABLE runs (
    run_key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    path TEXT NOT NULL,
    created TEXT,
    finished TEXT,
    status TEXT,
    prompt_ref TEXT,
    prompt_sha256 TEXT,
    model TEXT,
    schema_version INTEGER,
    code_version TEXT,
    articles INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    claims INTEGER NOT NULL,
    manifest_json TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX runs_run_id ON runs(run_id);
CREATE TABLE articles (
    run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    status TEXT NOT NULL,
    article_sha256 TEXT,
    prompt TEXT,
    model TEXT,
    claims INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    calls INTEGER,
    failure_stage TEXT,
    failure_reason TEXT,
    PRIMARY KEY (run_key, article_id)
);
CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    run_key TEXT NOT NULL,
    article_id TEXT NOT NULL,
    claim_index INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    speaker_norm TEXT NOT NULL,
    speaker_aliases TEXT NOT NULL,
    speaker_type TEXT NOT NULL,
    target TEXT NOT NULL,
    claim TEXT NOT NULL,
    stance TEXT NOT NULL,
    conditions TEXT NOT NULL,
    attribution TEXT NOT NULL,
    evidence TEXT NOT NULL,
    span_start INTEGER,
    span_end INTEGER,
    grounding TEXT NOT NULL,
    FOREIGN KEY (run_key, article_id) REFERENCES articles(run_key, article_id) ON DELETE CASCADE
);
CREATE INDEX claims_run_article ON claims(run_key, article_id);
CREATE INDEX claims_speaker_norm ON claims(speaker_norm);
"""

MIGRATION_2_TABLE = """
CREATE TABLE speaker_names (
    claim_id INTEGER NOT NULL REFERENCES claims(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last TEXT NOT NULL,
    PRIMARY KEY (claim_id, name)
);
CREATE INDEX speaker_names_last ON speaker_names(last);
"""


def claim_names(speaker: str, aliases: Sequence[str]) -> list[tuple[str, ...]]:
    """Distinct normalised names of a speaker and their aliases (empty ones dropped)."""
    names: list[tuple[str, ...]] = []
    for raw in (speaker, *aliases):
        name = normalize_name(raw)
        if name and name not in names:
            names.append(name)
    return names


def _insert_speaker_names(conn: sqlite3.Connection, claim_id: int, speaker: str, aliases: Sequence[str]) -> None:
    conn.executemany(
        "INSERT INTO speaker_names (claim_id, name, last) VALUES (?, ?, ?)",
        [(claim_id, " ".join(n), n[-1]) for n in claim_names(speaker, aliases)],
    )


def _migration_2(conn: sqlite3.Connection) -> None:
    """Speaker-name index for alias/surname lookups, backfilled from existing claims."""
    for statement in _statements(MIGRATION_2_TABLE):
        conn.execute(statement)
    for claim_id, speaker, aliases in conn.execute("SELECT id, speaker, speaker_aliases FROM claims").fetchall():
        _insert_speaker_names(conn, claim_id, speaker, json.loads(aliases))


MIGRATIONS: list[Migration] = [MIGRATION_1, _migration_2]
"""Schema migrations, in order. Append only: never edit or reorder an applied one."""


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, upto: int | None = None) -> int:
    """Apply the pending migrations (up to number `upto`); returns the schema version."""
    target = len(MIGRATIONS) if upto is None else upto
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        raise ExtractorError(
            f"the run database has schema version {version}, newer than this extractor knows ({len(MIGRATIONS)}); upgrade extractor"
        )
    for number in range(version + 1, target + 1):
        migration = MIGRATIONS[number - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= number:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            if isinstance(migration, str):
                for statement in _statements(migration):
                    conn.execute(statement)
            else:
                migration(conn)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def open_db(db_path: Path, upto: int | None = None) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database; autocommit mode, foreign keys on."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        migrate(conn, upto)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def database(db_path: Path) -> Iterator[sqlite3.Connection]:
    """`open_db` as a context manager; SQLite errors become one-line `ExtractorError`s."""
    try:
        conn = open_db(db_path)
    except (sqlite3.Error, OSError) as exc:
        raise ExtractorError(f"{db_path}: cannot open the run database ({exc})") from None
    try:
        yield conn
    except sqlite3.Error as exc:
        raise ExtractorError(f"{db_path}: {exc}") from None
    finally:
        conn.close()


# --- indexing -----------------------------------------------------------------------


@dataclass(frozen=True)
class IndexResult:
    run_key: str
    run_id: str
    articles: int
    failed: int
    claims: int


def run_key(run_dir: Path) -> str:
    return str(run_dir.resolve())


def _section(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    value = manifest.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def index_run(db_path: Path, run_dir: Path) -> IndexResult:
    """Index a run folder; re-indexing the same folder replaces its rows."""
    run = open_run(run_dir)
    manifest = run.read_manifest()
    # Two streaming passes over extractions.jsonl (counts, then rows), so memory
    # does not grow with the number of articles; only the ids are kept.
    extracted: set[str] = set()
    n_claims = 0
    first: ArticleExtraction | None = None
    for extraction in run.iter_extractions():
        extracted.add(extraction.article_id)
        n_claims += len(extraction.claims)
        first = first or extraction
    failures = {str(f.get("article_id")): f for f in run.iter_failures() if f.get("article_id") not in extracted}
    key = run_key(run_dir)
    prompt = _section(manifest, "prompt")
    model = _section(manifest, "model")
    run_id = _text(manifest.get("run_id")) or run_dir.resolve().name
    schema = manifest.get("schema_version")
    with database(db_path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM runs WHERE run_key = ?", (key,))
            conn.execute(
                "INSERT INTO runs (run_key, run_id, path, created, finished, status, prompt_ref, prompt_sha256, model,"
                " schema_version, code_version, articles, failed, claims, manifest_json, indexed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, run_id, key, _text(manifest.get("created")), _text(manifest.get("finished")),
                    _text(manifest.get("status")), _text(prompt.get("ref")) or (first.prompt if first else None),
                    _text(prompt.get("sha256")), _text(model.get("model")) or (first.model if first else None),
                    schema if isinstance(schema, int) else None, _text(manifest.get("code_version")),
                    len(extracted), len(failures), n_claims, json.dumps(manifest, ensure_ascii=False),
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )
            for extraction in run.iter_extractions():
                # A later line for the same article replaces an earlier one (claims cascade).
                conn.execute("DELETE FROM articles WHERE run_key = ? AND article_id = ?", (key, extraction.article_id))
                conn.execute(
                    "INSERT INTO articles (run_key, article_id, status, article_sha256, prompt, model, claims,"
                    " prompt_tokens, completion_tokens, calls) VALUES (?, ?, 'extracted', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key, extraction.article_id, extraction.article_sha256, extraction.prompt, extraction.model,
                        len(extraction.claims), extraction.usage.prompt_tokens, extraction.usage.completion_tokens,
                        extraction.usage.calls,
                    ),
                )
                for index, claim in enumerate(extraction.claims):
                    span = claim.evidence_span
                    cursor = conn.execute(
                        "INSERT INTO claims (run_key, article_id, claim_index, speaker, speaker_norm, speaker_aliases,"
                        " speaker_type, target, claim, stance, conditions, attribution, evidence, span_start, span_end,"
                        " grounding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            key, extraction.article_id, index, claim.speaker, " ".join(normalize_name(claim.speaker)),
                            json.dumps(claim.speaker_aliases, ensure_ascii=False), claim.speaker_type, claim.target,
                            claim.claim, claim.stance, json.dumps(claim.conditions, ensure_ascii=False),
                            claim.attribution, claim.evidence, span.start if span else None, span.end if span else None,
                            claim.grounding,
                        ),
                    )
                    assert cursor.lastrowid is not None
                    _insert_speaker_names(conn, cursor.lastrowid, claim.speaker, claim.speaker_aliases)
            for article_id, failure in failures.items():
                conn.execute(
                    "INSERT OR IGNORE INTO articles (run_key, article_id, status, failure_stage, failure_reason)"
                    " VALUES (?, ?, 'failed', ?, ?)",
                    (key, article_id, _text(failure.get("stage")), _text(failure.get("reason"))),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return IndexResult(key, run_id, len(extracted), len(failures), n_claims)


def index_after_run(run_dir: Path, db_path: Path | None = None) -> str | None:
    """Index a finished run, never failing the caller; returns a warning line or None.

    Does nothing when `EXTRACTOR_DB=off`.
    """
    if db_path is None and os.environ.get(DB_ENV, "").lower() == DISABLED:
        return None
    path = db_path or default_db_path()
    try:
        index_run(path, run_dir)
    except (ExtractorError, sqlite3.Error, OSError) as exc:
        return f"Warning: the run was not indexed in {path}: {exc}"
    return None


# --- queries --------------------------------------------------------------------------

RUN_COLUMNS = (
    "run_id", "path", "created", "finished", "status", "prompt_ref", "model",
    "articles", "failed", "claims", "indexed_at",
)


def list_runs(db_path: Path) -> list[dict[str, Any]]:
    """Indexed runs, newest first (an absent database has none)."""
    if not db_path.exists():
        return []
    with database(db_path) as conn:
        rows = conn.execute(
            f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY created DESC, run_id, path"
        ).fetchall()
    return [dict(row) for row in rows]


def _run_filter(run: str | None) -> tuple[str, list[Any]]:
    """SQL condition on `r` (runs) selecting a run by id or by folder."""
    if run is None:
        return "", []
    keys = [run]
    if Path(run).exists():
        keys.append(run_key(Path(run)))
    marks = ", ".join("?" * len(keys))
    return f" AND (r.run_id = ? OR r.run_key IN ({marks}))", [run, *keys]


def find_claims(
    db_path: Path, speaker: str, run: str | None = None, stance: str | None = None
) -> list[dict[str, Any]]:
    """Claims whose speaker agrees with `speaker` by the eval's rule (aliases, surname).

    Candidates are the claims with a name ending in the same word (indexed);
    `name_sets_agree` then decides. `run` is a run id or a run folder.
    """
    query = normalize_name(speaker)
    if not query or not db_path.exists():
        return []
    where, params = _run_filter(run)
    if stance is not None:
        where += " AND c.stance = ?"
        params.append(stance)
    with database(db_path) as conn:
        names: dict[int, list[tuple[str, ...]]] = {}
        for row in conn.execute(
            "SELECT claim_id, name FROM speaker_names WHERE claim_id IN"
            " (SELECT claim_id FROM speaker_names WHERE last = ?)",
            (query[-1],),
        ):
            names.setdefault(row["claim_id"], []).append(tuple(row["name"].split(" ")))
        ids = [claim_id for claim_id, found in names.items() if name_sets_agree([query], found)]
        if not ids:
            return []
        rows = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows.extend(
                conn.execute(
                    "SELECT r.run_id, r.path AS run_path, r.created AS run_created, r.prompt_ref, r.model,"
                    " c.article_id, c.claim_index, c.speaker, c.speaker_aliases, c.speaker_type, c.target, c.claim,"
                    " c.stance, c.conditions, c.attribution, c.evidence, c.span_start, c.span_end, c.grounding"
                    " FROM claims c JOIN runs r ON r.run_key = c.run_key"
                    f" WHERE c.id IN ({', '.join('?' * len(chunk))}){where}",
                    [*chunk, *params],
                ).fetchall()
            )
    result = []
    for row in rows:
        record = dict(row)
        record["speaker_aliases"] = json.loads(record["speaker_aliases"])
        record["conditions"] = json.loads(record["conditions"])
        result.append(record)
    result.sort(key=lambda r: (r["run_created"] or "", r["run_id"], r["article_id"], r["claim_index"]), reverse=False)
    return result


# An example query for the README: which speakers changed stance between runs.
# Claims are paired like `extractor diff` would roughly pair them: same article,
# same (normalised) speaker, overlapping evidence spans; each pair of runs is
# taken in creation order. Add `AND ra.run_id = ? AND rb.run_id = ?` for two runs.
STANCE_CHANGES_SQL = """
SELECT a.speaker, a.article_id, a.target,
       ra.run_id AS run_a, a.stance AS stance_a,
       rb.run_id AS run_b, b.stance AS stance_b
FROM claims a
JOIN runs ra ON ra.run_key = a.run_key
JOIN claims b ON b.article_id = a.article_id
             AND b.speaker_norm = a.speaker_norm
             AND b.span_start < a.span_end AND a.span_start < b.span_end
JOIN runs rb ON rb.run_key = b.run_key AND rb.created > ra.created
WHERE a.stance <> b.stance
ORDER BY a.speaker, a.article_id, ra.created
"""
