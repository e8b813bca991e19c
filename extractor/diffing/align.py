"""Aligning the claims of two runs and classifying every pair.

Per article, run B's claims are matched to run A's with the evaluation matcher
(`match_claims(pred=b, gold=a, text, LENIENT)`), so "the same claim" means
exactly what it means in `extractor eval`. Every claim ends up in one row:

- **unchanged**: matched, and none of the compared fields differ;
- **changed**: matched, and at least one compared field differs; the row says
  which (`CHANGE_FIELDS`):
  - `stance`: the stance label differs;
  - `target`: the targets differ as word tokens (case, punctuation and
    diacritics are ignored);
  - `conditions`: the sets of conditions differ as word tokens (order ignored);
  - `speaker`: the speakers do not agree by the eval's alias/surname rule
    (`speakers_agree`), so "Putin" -> "Vladimir Putin" is not a change;
  - `evidence_span`: the evidence spans differ (offsets; or the evidence text,
    as tokens, when a span is unknown);
- **added**: a claim only in run B (no match in A);
- **removed**: a claim only in run A.

Fields outside that list (paraphrase, attribution, speaker type, aliases,
grounding) never make a row "changed"; they are listed in `other_fields`.

An article in only one run contributes only removed (only in A) or added
(only in B) rows. Spans are dropped (token overlap is used instead) when they
refer to a different version of the article text than the one found, or, with
no text, when the two runs saw different texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..articles import text_sha256
from ..evaluation.matching import (
    LENIENT,
    MatchPair,
    claim_span,
    match_claims,
    speakers_agree,
    word_tokens,
)
from ..schema import ArticleExtraction, Claim, ClaimDraft

RowStatus = Literal["unchanged", "changed", "added", "removed"]
STATUSES: tuple[RowStatus, ...] = ("unchanged", "changed", "added", "removed")
CHANGE_FIELDS: tuple[str, ...] = ("stance", "target", "conditions", "speaker", "evidence_span")
OTHER_FIELDS: tuple[str, ...] = ("claim", "attribution", "speaker_type", "speaker_aliases", "grounding")
ArticlePresence = Literal["both", "only_in_a", "only_in_b"]


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(word_tokens(text))


def _condition_set(conditions: Sequence[str]) -> frozenset[tuple[str, ...]]:
    return frozenset(t for t in (_tokens(c) for c in conditions) if t)


def changed_fields(a: Claim, b: Claim, text: str | None) -> list[str]:
    """Which of `CHANGE_FIELDS` differ between two matched claims (in that order)."""
    changed = []
    if a.stance != b.stance:
        changed.append("stance")
    if _tokens(a.target) != _tokens(b.target):
        changed.append("target")
    if _condition_set(a.conditions) != _condition_set(b.conditions):
        changed.append("conditions")
    if not speakers_agree(a, b):
        changed.append("speaker")
    span_a, span_b = claim_span(a, text), claim_span(b, text)
    if span_a is not None and span_b is not None:
        if span_a != span_b:
            changed.append("evidence_span")
    elif _tokens(a.evidence) != _tokens(b.evidence):
        changed.append("evidence_span")
    return changed


def other_changed_fields(a: Claim, b: Claim) -> list[str]:
    """Differences that do not make a row "changed" (shown for context only)."""
    found = []
    if _tokens(a.claim) != _tokens(b.claim):
        found.append("claim")
    if a.attribution != b.attribution:
        found.append("attribution")
    if a.speaker_type != b.speaker_type:
        found.append("speaker_type")
    if {_tokens(n) for n in a.speaker_aliases} != {_tokens(n) for n in b.speaker_aliases}:
        found.append("speaker_aliases")
    if a.grounding != b.grounding:
        found.append("grounding")
    return found


@dataclass
class ClaimRow:
    """One row of an article's diff: a matched pair, or a claim on one side only."""

    status: RowStatus
    a_index: int | None
    b_index: int | None
    a: Claim | None
    b: Claim | None
    a_span: tuple[int, int] | None = None
    b_span: tuple[int, int] | None = None
    changed: list[str] = field(default_factory=list)
    other_fields: list[str] = field(default_factory=list)
    overlap: float | None = None
    overlap_method: str | None = None
    speakers_agree: bool | None = None
    gold_a: int | None = None
    gold_b: int | None = None

    @property
    def gold_flip(self) -> str | None:
        """"lost" when A's claim matched gold and B's does not (or B has none), "gained" the reverse."""
        if self.gold_a is not None and self.gold_b is None:
            return "lost"
        if self.gold_a is None and self.gold_b is not None:
            return "gained"
        return None

    def sort_key(self) -> tuple[int, int, int]:
        spans = [s for s in (self.a_span, self.b_span) if s is not None]
        start = min(s[0] for s in spans) if spans else 1 << 60
        return (start, self.a_index if self.a_index is not None else 1 << 30, self.b_index or 0)

    def as_dict(self, with_gold: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "status": self.status,
            "changed": list(self.changed),
            "other_fields": list(self.other_fields),
            "a_index": self.a_index,
            "b_index": self.b_index,
            "a": self.a.model_dump(mode="json") if self.a is not None else None,
            "b": self.b.model_dump(mode="json") if self.b is not None else None,
            "a_span": list(self.a_span) if self.a_span is not None else None,
            "b_span": list(self.b_span) if self.b_span is not None else None,
            "overlap": round(self.overlap, 4) if self.overlap is not None else None,
            "overlap_method": self.overlap_method,
            "speakers_agree": self.speakers_agree,
        }
        if with_gold:
            row["gold"] = {"a": self.gold_a, "b": self.gold_b, "flip": self.gold_flip}
        return row


