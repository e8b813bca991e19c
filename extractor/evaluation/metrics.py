"""Scoring a run against gold: claims, speakers, stance, conditions, grounding.

Conventions (all documented in `extractor eval --help` as well):

- `prf(tp, n_pred, n_gold)`: precision = tp / n_pred, recall = tp / n_gold.
  A 0/0 ratio is 1.0 only when *both* sides are empty (nothing to find and
  nothing claimed); when one side is empty and the other is not, precision,
  recall and F1 are all 0. So an empty run scores precision 0, recall 0, F1 0.
- Claims are matched per article with `match_claims` at the lenient and strict
  thresholds. Micro scores pool the matched/predicted/gold counts over all
  scored articles; macro scores average the per-article P, R and F1.
- Scored articles are those with a gold file. A gold article missing from the
  run scores as if nothing was predicted (every gold claim missed). A run
  article without gold is "unscored": it counts only in `grounding`.
- Speakers: per article, claims are grouped into speaker entities (names and
  aliases that agree); the predicted and gold entity sets are matched
  one-to-one; P/R/F1 per article, then averaged over scored articles.
- Stance and conditions are measured on the lenient matched pairs. A metric
  over no pairs at all is `None` (shown as n/a).
- Stance confusion: `confusion[gold][predicted]` over support/oppose/neutral/
  mixed; macro-F1 is the mean of the support-class and oppose-class F1.
- Condition presence per matched pair (has conditions = non-empty list):
  TP both non-empty, FP predicted only, FN gold only. Content agreement is
  the token F1 between the joined condition texts (sets of word tokens),
  averaged over pairs where both sides have conditions.
- Grounding: share of predicted claims grounded exact/fuzzy/unaligned, over
  every article in the run (gold not needed).
- `ci95`: a percentile bootstrap over scored articles (resampled with
  replacement, `BOOTSTRAP_RESAMPLES` times, fixed `BOOTSTRAP_SEED`) of micro F1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..articles import text_sha256
from ..schema import STANCES, ArticleExtraction, Claim, ClaimDraft, GoldFile
from .matching import (
    LENIENT,
    STRICT,
    ClaimLike,
    MatchPair,
    match_claims,
    name_sets_agree,
    pair_signals,
    speaker_names,
    word_tokens,
)

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20240611
GROUNDING_STATUSES = ("exact", "fuzzy", "unaligned")
STANCE_F1_CLASSES = ("support", "oppose")
DECIMALS = 4
REPORT_VERSION = 1


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, float | None]:
        return {"precision": rounded(self.precision), "recall": rounded(self.recall), "f1": rounded(self.f1)}


def prf(tp: int, n_pred: int, n_gold: int) -> PRF:
    """Precision, recall, F1; 0/0 is 1.0 only when both sides are empty."""
    if n_pred == 0 and n_gold == 0:
        return PRF(1.0, 1.0, 1.0)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def mean_prf(scores: Sequence[PRF]) -> PRF | None:
    import numpy as np  # numpy and scipy are imported where scoring runs, not by every command

    if not scores:
        return None
    return PRF(
        float(np.mean([s.precision for s in scores])),
        float(np.mean([s.recall for s in scores])),
        float(np.mean([s.f1 for s in scores])),
    )


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def gold_claim_key(index: int, claim: ClaimLike) -> str:
    """A gold claim's stable key for baselines: `index|speaker|evidence prefix`."""
    evidence = " ".join(claim.evidence.split())[:40]
    return f"{index}|{claim.speaker}|{evidence}"


# --- speakers -----------------------------------------------------------------


