"""The diff document: the stable JSON form of `extractor diff`.

Top-level keys (`DIFF_VERSION` 1):

- `diff_version`; `runs`: `{"a": {...}, "b": {...}}` with path, run id,
  prompt and model of each run; `threshold`: the matcher threshold used.
- `summary`: counts per class (`unchanged`, `changed`, `added`, `removed`),
  `changed_fields` (rows per changed field), `articles`, `articles_only_in_a`,
  `articles_only_in_b`, `claims_a`, `claims_b`, and with gold `gold_lost` and
  `gold_gained` (gold claims matched by one run and not the other).
- `articles`: one entry per article in either run, in id order, with
  `presence` (both, only_in_a, only_in_b), `counts`, `text_available`,
  `spans_dropped`, `claims` (the rows, see `ClaimRow.as_dict`), and with gold
  `metrics` (per-article deltas), `gold_lost`, `gold_gained`.
- `metrics`: null without gold; otherwise `{"gold": path, "overall": {name:
  {"a", "b", "delta"}}}` for the metrics in `METRICS`, from `metrics.evaluate`
  of each run over the gold articles present in either run (a gold article
  missing from one run counts as all missed there, as in `extractor eval`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..evaluation.baseline import metric_value
from ..evaluation.matching import LENIENT
from ..evaluation.metrics import DECIMALS, evaluate, gold_claim_key
from ..runs import RunDir
from ..schema import ArticleExtraction, ClaimDraft, GoldFile
from .align import CHANGE_FIELDS, STATUSES, ArticleDiff, diff_predictions

DIFF_VERSION = 1

# (name in the diff document, dotted path in the evaluation report, label)
METRICS: tuple[tuple[str, str, str], ...] = (
    ("claims_f1", "claims.lenient.f1", "claims F1 (lenient)"),
    ("claims_precision", "claims.lenient.precision", "claims precision (lenient)"),
    ("claims_recall", "claims.lenient.recall", "claims recall (lenient)"),
    ("claims_strict_f1", "claims.strict.f1", "claims F1 (strict)"),
    ("stance_accuracy", "stance.accuracy", "stance accuracy"),
    ("conditions_f1", "conditions.f1", "conditions F1"),
    ("speakers_f1", "speakers.f1", "speakers F1"),
)
METRIC_LABELS = {name: label for name, _, label in METRICS}
# Per-article metrics: (name, key of an evaluation `articles` row).
ARTICLE_METRICS: tuple[tuple[str, str], ...] = (
    ("claims_f1", "f1"),
    ("claims_precision", "precision"),
    ("claims_recall", "recall"),
    ("claims_strict_f1", "strict_f1"),
    ("stance_accuracy", "stance_accuracy"),
    ("speakers_f1", "speakers_f1"),
)


def delta(a: float | None, b: float | None) -> dict[str, float | None]:
    change = None if a is None or b is None else round(b - a, DECIMALS)
    return {"a": a, "b": b, "delta": change}


def run_info(run: RunDir, predictions: dict[str, ArticleExtraction]) -> dict[str, Any]:
    manifest = run.read_manifest()
    first = next(iter(predictions.values()), None)
    prompt = manifest["prompt"] if isinstance(manifest.get("prompt"), dict) else {}
    model = manifest["model"] if isinstance(manifest.get("model"), dict) else {}
    return {
        "path": str(run.path),
        "run_id": str(manifest.get("run_id") or run.path.name),
        "prompt": prompt.get("ref") or (first.prompt if first else None),
        "model": model.get("model") or (first.model if first else None),
        "status": manifest.get("status"),
        "articles": len(predictions),
        "claims": sum(len(e.claims) for e in predictions.values()),
    }


def gold_ref(gold: Sequence[Any], index: int) -> dict[str, Any]:
    claim = gold[index]
    return {"index": index, "key": gold_claim_key(index, claim), "speaker": claim.speaker, "stance": claim.stance, "evidence": claim.evidence}


def article_entry(article: ArticleDiff, with_gold: bool, metrics: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "article_id": article.article_id,
        "presence": article.presence,
        "claims_a": article.a_claims,
        "claims_b": article.b_claims,
        "counts": article.counts(),
        "text_available": article.text is not None,
        "spans_dropped": article.spans_dropped,
    }
    if with_gold:
        gold = article.gold_claims
        entry["has_gold"] = gold is not None
        entry["metrics"] = metrics
        entry["gold_lost"] = [gold_ref(gold, i) for i in article.gold_lost] if gold is not None else []
        entry["gold_gained"] = [gold_ref(gold, i) for i in article.gold_gained] if gold is not None else []
    entry["claims"] = [row.as_dict(with_gold) for row in article.rows]
    return entry


def metric_deltas(
    a: dict[str, ArticleExtraction], b: dict[str, ArticleExtraction], gold: dict[str, GoldFile], texts: dict[str, str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(overall deltas, article id -> per-article deltas) from `metrics.evaluate` of each run."""
    report_a, report_b = evaluate(a, gold, texts), evaluate(b, gold, texts)
    overall = {name: delta(metric_value(report_a, path), metric_value(report_b, path)) for name, path, _ in METRICS}
    rows_a = {row["article_id"]: row for row in report_a["articles"]}
    rows_b = {row["article_id"]: row for row in report_b["articles"]}
    per_article = {
        article_id: {name: delta(rows_a[article_id][key], rows_b[article_id][key]) for name, key in ARTICLE_METRICS}
        for article_id in rows_a
    }
    return overall, per_article


