"""The regression gate: compare an evaluation with a stored baseline.

Headline metrics (`HEADLINE_METRICS`), each a dotted path into the report:
claims lenient F1, claims strict F1, speakers F1, stance accuracy and
conditions presence F1. The gate fails when any of them drops by more than the
tolerance (a current value of n/a counts as 0 against a numeric baseline; an
n/a baseline is not compared).

The baseline also keeps, per article, the keys (`index|speaker|evidence
prefix`, see `gold_claim_key`) of the gold claims the run matched at the
lenient threshold, so the gate can list every gold claim that went from
matched to missed. A key no longer present in the current gold (the gold file
was edited) is counted as "gold changed", not as lost.

File format (`evals/baseline.json`):

    {"baseline_version": 1,
     "metrics": {"claims.lenient.f1": 0.71, ...},
     "articles": {"<article_id>": {"matched_gold": ["0|Vladimir Putin|The dust of ..."]}}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..jsonl import write_json_atomic

BASELINE_VERSION = 1
HEADLINE_METRICS: tuple[str, ...] = (
    "claims.lenient.f1",
    "claims.strict.f1",
    "speakers.f1",
    "stance.accuracy",
    "conditions.f1",
)
DEFAULT_TOLERANCE = 0.02
# Float noise allowance so a drop of exactly the tolerance passes.
EPSILON = 1e-9


def metric_value(report: dict[str, Any], dotted: str) -> float | None:
    """The number at a dotted path of a report (None when absent or n/a)."""
    node: Any = report
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def baseline_document(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "baseline_version": BASELINE_VERSION,
        "metrics": {name: metric_value(report, name) for name in HEADLINE_METRICS},
        "articles": {
            row["article_id"]: {"matched_gold": list(row["matched_gold"])} for row in report["articles"]
        },
    }


def write_baseline(path: Path, report: dict[str, Any]) -> None:
    write_json_atomic(path, baseline_document(report))


def read_baseline(path: Path) -> dict[str, Any]:
    """Read and check a baseline file; a malformed one raises `ConfigError` naming the field."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such baseline file (create it with --write-baseline)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable baseline ({exc})") from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: baseline is not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: baseline must be a JSON object")
    metrics = document.get("metrics")
    if not isinstance(metrics, dict):
        raise ConfigError(f"{path}: field 'metrics': expected an object of metric -> number")
    for name in HEADLINE_METRICS:
        if name not in metrics:
            raise ConfigError(f"{path}: field 'metrics.{name}': missing (rewrite with --write-baseline)")
        value = metrics[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{path}: field 'metrics.{name}': expected a number or null, got {value!r}")
    articles = document.get("articles", {})
    if not isinstance(articles, dict):
        raise ConfigError(f"{path}: field 'articles': expected an object of article_id -> entry")
    for article_id, entry in articles.items():
        matched = entry.get("matched_gold") if isinstance(entry, dict) else None
        if not isinstance(matched, list) or not all(isinstance(k, str) for k in matched):
            raise ConfigError(
                f"{path}: field 'articles.{article_id}.matched_gold': expected a list of strings"
            )
    return document


def describe_key(key: str) -> dict[str, Any]:
    """Split a gold claim key `index|speaker|evidence prefix` into its parts."""
    index, _, rest = key.partition("|")
    speaker, _, evidence = rest.partition("|")
    return {"index": int(index) if index.isdigit() else None, "speaker": speaker, "evidence": evidence}


def compare_with_baseline(report: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> dict[str, Any]:
    """The gate result: regressions beyond `tolerance` and gold claims lost since the baseline."""
    regressions = []
    metrics = []
    for name in HEADLINE_METRICS:
        before = baseline["metrics"].get(name)
        now = metric_value(report, name)
        if before is None:
            continue
        drop = float(before) - (now if now is not None else 0.0)
        entry = {"metric": name, "baseline": before, "current": now, "drop": round(drop, 4)}
        metrics.append(entry)
        if drop > tolerance + EPSILON:
            regressions.append(entry)
    rows = {row["article_id"]: row for row in report["articles"]}
    lost = []
    gold_changed = 0
    for article_id, entry in sorted(baseline.get("articles", {}).items()):
        row = rows.get(article_id)
        missed = set(row["missed_gold"]) if row else set()
        matched = set(row["matched_gold"]) if row else set()
        for key in entry["matched_gold"]:
            if key in missed:
                lost.append({"article_id": article_id, "key": key, **describe_key(key)})
            elif key not in matched:
                gold_changed += 1
    return {
        "tolerance": tolerance,
        "passed": not regressions,
        "metrics": metrics,
        "regressions": regressions,
        "lost_claims": lost,
        "gold_changed": gold_changed,
    }
