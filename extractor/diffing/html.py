"""The HTML review page of a run diff: one self-contained file.

No network at all (a Content-Security-Policy forbids every fetch; CSS and JS
are inline). The data is one JSON blob in `<script type="application/json">`
with `<`, `>`, `&`, U+2028 and U+2029 escaped as `\\uXXXX`, so no article text
can close the script element. The page builds its DOM with `textContent`
only, never `innerHTML` with data, so article text (untrusted, may contain
HTML or JS) is always shown as text.

Scale: the header and the article list are cheap; an article's text with its
highlights and its claim table are rendered only when its `<details>` is
first opened. Highlights come from one sweep over sorted span boundaries per
article (O(n log n)); filters walk the rows once (O(n)).

DOM hooks the browser test relies on: `#count-<status>` in the header,
`details.article[data-article]`, `tr.claim-row[data-status]`, `mark.hl`,
`#only-changed`, `#speaker-filter`, `#stance-filter`, `#expand-all`,
`#visible-rows`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from ..evaluation.matching import name_sets_agree, speaker_names
from ..schema import Claim
from .align import CHANGE_FIELDS, STATUSES, ArticleDiff
from .document import METRIC_LABELS
from .render import fmt, fmt_delta, run_label


def json_for_script(data: Any) -> str:
    """JSON that is safe inside a `<script>` element (cannot close it or open a comment)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


class SpeakerIndex:
    """Groups speakers across all articles into entities (the eval's alias/surname rule).

    A claim joins the first entity whose canonical names agree with any of its
    names (speaker or alias); only canonical names are added to an entity, so
    aliases do not chain unrelated people together. Candidates are looked up
    by last word, so grouping stays near-linear in the number of claims.
    """

    def __init__(self) -> None:
        self.names: list[list[tuple[str, ...]]] = []
        self.labels: list[str] = []
        self.counts: list[int] = []
        self.by_last: dict[str, list[int]] = {}

    def entity(self, claim: Claim) -> int | None:
        names = speaker_names(claim)
        if not names:
            return None
        candidates = sorted({e for n in names for e in self.by_last.get(n[-1], [])})
        canonical = speaker_names(claim.model_copy(update={"speaker_aliases": []}))
        for e in candidates:
            if name_sets_agree(self.names[e], names):
                for n in canonical:
                    if n not in self.names[e]:
                        self.names[e].append(n)
                        self.by_last.setdefault(n[-1], []).append(e)
                if len(claim.speaker) > len(self.labels[e]):
                    self.labels[e] = claim.speaker
                self.counts[e] += 1
                return e
        e = len(self.names)
        self.names.append(list(canonical or names))
        self.labels.append(claim.speaker)
        self.counts.append(1)
        for n in self.names[e]:
            self.by_last.setdefault(n[-1], []).append(e)
        return e