def build_diff(
    run_a: RunDir,
    run_b: RunDir,
    a: dict[str, ArticleExtraction],
    b: dict[str, ArticleExtraction],
    texts: dict[str, str],
    gold: dict[str, GoldFile] | None = None,
    gold_path: Path | None = None,
) -> tuple[dict[str, Any], list[ArticleDiff]]:
    """The diff document (see the module docstring) and the article diffs behind it."""
    gold_claims: dict[str, Sequence[ClaimDraft]] | None = None
    if gold is not None:
        gold_claims = {k: g.claims for k, g in gold.items()}
    articles = diff_predictions(a, b, texts, gold_claims)
    with_gold = gold is not None
    overall: dict[str, Any] | None = None
    per_article: dict[str, dict[str, Any]] = {}
    if gold is not None:
        # Only gold articles in either run are scored, so unrelated gold files do not dilute the deltas.
        overall, per_article = metric_deltas(a, b, {k: g for k, g in gold.items() if k in a or k in b}, texts)

    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    fields = dict.fromkeys(CHANGE_FIELDS, 0)
    for article in articles:
        for row in article.rows:
            counts[row.status] += 1
            for name in row.changed:
                fields[name] += 1
    summary: dict[str, Any] = {
        **counts,
        "changed_fields": fields,
        "articles": len(articles),
        "articles_only_in_a": sum(1 for x in articles if x.presence == "only_in_a"),
        "articles_only_in_b": sum(1 for x in articles if x.presence == "only_in_b"),
        "claims_a": sum(x.a_claims for x in articles),
        "claims_b": sum(x.b_claims for x in articles),
    }
    if with_gold:
        summary["gold_lost"] = sum(len(x.gold_lost) for x in articles)
        summary["gold_gained"] = sum(len(x.gold_gained) for x in articles)
    document: dict[str, Any] = {
        "diff_version": DIFF_VERSION,
        "runs": {"a": run_info(run_a, a), "b": run_info(run_b, b)},
        "threshold": {"name": LENIENT.name, "rule": LENIENT.describe()},
        "summary": summary,
        "articles": [article_entry(x, with_gold, per_article.get(x.article_id)) for x in articles],
        "metrics": None if overall is None else {"gold": str(gold_path) if gold_path else None, "overall": overall},
    }
    return document, articles
