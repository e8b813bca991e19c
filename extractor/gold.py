"""Gold files: reading, validating, drafting from a run, and annotator agreement.

A gold file is `evals/gold/<article_id>.json` holding one `GoldFile`. Checks
made by `validate_gold`:

- the file is UTF-8 JSON (a syntax error is reported with its line and column);
- every field is valid for `GoldFile` (reported by field path, e.g.
  `claims.2.stance`);
- `article_id` equals the file name's stem, and no two files share an article_id;
- no claim is a duplicate of an earlier one in the same file (same speaker,
  stance, claim and evidence);
- speaker, claim and evidence are not blank;
- every evidence string is a verbatim substring of the article text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .articles import safe_article_id, text_sha256
from .errors import ConfigError, ExtractorError
from .evaluation.matching import LENIENT, STRICT, match_claims
from .evaluation.metrics import cohen_kappa, prf, rounded, stance_accuracy
from .schema import ArticleExtraction, ClaimDraft, GoldFile

DRAFT_ANNOTATOR_PREFIX = "draft:"


@dataclass(frozen=True)
class GoldProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def gold_paths(paths: Iterable[Path]) -> list[Path]:
    """The `*.json` gold files under the given files and folders, sorted per folder."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if not p.name.startswith(".")))
        elif path.exists():
            found.append(path)
        else:
            raise ExtractorError(f"{path}: no such gold file or folder")
    return found