def page_data(document: dict[str, Any], articles: Sequence[ArticleDiff]) -> dict[str, Any]:
    """The JSON blob of the page: the diff document plus texts and speaker entities."""
    speakers = SpeakerIndex()
    entries = []
    for entry, article in zip(document["articles"], articles, strict=True):
        rows = []
        for row_doc, row in zip(entry["claims"], article.rows, strict=True):
            ids = {e for e in (speakers.entity(c) for c in (row.a, row.b) if c is not None) if e is not None}
            rows.append({**row_doc, "speaker_ids": sorted(ids)})
        entries.append({**entry, "claims": rows, "text": article.text})
    return {
        "runs": document["runs"],
        "summary": document["summary"],
        "metrics": document["metrics"],
        "speakers": [{"id": i, "label": label, "count": speakers.counts[i]} for i, label in enumerate(speakers.labels)],
        "articles": entries,
    }


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def header_html(document: dict[str, Any]) -> str:
    runs, summary, metrics = document["runs"], document["summary"], document["metrics"]
    parts = [
        '<header id="summary">',
        "<h1>Run diff</h1>",
        '<div class="runs">',
        f'<div><span class="side side-a">A</span> <span id="run-a">{_e(run_label(runs["a"]))}</span> '
        f'<span class="muted">{_e(runs["a"]["path"])}</span></div>',
        f'<div><span class="side side-b">B</span> <span id="run-b">{_e(run_label(runs["b"]))}</span> '
        f'<span class="muted">{_e(runs["b"]["path"])}</span></div>',
        "</div>",
        '<div class="counts">',
    ]
    for status in STATUSES:
        parts.append(
            f'<div class="count st-{status}"><span class="n" id="count-{status}" data-count="{summary[status]}">'
            f'{summary[status]}</span><span class="label">{status}</span></div>'
        )
    parts.append(
        f'<div class="count"><span class="n" id="count-articles">{summary["articles"]}</span>'
        f'<span class="label">articles</span></div>'
        f'<div class="count"><span class="n">{summary["claims_a"]} → {summary["claims_b"]}</span>'
        f'<span class="label">claims A → B</span></div>'
    )
    parts.append("</div>")
    fields = ", ".join(f"{name.replace('_', ' ')} <b>{summary['changed_fields'][name]}</b>" for name in CHANGE_FIELDS)
    parts.append(f'<p class="fields">Changed fields: {fields}. Claims matched with the eval matcher: {_e(document["threshold"]["rule"])}.</p>')
    if metrics:
        parts.append('<table id="metrics" class="metrics"><thead><tr><th>metric</th><th>A</th><th>B</th><th>Δ</th></tr></thead><tbody>')
        for name, values in metrics["overall"].items():
            change = values["delta"]
            cls = "up" if change and change > 0 else "down" if change and change < 0 else "flat"
            parts.append(
                f'<tr data-metric="{_e(name)}"><td>{_e(METRIC_LABELS[name])}</td><td>{fmt(values["a"])}</td>'
                f'<td>{fmt(values["b"])}</td><td class="{cls}">{fmt_delta(change)}</td></tr>'
            )
        parts.append("</tbody></table>")
        parts.append(
            f'<p class="gold-flips">Gold claims newly missed by B: <b id="gold-lost">{summary["gold_lost"]}</b>; '
            f'newly matched: <b id="gold-gained">{summary["gold_gained"]}</b> (gold: {_e(metrics["gold"])}).</p>'
        )
    parts.append("</header>")
    return "\n".join(parts)