def speaker_entities(claims: Sequence[ClaimLike]) -> list[list[tuple[str, ...]]]:
    """Group claims' speakers into entities: the connected components of
    "names agree" (alias and surname aware), so the grouping does not depend
    on the order of the claims."""
    names = [n for n in (speaker_names(c) for c in claims) if n]
    # Claims with the same names always agree (a non-empty name agrees with
    # itself), so the components are computed over the distinct name lists:
    # a handful per article instead of one node per claim.
    distinct = list(dict.fromkeys(tuple(n) for n in names))
    parent = list(range(len(distinct)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(distinct)):
        for j in range(i + 1, len(distinct)):
            if root(i) != root(j) and name_sets_agree(distinct[i], distinct[j]):
                parent[root(j)] = root(i)
    index = {key: i for i, key in enumerate(distinct)}
    groups: dict[int, list[tuple[str, ...]]] = {}  # by first claim, in claim order
    for claim_names in names:
        entity = groups.setdefault(root(index[tuple(claim_names)]), [])
        entity.extend(n for n in claim_names if n not in entity)
    return list(groups.values())


def speaker_scores(pred: Sequence[ClaimLike], gold: Sequence[ClaimLike]) -> PRF:
    """Set-level P/R/F1 of speaker entities, matched one-to-one (alias/surname aware)."""
    pred_entities, gold_entities = speaker_entities(pred), speaker_entities(gold)
    tp = 0
    if pred_entities and gold_entities:
        import numpy as np

        agree = np.array(
            [[1.0 if name_sets_agree(p, g) else 0.0 for g in gold_entities] for p in pred_entities]
        )
        from scipy.optimize import linear_sum_assignment  # imported on first use: ~0.4 s
        rows, cols = linear_sum_assignment(agree, maximize=True)
        tp = int(agree[rows, cols].sum())
    return prf(tp, len(pred_entities), len(gold_entities))


# --- stance and conditions ------------------------------------------------------


def stance_confusion(pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """`confusion[gold][predicted]` counts over the four stances; pairs are (gold, pred)."""
    matrix: dict[str, dict[str, int]] = {g: dict.fromkeys(STANCES, 0) for g in STANCES}
    for gold, pred in pairs:
        matrix[gold][pred] += 1
    return matrix


def stance_accuracy(pairs: Sequence[tuple[str, str]]) -> float | None:
    if not pairs:
        return None
    return sum(1 for gold, pred in pairs if gold == pred) / len(pairs)


def stance_macro_f1(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Mean of the support-class F1 and the oppose-class F1 over (gold, pred) pairs."""
    if not pairs:
        return None
    f1s = []
    for label in STANCE_F1_CLASSES:
        tp = sum(1 for gold, pred in pairs if gold == label and pred == label)
        n_pred = sum(1 for _, pred in pairs if pred == label)
        n_gold = sum(1 for gold, _ in pairs if gold == label)
        f1s.append(prf(tp, n_pred, n_gold).f1)
    return sum(f1s) / len(f1s)


def cohen_kappa(pairs: Sequence[tuple[str, str]], labels: Sequence[str] = STANCES) -> float | None:
    """Cohen's kappa (p_o - p_e) / (1 - p_e) of two raters' labels; None without pairs.

    When chance agreement p_e is 1 (both raters used one and the same label
    throughout) kappa is taken as 1.0.
    """
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(1 for a, b in pairs if a == b) / n
    count_a = Counter(a for a, _ in pairs)
    count_b = Counter(b for _, b in pairs)
    expected = sum((count_a[label] / n) * (count_b[label] / n) for label in labels)
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def conditions_text_f1(pred: Sequence[str], gold: Sequence[str]) -> float:
    """Token F1 between the joined condition texts (sets of word tokens)."""
    pred_tokens, gold_tokens = set(word_tokens(" ".join(pred))), set(word_tokens(" ".join(gold)))
    common = len(pred_tokens & gold_tokens)
    return prf(common, len(pred_tokens), len(gold_tokens)).f1


@dataclass
class ConditionCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    pairs: int = 0
    content: list[float] = field(default_factory=list)

    def add(self, pred: Sequence[str], gold: Sequence[str]) -> None:
        self.pairs += 1
        if pred and gold:
            self.tp += 1
            self.content.append(conditions_text_f1(pred, gold))
        elif pred:
            self.fp += 1
        elif gold:
            self.fn += 1

    def as_dict(self) -> dict[str, Any]:
        presence: dict[str, float | None] = dict.fromkeys(("precision", "recall", "f1"))
        if self.pairs:
            presence = dict(prf(self.tp, self.tp + self.fp, self.tp + self.fn).as_dict())
        import numpy as np

        content = float(np.mean(self.content)) if self.content else None
        return {
            "n": self.pairs,
            **presence,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "content_f1": rounded(content),
            "content_n": len(self.content),
        }


# --- per article ------------------------------------------------------------------


@dataclass
class ArticleScore:
    """One scored article: counts, matches and the pairs stance/conditions use."""

    article_id: str
    in_run: bool
    gold_claims: list[ClaimDraft]
    pred_claims: list[Claim]
    lenient: list[MatchPair]
    strict: list[MatchPair]
    speakers: PRF

    @property
    def stance_pairs(self) -> list[tuple[str, str]]:
        return [(self.gold_claims[p.gold_index].stance, self.pred_claims[p.pred_index].stance) for p in self.lenient]

    def claim_scores(self, strict: bool = False) -> PRF:
        pairs = self.strict if strict else self.lenient
        return prf(len(pairs), len(self.pred_claims), len(self.gold_claims))

    def row(self) -> dict[str, Any]:
        matched = {p.gold_index for p in self.lenient}
        keys = [gold_claim_key(i, c) for i, c in enumerate(self.gold_claims)]
        lenient = self.claim_scores()
        return {
            "article_id": self.article_id,
            "status": "scored" if self.in_run else "missing_from_run",
            "gold": len(self.gold_claims),
            "predicted": len(self.pred_claims),
            "matched_lenient": len(self.lenient),
            "matched_strict": len(self.strict),
            **lenient.as_dict(),
            "strict_f1": rounded(self.claim_scores(strict=True).f1),
            "speakers_f1": rounded(self.speakers.f1),
            "stance_accuracy": rounded(stance_accuracy(self.stance_pairs)),
            "matched_gold": [k for i, k in enumerate(keys) if i in matched],
            "missed_gold": [k for i, k in enumerate(keys) if i not in matched],
        }


def usable_predictions(extraction: ArticleExtraction, text: str | None) -> list[Claim]:
    """The run's claims, with spans dropped when they refer to a different text."""
    if text is None or text_sha256(text) == extraction.article_sha256:
        return list(extraction.claims)
    return [c.model_copy(update={"evidence_span": None}) for c in extraction.claims]


def score_article(
    article_id: str, pred: list[Claim], gold: list[ClaimDraft], text: str | None, in_run: bool = True
) -> ArticleScore:
    # The pair signals do not depend on the threshold: computed once for both.
    signals = pair_signals(pred, gold, text) if pred and gold else None
    return ArticleScore(
        article_id=article_id,
        in_run=in_run,
        gold_claims=gold,
        pred_claims=pred,
        lenient=match_claims(pred, gold, text, LENIENT, signals),
        strict=match_claims(pred, gold, text, STRICT, signals),
        speakers=speaker_scores(pred, gold),
    )


# --- aggregate ----------------------------------------------------------------------


def bootstrap_f1_ci(
    matched: Sequence[int],
    predicted: Sequence[int],
    gold: Sequence[int],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> list[float] | None:
    """95% percentile bootstrap interval of micro F1, resampling articles."""
    import numpy as np

    if not matched:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(matched), size=(resamples, len(matched)))
    tp = np.asarray(matched)[picks].sum(axis=1)
    total = np.asarray(predicted)[picks].sum(axis=1) + np.asarray(gold)[picks].sum(axis=1)
    # Micro F1 = 2·TP / (predicted + gold); 1.0 when both are empty (see `prf`).
    f1 = np.where(total > 0, 2 * tp / np.maximum(total, 1), 1.0)
    low, high = np.percentile(f1, [2.5, 97.5])
    return [round(float(low), DECIMALS), round(float(high), DECIMALS)]


def claims_section(scores: Sequence[ArticleScore], strict: bool) -> dict[str, Any]:
    matched = [len(s.strict if strict else s.lenient) for s in scores]
    predicted = [len(s.pred_claims) for s in scores]
    gold = [len(s.gold_claims) for s in scores]
    micro = prf(sum(matched), sum(predicted), sum(gold))
    macro = mean_prf([s.claim_scores(strict) for s in scores])
    return {
        "matched": sum(matched),
        **micro.as_dict(),
        "ci95": bootstrap_f1_ci(matched, predicted, gold),
        "macro": macro.as_dict() if macro else dict.fromkeys(("precision", "recall", "f1")),
    }


def grounding_section(predictions: dict[str, ArticleExtraction]) -> dict[str, Any]:
    counts: Counter[str] = Counter(c.grounding for e in predictions.values() for c in e.claims)
    total = sum(counts.values())
    shares = {s: rounded(counts[s] / total) if total else None for s in GROUNDING_STATUSES}
    return {"n": total, **shares, "counts": {s: counts[s] for s in GROUNDING_STATUSES}}


def evaluate(
    predictions: dict[str, ArticleExtraction],
    gold: dict[str, GoldFile],
    texts: dict[str, str],
) -> dict[str, Any]:
    """Score a run's predictions against gold files; returns the report document.

    `texts` maps article id to article text (missing texts fall back to token
    overlap). Top-level keys: meta, claims, speakers, stance, conditions,
    grounding, articles.
    """
    scores = []
    for article_id in sorted(gold):
        text = texts.get(article_id)
        extraction = predictions.get(article_id)
        pred = usable_predictions(extraction, text) if extraction else []
        scores.append(score_article(article_id, pred, gold[article_id].claims, text, extraction is not None))

    stance_pairs = [pair for s in scores for pair in s.stance_pairs]
    conditions = ConditionCounts()
    for s in scores:
        for p in s.lenient:
            conditions.add(s.pred_claims[p.pred_index].conditions, s.gold_claims[p.gold_index].conditions)
    speakers = mean_prf([s.speakers for s in scores])
    unscored = sorted(set(predictions) - set(gold))
    mismatched = sorted(
        a for a in gold if a in predictions and a in texts and text_sha256(texts[a]) != predictions[a].article_sha256
    )
    return {
        "meta": {
            "report_version": REPORT_VERSION,
            "scored_articles": len(scores),
            "unscored_articles": len(unscored),
            "unscored": unscored,
            "missing_from_run": [s.article_id for s in scores if not s.in_run],
            "without_text": sorted(a for a in gold if a not in texts),
            "text_mismatch": mismatched,
            "thresholds": {"lenient": LENIENT.describe(), "strict": STRICT.describe()},
            "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED},
        },
        "claims": {
            "gold": sum(len(s.gold_claims) for s in scores),
            "predicted": sum(len(s.pred_claims) for s in scores),
            "lenient": claims_section(scores, strict=False),
            "strict": claims_section(scores, strict=True),
        },
        "speakers": speakers.as_dict() if speakers else dict.fromkeys(("precision", "recall", "f1")),
        "stance": {
            "n": len(stance_pairs),
            "accuracy": rounded(stance_accuracy(stance_pairs)),
            "macro_f1": rounded(stance_macro_f1(stance_pairs)),
            "confusion": stance_confusion(stance_pairs),
        },
        "conditions": conditions.as_dict(),
        "grounding": grounding_section(predictions),
        "articles": [s.row() for s in scores],
    }