def parse_gold_file(path: Path) -> tuple[GoldFile | None, list[GoldProblem]]:
    """Read one gold file; returns the model, or None and every problem found."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        return None, [GoldProblem(path, f"unreadable ({exc.strerror})")]
    except UnicodeDecodeError:
        return None, [GoldProblem(path, "not UTF-8 text")]
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, [GoldProblem(path, f"line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})")]
    try:
        gold = GoldFile.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(file)"
            problems.append(GoldProblem(path, f"field {where}: {error['msg']}"))
        return None, problems
    problems = []
    if gold.article_id != path.stem:
        problems.append(
            GoldProblem(path, f"field article_id: {gold.article_id!r} differs from the file name stem {path.stem!r}")
        )
    seen: dict[tuple[str, str, str, str], int] = {}
    for index, claim in enumerate(gold.claims):
        for name in ("speaker", "claim", "evidence"):
            if not getattr(claim, name).strip():
                problems.append(GoldProblem(path, f"field claims.{index}.{name}: must not be blank"))
        key = (claim.speaker, claim.stance, claim.claim, claim.evidence)
        if key in seen:
            problems.append(GoldProblem(path, f"field claims.{index}: duplicates claims.{seen[key]}"))
        else:
            seen[key] = index
    return gold, problems


def validate_gold(paths: Sequence[Path], texts: dict[str, str]) -> tuple[int, list[GoldProblem]]:
    """Check every gold file under `paths`; returns (files checked, all problems)."""
    files = gold_paths(paths)
    problems: list[GoldProblem] = []
    owners: dict[str, Path] = {}
    for path in files:
        gold, found = parse_gold_file(path)
        problems.extend(found)
        if gold is None:
            continue
        if gold.article_id in owners:
            problems.append(
                GoldProblem(path, f"field article_id: duplicate id {gold.article_id!r} (also in {owners[gold.article_id]})")
            )
        else:
            owners[gold.article_id] = path
        text = texts.get(gold.article_id)
        if text is None:
            problems.append(GoldProblem(path, f"no article text found for {gold.article_id!r}"))
            continue
        for index, claim in enumerate(gold.claims):
            if claim.evidence.strip() and claim.evidence not in text:
                problems.append(
                    GoldProblem(
                        path,
                        f"field claims.{index}.evidence: not a verbatim substring of the article: "
                        f"{shorten(claim.evidence)!r}",
                    )
                )
    return len(files), problems


def load_gold(paths: Sequence[Path]) -> dict[str, GoldFile]:
    """article_id -> gold file; the first malformed file raises `ConfigError`."""
    gold: dict[str, GoldFile] = {}
    origin: dict[str, Path] = {}
    for path in gold_paths(paths):
        parsed, problems = parse_gold_file(path)
        if problems or parsed is None:
            raise ConfigError(f"{problems[0]} (check with `extractor gold validate`)")
        if parsed.article_id in gold:
            raise ConfigError(
                f"{path}: field article_id: duplicate id {parsed.article_id!r} (also in {origin[parsed.article_id]})"
            )
        gold[parsed.article_id] = parsed
        origin[parsed.article_id] = path
    return gold


def shorten(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- drafting ---------------------------------------------------------------------


def draft_gold(extraction: ArticleExtraction, text: str | None) -> GoldFile:
    """A gold file pre-filled from a run for a person to correct.

    Grounded evidence is replaced by the exact article text at its span (so it
    is verbatim when the article text is known and is the text the run saw);
    unaligned evidence is kept as the model wrote it, for `gold validate` to flag.
    """
    if text is not None and text_sha256(text) != extraction.article_sha256:
        text = None  # the offsets refer to another version of the article
    claims = []
    for claim in extraction.claims:
        draft = ClaimDraft.model_validate(claim.model_dump(include=set(ClaimDraft.model_fields)))
        span = claim.evidence_span
        if text is not None and span is not None and 0 <= span.start < span.end <= len(text):
            draft = draft.model_copy(update={"evidence": text[span.start : span.end]})
        claims.append(draft)
    return GoldFile(
        article_id=extraction.article_id,
        annotator=f"{DRAFT_ANNOTATOR_PREFIX}{extraction.model}",
        claims=claims,
    )


def render_gold(gold: GoldFile) -> str:
    return json.dumps(gold.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def write_drafts(
    extractions: Iterable[ArticleExtraction], texts: dict[str, str], out_dir: Path, force: bool = False
) -> tuple[list[Path], list[Path]]:
    """Write a draft per extraction into `out_dir`; returns (written, skipped as existing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipped: list[Path] = []
    for extraction in extractions:
        path = out_dir / f"{extraction.article_id}.json"
        if safe_article_id(extraction.article_id) != extraction.article_id:
            # An id that is not a plain file name (e.g. "../../x" in a tampered
            # run) would write outside out_dir: never write it.
            skipped.append(path)
            continue
        if path.exists() and not force:
            skipped.append(path)
            continue
        path.write_text(render_gold(draft_gold(extraction, texts.get(extraction.article_id))), encoding="utf-8")
        written.append(path)
    return written, skipped


# --- agreement ----------------------------------------------------------------------


def agreement(gold_a: dict[str, GoldFile], gold_b: dict[str, GoldFile], texts: dict[str, str]) -> dict[str, Any]:
    """Agreement of annotator B with annotator A (A is treated as gold).

    Only articles both annotated are compared. Claims are matched with the
    evaluation matcher; claim P/R/F1 are micro over those articles; stance
    accuracy and Cohen's kappa are over the lenient matched pairs.
    """
    common = sorted(set(gold_a) & set(gold_b))
    counts = {"a": 0, "b": 0, "lenient": 0, "strict": 0}
    stance_pairs: list[tuple[str, str]] = []
    for article_id in common:
        a_claims, b_claims = gold_a[article_id].claims, gold_b[article_id].claims
        text = texts.get(article_id)
        lenient = match_claims(b_claims, a_claims, text, LENIENT)
        counts["a"] += len(a_claims)
        counts["b"] += len(b_claims)
        counts["lenient"] += len(lenient)
        counts["strict"] += len(match_claims(b_claims, a_claims, text, STRICT))
        stance_pairs.extend((a_claims[p.gold_index].stance, b_claims[p.pred_index].stance) for p in lenient)
    return {
        "articles": len(common),
        "only_in_a": sorted(set(gold_a) - set(gold_b)),
        "only_in_b": sorted(set(gold_b) - set(gold_a)),
        "claims": {
            "a": counts["a"],
            "b": counts["b"],
            "lenient": {"matched": counts["lenient"], **prf(counts["lenient"], counts["b"], counts["a"]).as_dict()},
            "strict": {"matched": counts["strict"], **prf(counts["strict"], counts["b"], counts["a"]).as_dict()},
        },
        "stance": {
            "n": len(stance_pairs),
            "accuracy": rounded(stance_accuracy(stance_pairs)),
            "kappa": rounded(cohen_kappa(stance_pairs)),
        },
    }