CSS = """
:root { --unchanged:#e4e7eb; --changed:#ffe08a; --added:#b7ebc0; --removed:#ffc2c2; --ink:#1d2329; --muted:#6b7580; --line:#d5dae0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
header#summary { background: #fff; border-bottom: 1px solid var(--line); padding: 14px 22px 10px; }
h1 { font-size: 19px; margin: 0 0 8px; }
.runs div { margin: 2px 0; }
.side { display: inline-block; width: 20px; text-align: center; border-radius: 4px; font-weight: 700; color: #fff; }
.side-a { background: #7a5cc7; } .side-b { background: #2f7fc1; }
.muted { color: var(--muted); font-size: 12px; }
.counts { display: flex; gap: 10px; margin: 10px 0 6px; flex-wrap: wrap; }
.count { border: 1px solid var(--line); border-radius: 6px; padding: 4px 12px; background: #fff; min-width: 90px; }
.count .n { display: block; font-size: 20px; font-weight: 700; }
.count .label { font-size: 12px; color: var(--muted); }
.count.st-unchanged { border-left: 6px solid #aab2bb; } .count.st-changed { border-left: 6px solid #e0a800; }
.count.st-added { border-left: 6px solid #2e9e4a; } .count.st-removed { border-left: 6px solid #d64545; }
.fields, .gold-flips { margin: 4px 0; color: #39424c; }
table.metrics { border-collapse: collapse; margin: 8px 0; background: #fff; }
table.metrics th, table.metrics td { border: 1px solid var(--line); padding: 2px 10px; text-align: right; }
table.metrics td:first-child, table.metrics th:first-child { text-align: left; }
.up { color: #1a7f37; font-weight: 700; } .down { color: #c62828; font-weight: 700; } .flat { color: var(--muted); }
#toolbar { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 22px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
#toolbar select { max-width: 280px; }
.legend span { display: inline-block; padding: 0 6px; border-radius: 3px; margin-right: 4px; font-size: 12px; }
main { padding: 10px 22px 40px; }
details.article { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; }
details.article > summary { cursor: pointer; padding: 8px 12px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
details.article[open] > summary { border-bottom: 1px solid var(--line); }
.aid { font-weight: 700; font-family: ui-monospace, Menlo, Consolas, monospace; }
.badge { font-size: 12px; border-radius: 10px; padding: 0 8px; }
.b-unchanged { background: var(--unchanged); } .b-changed { background: var(--changed); } .b-added { background: var(--added); } .b-removed { background: var(--removed); }
.b-presence { background: #333; color: #fff; } .b-lost { background: #c62828; color: #fff; } .b-gained { background: #1a7f37; color: #fff; }
.article-body { display: grid; grid-template-columns: minmax(280px, 2fr) 3fr; gap: 14px; padding: 10px 12px; }
@media (max-width: 1000px) { .article-body { grid-template-columns: 1fr; } }
.article-text { white-space: pre-wrap; font-family: Georgia, "Times New Roman", serif; font-size: 14px; line-height: 1.6; max-height: 80vh; overflow: auto; border-right: 1px solid var(--line); padding-right: 12px; }
.no-text { color: var(--muted); font-style: italic; }
mark.hl { border-radius: 2px; padding: 0 1px; cursor: pointer; color: inherit; }
mark.hl-unchanged { background: var(--unchanged); } mark.hl-changed { background: var(--changed); }
mark.hl-added { background: var(--added); } mark.hl-removed { background: var(--removed); }
mark.hl.multi { box-shadow: inset 0 -2px 0 #555; }
.flash { outline: 3px solid #2f7fc1; }
table.claims { width: 100%; border-collapse: collapse; table-layout: fixed; }
table.claims th { text-align: left; font-size: 12px; color: var(--muted); border-bottom: 1px solid var(--line); padding: 4px; }
table.claims th.st { width: 92px; }
tr.claim-row td { vertical-align: top; border-bottom: 1px solid #eceff2; padding: 6px 4px; }
tr.claim-row.hidden { display: none; }
tr.claim-row td.status { font-size: 12px; font-weight: 700; }
tr.st-unchanged td.status { border-left: 5px solid #aab2bb; } tr.st-changed td.status { border-left: 5px solid #e0a800; }
tr.st-added td.status { border-left: 5px solid #2e9e4a; } tr.st-removed td.status { border-left: 5px solid #d64545; }
.f { margin: 1px 0; overflow-wrap: anywhere; }
.f .k { display: inline-block; min-width: 70px; color: var(--muted); font-size: 12px; }
.f.chg { background: #fff3c4; font-weight: 600; border-radius: 3px; }
.f.chg .k::after { content: " ✎"; color: #b07d00; }
.f.para { color: #4d5661; font-size: 12px; font-style: italic; }
.f.ev { cursor: pointer; }
.stance { font-weight: 600; } .s-support { color: #1a7f37; } .s-oppose { color: #c62828; } .s-neutral { color: #555; } .s-mixed { color: #8250df; }
.empty-side { color: var(--muted); font-style: italic; }
.gold { font-size: 11px; display: block; margin-top: 4px; font-weight: 400; }
.gold.lost { color: #c62828; font-weight: 700; } .gold.gained { color: #1a7f37; font-weight: 700; }
.article-notes { grid-column: 1 / -1; font-size: 12px; color: #39424c; }
.article-notes ul { margin: 2px 0 2px 18px; padding: 0; }
"""

