"""Rendering an evaluation report: rich tables, JSON, or Markdown.

All three render the same report document built by `metrics.evaluate` (plus a
`baseline` section when the gate ran). The JSON form is the stable interface:
top-level keys `meta`, `claims`, `speakers`, `stance`, `conditions`,
`grounding`, `articles` (and `baseline` after a gate).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from ..schema import STANCES

MISSING = "n/a"


def fmt(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def fmt_ci(ci: list[float] | None) -> str:
    return MISSING if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, value, detail) rows shared by the table and Markdown views."""
    claims, speakers = report["claims"], report["speakers"]
    stance, conditions, grounding = report["stance"], report["conditions"], report["grounding"]
    rows = []
    for level in ("lenient", "strict"):
        c = claims[level]
        rows.append(
            (
                f"claims F1 ({level})",
                fmt(c["f1"]),
                f"P {fmt(c['precision'])} R {fmt(c['recall'])}; ci95 {fmt_ci(c['ci95'])}; "
                f"macro F1 {fmt(c['macro']['f1'])}; {c['matched']} matched of "
                f"{claims['gold']} gold / {claims['predicted']} predicted",
            )
        )
    rows.append(("speakers F1", fmt(speakers["f1"]), f"P {fmt(speakers['precision'])} R {fmt(speakers['recall'])}"))
    rows.append(
        ("stance accuracy", fmt(stance["accuracy"]), f"macro-F1 (support, oppose) {fmt(stance['macro_f1'])}; {stance['n']} matched pairs")
    )
    rows.append(
        (
            "conditions F1",
            fmt(conditions["f1"]),
            f"presence P {fmt(conditions['precision'])} R {fmt(conditions['recall'])}; "
            f"content F1 {fmt(conditions['content_f1'])} over {conditions['content_n']} pairs",
        )
    )
    rows.append(
        (
            "grounding exact",
            fmt(grounding["exact"]),
            f"fuzzy {fmt(grounding['fuzzy'])}, unaligned {fmt(grounding['unaligned'])}; {grounding['n']} predicted claims",
        )
    )
    return rows


def notes(report: dict[str, Any]) -> list[str]:
    meta = report["meta"]
    lines = [f"{meta['scored_articles']} scored articles; {meta['unscored_articles']} run articles without gold (unscored)."]
    if meta["missing_from_run"]:
        lines.append(f"Missing from the run (all gold claims missed): {', '.join(meta['missing_from_run'])}")
    if meta["without_text"]:
        lines.append(f"No article text (token overlap only): {', '.join(meta['without_text'])}")
    if meta["text_mismatch"]:
        lines.append(f"Article text differs from the run's (spans ignored): {', '.join(meta['text_mismatch'])}")
    return lines


def gate_lines(gate: dict[str, Any]) -> list[str]:
    lines = []
    if gate.get("written"):
        return [f"Baseline written to {gate['path']}."]
    verdict = "PASSED" if gate["passed"] else "FAILED"
    lines.append(f"Baseline gate {verdict} (tolerance {gate['tolerance']}, baseline {gate['path']})")
    for entry in gate["regressions"]:
        lines.append(f"  regression: {entry['metric']} {fmt(entry['baseline'])} -> {fmt(entry['current'])} (drop {entry['drop']:.3f})")
    if gate["lost_claims"]:
        lines.append(f"  {len(gate['lost_claims'])} gold claim(s) matched in the baseline are now missed:")
        for lost in gate["lost_claims"]:
            lines.append(f"    {lost['article_id']} gold #{lost['index']} {lost['speaker']}: \"{lost['evidence']}\"")
    if gate["gold_changed"]:
        lines.append(f"  {gate['gold_changed']} baseline gold key(s) no longer in the gold (gold edited).")
    return lines


def report_console() -> Console:
    """A console for the table view; 120 columns when not writing to a terminal."""
    return Console() if sys.stdout.isatty() else Console(width=120)


def print_report(report: dict[str, Any], console: Console) -> None:
    summary = Table(title="Evaluation", title_justify="left")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    summary.add_column("detail")
    for row in summary_rows(report):
        summary.add_row(*row)
    console.print(summary)

    confusion = Table(title="Stance confusion (rows gold, columns predicted)", title_justify="left")
    confusion.add_column("gold \\ pred")
    for stance in STANCES:
        confusion.add_column(stance, justify="right")
    for gold in STANCES:
        confusion.add_row(gold, *(str(report["stance"]["confusion"][gold][pred]) for pred in STANCES))
    console.print(confusion)

    articles = Table(title="Articles (lenient unless noted)", title_justify="left")
    articles.add_column("article", overflow="fold", min_width=16)
    for column in ("gold", "pred", "matched L/S", "P", "R", "F1", "strict F1", "speakers F1", "stance acc"):
        articles.add_column(column, justify="right")
    for row in report["articles"]:
        name = row["article_id"] + (" (missing from run)" if row["status"] == "missing_from_run" else "")
        articles.add_row(
            name,
            str(row["gold"]),
            str(row["predicted"]),
            f"{row['matched_lenient']}/{row['matched_strict']}",
            fmt(row["precision"]),
            fmt(row["recall"]),
            fmt(row["f1"]),
            fmt(row["strict_f1"]),
            fmt(row["speakers_f1"]),
            fmt(row["stance_accuracy"]),
        )
    console.print(articles)
    for line in notes(report):
        console.print(line, markup=False, highlight=False)
    if "baseline" in report:
        for line in gate_lines(report["baseline"]):
            console.print(line, markup=False, highlight=False)


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: dict[str, Any]) -> str:
    """A compact Markdown summary for a PR comment or CI step summary."""
    out = ["## Extraction evaluation", ""]
    if "baseline" in report and not report["baseline"].get("written"):
        gate = report["baseline"]
        out += [f"**Baseline gate: {'passed' if gate['passed'] else 'FAILED'}** (tolerance {gate['tolerance']})", ""]
    out += ["| metric | value | detail |", "|---|---:|---|"]
    out += [f"| {m} | {v} | {markdown_cell(d)} |" for m, v, d in summary_rows(report)]
    out += ["", "<details><summary>Per article</summary>", ""]
    out += ["| article | gold | pred | matched (lenient/strict) | F1 | strict F1 | speakers F1 | stance acc |"]
    out += ["|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in report["articles"]:
        name = row["article_id"] + (" (missing from run)" if row["status"] == "missing_from_run" else "")
        out.append(
            f"| {markdown_cell(name)} | {row['gold']} | {row['predicted']} | {row['matched_lenient']}/{row['matched_strict']} "
            f"| {fmt(row['f1'])} | {fmt(row['strict_f1'])} | {fmt(row['speakers_f1'])} | {fmt(row['stance_accuracy'])} |"
        )
    out += ["", "</details>", ""]
    out += [f"- {markdown_cell(line)}" for line in notes(report)]
    if "baseline" in report:
        out += ["", "```", *gate_lines(report["baseline"]), "```"]
    return "\n".join(out) + "\n"
