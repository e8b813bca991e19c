"""Rendering a diff document: rich terminal summary, JSON, Markdown."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .align import CHANGE_FIELDS, STATUSES
from .document import METRIC_LABELS

DEFAULT_DETAIL_ROWS = 40
STATUS_STYLE = {"unchanged": "dim", "changed": "yellow", "added": "green", "removed": "red"}
STATUS_MARK = {"unchanged": "=", "changed": "~", "added": "+", "removed": "-"}


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def fmt_delta(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}"


def run_label(run: dict[str, Any]) -> str:
    return f"{run['run_id']} ({run['prompt'] or '?'}, {run['model'] or '?'})"


def shorten(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def field_value(claim: dict[str, Any] | None, name: str, span: list[int] | None = None) -> str:
    if claim is None:
        return ""
    if name == "conditions":
        return "; ".join(claim["conditions"]) or "-"
    if name == "evidence_span":
        where = f"[{span[0]}:{span[1]}] " if span else ""
        return where + repr(shorten(claim["evidence"], 50))
    return str(claim[name])


def describe_row(row: dict[str, Any], arrow: str = "->") -> str:
    """One line: the claim, and for a changed row each field as `A -> B`."""
    claim = row["b"] or row["a"]
    head = f"{STATUS_MARK[row['status']]} {claim['speaker']} [{claim['stance']}] {shorten(claim['target'], 40)}"
    if row["status"] == "changed":
        changes = []
        for name in row["changed"]:
            span_a, span_b = row["a_span"], row["b_span"]
            if name == "evidence_span":
                changes.append(f"evidence {field_value(row['a'], name, span_a)} {arrow} {field_value(row['b'], name, span_b)}")
            else:
                changes.append(f"{name} {field_value(row['a'], name)!r} {arrow} {field_value(row['b'], name)!r}")
        head += ": " + "; ".join(changes)
    elif row["status"] in ("added", "removed"):
        head += f": {shorten(claim['evidence'], 60)!r}"
    flip = (row.get("gold") or {}).get("flip")
    if flip:
        head += f"  (gold {flip})"
    return head


def print_diff(document: dict[str, Any], console: Console, detail_rows: int = DEFAULT_DETAIL_ROWS) -> None:
    runs, summary = document["runs"], document["summary"]
    console.print(Text.assemble(("A ", "bold"), run_label(runs["a"]), "  ", ("B ", "bold"), run_label(runs["b"])))

    counts = Table(title="Claims, A -> B", title_justify="left")
    for status in STATUSES:
        counts.add_column(status, justify="right", style=STATUS_STYLE[status])
    counts.add_column("claims A/B", justify="right")
    counts.add_column("articles", justify="right")
    counts.add_row(
        *(str(summary[s]) for s in STATUSES),
        f"{summary['claims_a']}/{summary['claims_b']}",
        f"{summary['articles']} ({summary['articles_only_in_a']} only in A, {summary['articles_only_in_b']} only in B)",
    )
    console.print(counts)
    fields = ", ".join(f"{name} {summary['changed_fields'][name]}" for name in CHANGE_FIELDS)
    console.print(f"Changed fields: {fields}", highlight=False)

    metrics = document.get("metrics")
    if metrics:
        table = Table(title=f"Metrics against gold ({metrics['gold']})", title_justify="left")
        for column in ("metric", "A", "B", "delta"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for name, values in metrics["overall"].items():
            change = values["delta"]
            style = "green" if change and change > 0 else "red" if change and change < 0 else ""
            table.add_row(METRIC_LABELS[name], fmt(values["a"]), fmt(values["b"]), Text(fmt_delta(change), style=style))
        console.print(table)
        console.print(f"Gold claims newly missed by B: {summary['gold_lost']}; newly matched: {summary['gold_gained']}", highlight=False)

    articles = Table(title="Articles", title_justify="left")
    articles.add_column("article", overflow="fold")
    for column in ("A", "B", *STATUSES):
        articles.add_column(column, justify="right")
    if metrics:
        articles.add_column("F1 A -> B", justify="right")
    for entry in document["articles"]:
        name = entry["article_id"] + ("" if entry["presence"] == "both" else f" ({entry['presence'].replace('_', ' ')})")
        cells = [name, str(entry["claims_a"]), str(entry["claims_b"]), *(str(entry["counts"][s]) for s in STATUSES)]
        if metrics:
            m = entry.get("metrics")
            cells.append(f"{fmt(m['claims_f1']['a'])} -> {fmt(m['claims_f1']['b'])}" if m else "no gold")
        articles.add_row(*cells)
    console.print(articles)

    shown = 0
    hidden = 0
    for entry in document["articles"]:
        rows = [r for r in entry["claims"] if r["status"] != "unchanged" or (r.get("gold") or {}).get("flip")]
        if not rows:
            continue
        if shown >= detail_rows:
            hidden += len(rows)
            continue
        console.print(Text(entry["article_id"], style="bold"))
        for row in rows:
            if shown >= detail_rows:
                hidden += 1
                continue
            console.print(Text("  " + describe_row(row), style=STATUS_STYLE[row["status"]]))
            shown += 1
        for lost in entry.get("gold_lost", []):
            console.print(Text(f"  gold #{lost['index']} {lost['speaker']} newly missed: {shorten(lost['evidence'], 60)!r}", style="red"))
    if hidden:
        console.print(f"... {hidden} more changed rows (see --json, --markdown or --html)", highlight=False)


def md_cell(value: Any) -> str:
    text = fmt(value) if not isinstance(value, str) else value
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(document: dict[str, Any], detail_rows: int = DEFAULT_DETAIL_ROWS) -> str:
    """A PR-comment summary: counts, metric deltas, per-article table, changed claims (collapsed)."""
    runs, summary = document["runs"], document["summary"]
    lines = [
        "## Run diff",
        "",
        f"**A** `{md_cell(run_label(runs['a']))}` → **B** `{md_cell(run_label(runs['b']))}`",
        "",
        "| unchanged | changed | added | removed | claims A | claims B | articles |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary['unchanged']} | {summary['changed']} | {summary['added']} | {summary['removed']} "
        f"| {summary['claims_a']} | {summary['claims_b']} | {summary['articles']} |",
        "",
        "Changed fields: " + ", ".join(f"{name} {summary['changed_fields'][name]}" for name in CHANGE_FIELDS) + ".",
        "",
    ]
    metrics = document.get("metrics")
    if metrics:
        lines += ["| metric | A | B | Δ |", "|---|---:|---:|---:|"]
        for name, values in metrics["overall"].items():
            lines.append(f"| {METRIC_LABELS[name]} | {fmt(values['a'])} | {fmt(values['b'])} | {fmt_delta(values['delta'])} |")
        lines += ["", f"Gold claims newly missed by B: **{summary['gold_lost']}**; newly matched: **{summary['gold_gained']}**.", ""]

    header = "| article | A | B | unchanged | changed | added | removed |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if metrics:
        header += " F1 A → B |"
        rule += "---:|"
    lines += [header, rule]
    for entry in document["articles"]:
        c = entry["counts"]
        name = entry["article_id"] + ("" if entry["presence"] == "both" else f" ({entry['presence'].replace('_', ' ')})")
        row = f"| {md_cell(name)} | {entry['claims_a']} | {entry['claims_b']} | {c['unchanged']} | {c['changed']} | {c['added']} | {c['removed']} |"
        if metrics:
            m = entry.get("metrics")
            row += f" {fmt(m['claims_f1']['a'])} → {fmt(m['claims_f1']['b'])} |" if m else " no gold |"
        lines.append(row)

    changes = [(e["article_id"], r) for e in document["articles"] for r in e["claims"] if r["status"] != "unchanged"]
    if changes:
        lines += ["", f"<details><summary>{len(changes)} changed, added or removed claims</summary>", ""]
        for article_id, row in changes[:detail_rows]:
            lines.append(f"- `{md_cell(article_id)}` {md_cell(describe_row(row, '→'))}")
        if len(changes) > detail_rows:
            lines.append(f"- … {len(changes) - detail_rows} more (see the HTML report)")
        lines += ["", "</details>"]
    lost = [(e["article_id"], g) for e in document["articles"] for g in e.get("gold_lost", [])]
    if lost:
        lines += ["", "**Gold claims matched by A and missed by B:**", ""]
        for article_id, g in lost:
            lines.append(f"- `{md_cell(article_id)}` gold #{g['index']} {md_cell(g['speaker'])}: “{md_cell(shorten(g['evidence'], 80))}”")
    return "\n".join(lines) + "\n"