JS = r"""
(function () {
  'use strict';
  var DATA = JSON.parse(document.getElementById('diff-data').textContent);
  var STATUSES = ['unchanged', 'changed', 'added', 'removed'];
  var PRIORITY = { changed: 4, removed: 3, added: 2, unchanged: 1 };
  var FIELDS = [['speaker', 'speaker'], ['stance', 'stance'], ['target', 'target'], ['conditions', 'conditions'], ['evidence_span', 'evidence']];
  var state = { onlyChanged: false, speaker: '', stance: '' };
  var rendered = {};   // article index -> {details, rows: [tr], text: element}

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(v) { return v === null || v === undefined ? 'n/a' : Number(v).toFixed(3); }
  function fmtDelta(v) { return v === null || v === undefined ? 'n/a' : (v >= 0 ? '+' : '') + Number(v).toFixed(3); }

  function rowMatches(row) {
    if (state.onlyChanged && row.status === 'unchanged') return false;
    if (state.stance) {
      var sa = row.a && row.a.stance, sb = row.b && row.b.stance;
      if (sa !== state.stance && sb !== state.stance) return false;
    }
    if (state.speaker !== '' && row.speaker_ids.indexOf(Number(state.speaker)) < 0) return false;
    return true;
  }

  // --- article text with highlights: one sweep over sorted span boundaries -----------
  function spansOf(article) {
    var spans = [];
    article.claims.forEach(function (row, i) {
      if (!rowMatches(row)) return;
      var seen = {};
      [row.a_span, row.b_span].forEach(function (span) {
        if (!span) return;
        var key = span[0] + ':' + span[1];
        if (seen[key]) return;
        seen[key] = true;
        spans.push({ start: span[0], end: span[1], status: row.status, row: i });
      });
    });
    return spans;
  }

  function renderText(article, container) {
    container.textContent = '';
    var text = article.text;
    if (text === null || text === undefined) {
      container.appendChild(el('p', 'no-text', 'Article text not found (pass --articles): no highlights.'));
      return;
    }
    var n = text.length, events = [];
    spansOf(article).forEach(function (s, k) {
      var start = Math.max(0, Math.min(n, s.start)), end = Math.max(0, Math.min(n, s.end));
      if (end <= start) return;
      events.push([start, 1, k, s]);
      events.push([end, -1, k, s]);
    });
    events.sort(function (x, y) { return x[0] - y[0] || x[1] - y[1]; });
    var active = new Map(), pos = 0, frag = document.createDocumentFragment();
    function emit(upto) {
      if (upto <= pos) return;
      var piece = text.slice(pos, upto);
      if (active.size === 0) {
        frag.appendChild(document.createTextNode(piece));
      } else {
        var best = null, rows = [];
        active.forEach(function (s) {
          if (!best || PRIORITY[s.status] > PRIORITY[best.status]) best = s;
          if (rows.indexOf(s.row) < 0) rows.push(s.row);
        });
        var mark = el('mark', 'hl hl-' + best.status + (rows.length > 1 ? ' multi' : ''), piece);
        mark.dataset.rows = rows.join(' ');
        mark.title = rows.length + ' claim(s): ' + rows.map(function (r) { return '#' + (r + 1) + ' ' + article.claims[r].status; }).join(', ');
        frag.appendChild(mark);
      }
      pos = upto;
    }
    for (var i = 0; i < events.length; i++) {
      var ev = events[i];
      emit(ev[0]);
      if (ev[1] > 0) active.set(ev[2], ev[3]); else active.delete(ev[2]);
    }
    emit(n);
    container.appendChild(frag);
  }

  // --- side-by-side claim rows -------------------------------------------------------
  function fieldText(claim, name, span) {
    if (name === 'conditions') return claim.conditions.length ? claim.conditions.join('; ') : '—';
    if (name === 'evidence_span') return '“' + claim.evidence + '”' + (span ? '  [' + span[0] + '–' + span[1] + ']' : '  [unaligned]');
    return claim[name];
  }

  function sideCell(row, side) {
    var td = el('td', 'side-cell cell-' + side);
    var claim = row[side];
    if (!claim) {
      td.appendChild(el('div', 'empty-side', side === 'a' ? 'not in A' : 'not in B'));
      return td;
    }
    var span = side === 'a' ? row.a_span : row.b_span;
    FIELDS.forEach(function (f) {
      var name = f[0];
      var div = el('div', 'f f-' + name + (row.changed.indexOf(name) >= 0 ? ' chg' : '') + (name === 'evidence_span' ? ' ev' : ''));
      div.appendChild(el('span', 'k', f[1]));
      var value = el('span', name === 'stance' ? 'stance s-' + claim.stance : 'v', fieldText(claim, name, span));
      div.appendChild(value);
      if (name === 'evidence_span' && span) div.dataset.span = span[0];
      td.appendChild(div);
    });
    td.appendChild(el('div', 'f para', claim.claim));
    if (row.gold) {
      var g = side === 'a' ? row.gold.a : row.gold.b;
      td.appendChild(el('span', 'gold', g === null ? 'no gold match' : '✓ gold #' + g));
    }
    return td;
  }

  function claimRow(row, i) {
    var tr = el('tr', 'claim-row st-' + row.status);
    tr.dataset.status = row.status;
    tr.dataset.row = i;
    var status = el('td', 'status', row.status);
    if (row.status === 'changed') status.appendChild(el('span', 'gold', row.changed.join(', ').replace('evidence_span', 'evidence')));
    if (row.gold && row.gold.flip) status.appendChild(el('span', 'gold ' + row.gold.flip, 'gold ' + row.gold.flip));
    tr.appendChild(status);
    tr.appendChild(sideCell(row, 'a'));
    tr.appendChild(sideCell(row, 'b'));
    return tr;
  }

  function goldList(title, items) {
    var box = el('div');
    box.appendChild(el('b', null, title));
    var ul = el('ul');
    items.forEach(function (g) { ul.appendChild(el('li', null, '#' + g.index + ' ' + g.speaker + ' [' + g.stance + ']: “' + g.evidence + '”')); });
    box.appendChild(ul);
    return box;
  }

  function renderArticle(index) {
    var details = document.querySelector('details.article[data-index="' + index + '"]');
    var article = DATA.articles[index];
    var body = el('div', 'article-body');
    if (article.metrics || (article.gold_lost && article.gold_lost.length) || (article.gold_gained && article.gold_gained.length) || article.spans_dropped) {
      var notes = el('div', 'article-notes');
      if (article.metrics) {
        var m = article.metrics;
        notes.appendChild(el('div', null, ['claims_f1', 'claims_precision', 'claims_recall', 'stance_accuracy', 'speakers_f1'].map(function (k) {
          return k.replace('_', ' ') + ' ' + fmt(m[k].a) + ' → ' + fmt(m[k].b) + ' (' + fmtDelta(m[k].delta) + ')';
        }).join(' · ')));
      }
      if (article.gold_lost && article.gold_lost.length) notes.appendChild(goldList('Gold claims newly missed by B:', article.gold_lost));
      if (article.gold_gained && article.gold_gained.length) notes.appendChild(goldList('Gold claims newly matched by B:', article.gold_gained));
      if (article.spans_dropped) notes.appendChild(el('div', null, 'The runs saw a different version of this text: evidence compared by words, not offsets.'));
      body.appendChild(notes);
    }
    var textBox = el('div', 'article-text');
    body.appendChild(textBox);
    var table = el('table', 'claims');
    var head = el('tr');
    head.appendChild(el('th', 'st', 'status'));
    head.appendChild(el('th', null, 'A · ' + (DATA.runs.a.prompt || DATA.runs.a.run_id)));
    head.appendChild(el('th', null, 'B · ' + (DATA.runs.b.prompt || DATA.runs.b.run_id)));
    var thead = el('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = el('tbody');
    var rows = article.claims.map(function (row, i) { var tr = claimRow(row, i); tbody.appendChild(tr); return tr; });
    table.appendChild(tbody);
    var right = el('div', 'claims-box');
    right.appendChild(table);
    body.appendChild(right);
    details.appendChild(body);
    rendered[index] = { details: details, rows: rows, text: textBox };
    textBox.addEventListener('click', function (event) {
      var mark = event.target.closest('mark.hl');
      if (!mark) return;
      var tr = rows[Number(mark.dataset.rows.split(' ')[0])];
      if (tr) { tr.scrollIntoView({ block: 'center' }); flash(tr); }
    });
    tbody.addEventListener('click', function (event) {
      var ev = event.target.closest('.f.ev');
      if (!ev || ev.dataset.span === undefined) return;
      var tr = ev.closest('tr.claim-row');
      var target = textBox.querySelector('mark.hl[data-rows~="' + tr.dataset.row + '"]');
      if (target) { target.scrollIntoView({ block: 'center' }); flash(target); }
    });
    applyArticle(index);
  }

  function flash(node) {
    node.classList.add('flash');
    setTimeout(function () { node.classList.remove('flash'); }, 900);
  }

  // --- filters -------------------------------------------------------------------------
  function applyArticle(index) {
    var r = rendered[index];
    if (!r) return;
    var article = DATA.articles[index];
    article.claims.forEach(function (row, i) { r.rows[i].classList.toggle('hidden', !rowMatches(row)); });
    renderText(article, r.text);
  }

  function applyFilters() {
    var total = 0, visible = 0, filtering = state.onlyChanged || state.stance !== '' || state.speaker !== '';
    DATA.articles.forEach(function (article, index) {
      var count = 0;
      article.claims.forEach(function (row) { if (rowMatches(row)) count++; });
      total += article.claims.length;
      visible += count;
      var details = document.querySelector('details.article[data-index="' + index + '"]');
      details.hidden = filtering && count === 0;
      details.querySelector('.matching').textContent = filtering ? count + ' of ' + article.claims.length + ' rows match' : '';
      applyArticle(index);
    });
    var counter = document.getElementById('visible-rows');
    counter.textContent = visible + ' of ' + total + ' claim rows match the filters';
    counter.dataset.visible = visible;
  }

  // --- page ----------------------------------------------------------------------------
  function articleSummary(article, index) {
    var details = el('details', 'article');
    details.dataset.index = index;
    details.dataset.article = article.article_id;
    var summary = el('summary');
    summary.appendChild(el('span', 'aid', article.article_id));
    if (article.presence !== 'both') summary.appendChild(el('span', 'badge b-presence', article.presence.replace(/_/g, ' ')));
    summary.appendChild(el('span', 'muted', article.claims_a + ' → ' + article.claims_b + ' claims'));
    STATUSES.forEach(function (s) {
      if (article.counts[s]) {
        var badge = el('span', 'badge b-' + s, article.counts[s] + ' ' + s);
        badge.dataset.status = s;
        badge.dataset.count = article.counts[s];
        summary.appendChild(badge);
      }
    });
    if (article.gold_lost && article.gold_lost.length) summary.appendChild(el('span', 'badge b-lost', article.gold_lost.length + ' gold lost'));
    if (article.gold_gained && article.gold_gained.length) summary.appendChild(el('span', 'badge b-gained', article.gold_gained.length + ' gold gained'));
    if (article.metrics) {
      var f = article.metrics.claims_f1;
      summary.appendChild(el('span', 'muted', 'F1 ' + fmt(f.a) + ' → ' + fmt(f.b) + ' (' + fmtDelta(f.delta) + ')'));
    }
    summary.appendChild(el('span', 'muted matching'));
    details.appendChild(summary);
    details.addEventListener('toggle', function () {
      if (details.open && !rendered[index]) renderArticle(index);
    });
    return details;
  }

  function init() {
    var speakerSelect = document.getElementById('speaker-filter');
    DATA.speakers.slice().sort(function (x, y) { return x.label.localeCompare(y.label); }).forEach(function (s) {
      var option = el('option', null, s.label + ' (' + s.count + ')');
      option.value = String(s.id);
      speakerSelect.appendChild(option);
    });
    var list = document.getElementById('articles');
    var frag = document.createDocumentFragment();
    DATA.articles.forEach(function (article, index) { frag.appendChild(articleSummary(article, index)); });
    list.appendChild(frag);
    document.getElementById('only-changed').addEventListener('change', function (e) { state.onlyChanged = e.target.checked; applyFilters(); });
    speakerSelect.addEventListener('change', function (e) { state.speaker = e.target.value; applyFilters(); });
    document.getElementById('stance-filter').addEventListener('change', function (e) { state.stance = e.target.value; applyFilters(); });
    document.getElementById('expand-all').addEventListener('click', function () {
      DATA.articles.forEach(function (article, index) {
        var details = document.querySelector('details.article[data-index="' + index + '"]');
        if (!details.hidden) { if (!rendered[index]) renderArticle(index); details.open = true; }
      });
    });
    document.getElementById('collapse-all').addEventListener('click', function () {
      document.querySelectorAll('details.article[open]').forEach(function (d) { d.open = false; });
    });
    applyFilters();
    document.body.dataset.ready = 'true';
  }

  init();
})();
"""