@dataclass
class ArticleDiff:
    article_id: str
    presence: ArticlePresence
    text: str | None
    rows: list[ClaimRow]
    a_claims: int
    b_claims: int
    spans_dropped: bool = False
    gold_claims: list[ClaimDraft] | None = None
    gold_lost: list[int] = field(default_factory=list)
    gold_gained: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            counts[row.status] += 1
        return counts


def _usable(extraction: ArticleExtraction | None, text: str | None, other_sha: str | None) -> tuple[list[Claim], bool]:
    """The extraction's claims, spans dropped when they refer to another text."""
    if extraction is None:
        return [], False
    stale = text is not None and text_sha256(text) != extraction.article_sha256
    # No text to check against: spans are only comparable when both runs saw the same text.
    if text is None and other_sha is not None and other_sha != extraction.article_sha256:
        stale = True
    if not stale:
        return list(extraction.claims), False
    return [c.model_copy(update={"evidence_span": None}) for c in extraction.claims], True


def align_claims(a_claims: Sequence[Claim], b_claims: Sequence[Claim], text: str | None) -> list[ClaimRow]:
    """Rows for one article: matched pairs classified, then B-only and A-only claims."""
    pairs: list[MatchPair] = match_claims(b_claims, a_claims, text, LENIENT)
    rows: list[ClaimRow] = []
    matched_a = {p.gold_index for p in pairs}
    matched_b = {p.pred_index for p in pairs}
    for pair in pairs:
        a, b = a_claims[pair.gold_index], b_claims[pair.pred_index]
        changed = changed_fields(a, b, text)
        rows.append(
            ClaimRow(
                status="changed" if changed else "unchanged",
                a_index=pair.gold_index,
                b_index=pair.pred_index,
                a=a,
                b=b,
                a_span=claim_span(a, text),
                b_span=claim_span(b, text),
                changed=changed,
                other_fields=other_changed_fields(a, b),
                overlap=pair.overlap,
                overlap_method=pair.overlap_method,
                speakers_agree=pair.speakers_agree,
            )
        )
    for i, a in enumerate(a_claims):
        if i not in matched_a:
            rows.append(ClaimRow("removed", i, None, a, None, a_span=claim_span(a, text)))
    for j, b in enumerate(b_claims):
        if j not in matched_b:
            rows.append(ClaimRow("added", None, j, None, b, b_span=claim_span(b, text)))
    rows.sort(key=ClaimRow.sort_key)
    return rows


def mark_gold(article: ArticleDiff, a_claims: Sequence[Claim], b_claims: Sequence[Claim], gold: Sequence[ClaimDraft]) -> None:
    """Match each run to gold (as `extractor eval` does) and record flips on rows and gold claims."""
    text = article.text
    a_to_gold = {p.pred_index: p.gold_index for p in match_claims(a_claims, gold, text, LENIENT)}
    b_to_gold = {p.pred_index: p.gold_index for p in match_claims(b_claims, gold, text, LENIENT)}
    for row in article.rows:
        row.gold_a = a_to_gold.get(row.a_index) if row.a_index is not None else None
        row.gold_b = b_to_gold.get(row.b_index) if row.b_index is not None else None
    matched_a, matched_b = set(a_to_gold.values()), set(b_to_gold.values())
    article.gold_claims = list(gold)
    article.gold_lost = sorted(matched_a - matched_b)
    article.gold_gained = sorted(matched_b - matched_a)


def diff_article(
    article_id: str,
    a: ArticleExtraction | None,
    b: ArticleExtraction | None,
    text: str | None,
    gold: Sequence[ClaimDraft] | None = None,
) -> ArticleDiff:
    """The diff of one article between run A and run B (either may be missing)."""
    a_claims, a_dropped = _usable(a, text, b.article_sha256 if b else None)
    b_claims, b_dropped = _usable(b, text, a.article_sha256 if a else None)
    presence: ArticlePresence = "both" if a and b else ("only_in_a" if a else "only_in_b")
    article = ArticleDiff(
        article_id=article_id,
        presence=presence,
        text=text,
        rows=align_claims(a_claims, b_claims, text),
        a_claims=len(a_claims),
        b_claims=len(b_claims),
        spans_dropped=a_dropped or b_dropped,
    )
    if gold is not None:
        mark_gold(article, a_claims, b_claims, gold)
    return article


def diff_predictions(
    a: dict[str, ArticleExtraction],
    b: dict[str, ArticleExtraction],
    texts: dict[str, str],
    gold: dict[str, Sequence[ClaimDraft]] | None = None,
) -> list[ArticleDiff]:
    """Diff every article of either run, in article-id order.

    With `gold`, articles that have a gold file get per-claim gold flips.
    """
    articles = []
    for article_id in sorted(set(a) | set(b)):
        article_gold = gold.get(article_id) if gold is not None else None
        articles.append(diff_article(article_id, a.get(article_id), b.get(article_id), texts.get(article_id), article_gold))
    return articles