TOOLBAR = """
<div id="toolbar">
  <label><input type="checkbox" id="only-changed"> only changes (hide unchanged)</label>
  <label>speaker <select id="speaker-filter"><option value="">all speakers</option></select></label>
  <label>stance <select id="stance-filter"><option value="">any stance</option><option value="support">support</option><option value="oppose">oppose</option><option value="neutral">neutral</option><option value="mixed">mixed</option></select></label>
  <button type="button" id="expand-all">expand all</button>
  <button type="button" id="collapse-all">collapse all</button>
  <span id="visible-rows" class="muted"></span>
  <span class="legend"><span class="b-unchanged">unchanged</span><span class="b-changed">changed</span><span class="b-added">added (B only)</span><span class="b-removed">removed (A only)</span></span>
</div>
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render_html(document: dict[str, Any], articles: Sequence[ArticleDiff]) -> str:
    """The whole review page as one string."""
    runs = document["runs"]
    title = f"Run diff: {run_label(runs['a'])} → {run_label(runs['b'])}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            f"<title>{_e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            header_html(document),
            TOOLBAR,
            '<main id="articles"></main>',
            '<noscript><p>The claim-by-claim view needs JavaScript; use `extractor diff --markdown` otherwise.</p></noscript>',
            f'<script type="application/json" id="diff-data">{json_for_script(page_data(document, articles))}</script>',
            f"<script>{JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
