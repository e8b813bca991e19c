"""One-to-one matching of claims: predicted vs gold, or run vs run.

A pair of claims is scored on two signals:

- **Speaker agreement** (yes/no): names are normalised (Unicode diacritics
  removed, casefolded, punctuation and possessive 's dropped, honorifics and
  office titles such as "President", "Mr." or "the" removed unless they are
  the last word, as in "Kremlin spokesman"). Two claims agree
  when any name of one (speaker or alias) agrees with any name of the other.
  Two normalised names agree when they are equal, or when they end in the same
  word and every word of the shorter one occurs in the longer one; that makes
  the surname rule ("Putin" = "Vladimir Putin") and the organisation rule
  ("State Department" = "U.S. State Department") one rule, while "Joe Biden"
  and "Hunter Biden" stay different.
- **Evidence overlap** in [0, 1]: the character IoU (intersection over union)
  of the two evidence spans when both are known. A claim's span is its
  `evidence_span` (a grounded prediction), else the first occurrence of its
  `evidence` in the article text (gold evidence is verbatim). When either span
  is unknown (unaligned prediction, no article text, text not containing the
  evidence) the overlap falls back to the **token Jaccard index** of the two
  evidence strings (|A ∩ B| / |A ∪ B| over sets of normalised word tokens),
  the token analogue of the character IoU, so both methods share thresholds.

A pair is kept only when it clears a `MatchThreshold`:

- `LENIENT`: (speakers agree and overlap >= 0.3) or overlap >= 0.5.
- `STRICT`: speakers agree and overlap >= 0.6.

Among the pairs a threshold admits, `match_claims` picks a one-to-one
assignment (`scipy.optimize.linear_sum_assignment`) that first maximises the
number of matched pairs, then their total similarity (overlap + speaker
agreement), and finally, as a tie-break between otherwise equal candidates
(two claims quoting the same sentence), the token Jaccard of claim + target text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from ..schema import ClaimDraft

if TYPE_CHECKING:  # numpy is imported where matching runs, not by importers of the name helpers
    import numpy as np

# `Claim` (a prediction with `evidence_span`) is a `ClaimDraft`; gold claims are drafts.
ClaimLike = ClaimDraft
OverlapMethod = Literal["span", "token"]

# Words dropped from speaker names wherever they occur.
NAME_TITLES = frozenset(
    (
        "the", "a", "an", "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady", "madam",
        "president", "vice", "prime", "minister", "premier", "chancellor", "secretary",
        "senator", "sen", "rep", "representative", "congressman", "congresswoman", "gov", "governor", "mayor",
        "king", "queen", "prince", "princess", "pope", "sheikh", "emir",
        "gen", "general", "col", "colonel", "lt", "lieutenant", "maj", "major", "capt", "captain", "adm", "admiral", "sgt",
        "ambassador", "spokesman", "spokeswoman", "spokesperson", "chairman", "chairwoman",
        "judge", "justice", "deputy", "his", "her", "excellency", "jr", "sr",
    )
)

_WORD = re.compile(r"\w+")
_POSSESSIVE = re.compile(r"['’]s\b")


@dataclass(frozen=True)
class MatchThreshold:
    """When a candidate pair counts as a match.

    A pair is admitted when the speakers agree and the evidence overlap is at
    least `with_speaker`, or, if `without_speaker` is set, when the overlap
    alone is at least `without_speaker`.
    """

    name: str
    with_speaker: float
    without_speaker: float | None = None

    def admits(self, speakers_agree: bool, overlap: float) -> bool:
        if speakers_agree and overlap >= self.with_speaker:
            return True
        return self.without_speaker is not None and overlap >= self.without_speaker

    def describe(self) -> str:
        text = f"speaker agrees and evidence overlap >= {self.with_speaker}"
        if self.without_speaker is not None:
            text = f"({text}) or evidence overlap >= {self.without_speaker}"
        return text


LENIENT = MatchThreshold("lenient", with_speaker=0.3, without_speaker=0.5)
"""Lenient: (speakers agree and overlap >= 0.3) or overlap >= 0.5."""

STRICT = MatchThreshold("strict", with_speaker=0.6, without_speaker=None)
"""Strict: speakers agree and overlap >= 0.6."""

THRESHOLDS: tuple[MatchThreshold, ...] = (LENIENT, STRICT)

# Weight of the claim-text tie-break relative to overlap + speaker (max 2.0).
TIE_BREAK_WEIGHT = 0.01


@dataclass(frozen=True)
class MatchPair:
    """A matched pair: indexes into the `pred` and `gold` lists given to `match_claims`."""

    pred_index: int
    gold_index: int
    speakers_agree: bool
    overlap: float
    overlap_method: OverlapMethod
    similarity: float


def strip_diacritics(text: str) -> str:
    if text.isascii():  # nothing to decompose or strip
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def word_tokens(text: str) -> list[str]:
    """Casefolded, diacritic-free word tokens (Unicode `\\w+`)."""
    return list(_word_tokens(text))


@lru_cache(maxsize=65536)
def _word_tokens(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(strip_diacritics(text).casefold()))


@lru_cache(maxsize=65536)
def token_set(text: str) -> frozenset[str]:
    """The set of `word_tokens` of `text` (cached: gold texts recur across runs)."""
    return frozenset(_word_tokens(text))


def _jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def token_jaccard(a: str, b: str) -> float:
    """|A ∩ B| / |A ∪ B| over sets of word tokens; 1.0 when both are empty."""
    return _jaccard(token_set(a), token_set(b))


@lru_cache(maxsize=65536)
def normalize_name(name: str) -> tuple[str, ...]:
    """A speaker name as words, without diacritics, case, punctuation or titles.

    Title words are dropped except as the last word, which names the role when
    there is no name after it: "Russian President Vladimir Putin's" ->
    ("russian", "vladimir", "putin"), but "Kremlin spokesman" stays
    ("kremlin", "spokesman") so it does not collapse into "Kremlin".
    """
    words = word_tokens(_POSSESSIVE.sub("", name))
    last = len(words) - 1
    return tuple(w for i, w in enumerate(words) if i == last or w not in NAME_TITLES)


def names_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Equal, or same last word with every word of the shorter in the longer."""
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return shorter[-1] == longer[-1] and set(shorter) <= set(longer)


def speaker_names(claim: ClaimLike) -> list[tuple[str, ...]]:
    """The normalised speaker name and aliases of a claim (empty ones dropped)."""
    names = [normalize_name(n) for n in [claim.speaker, *claim.speaker_aliases]]
    return [n for n in names if n]


def name_sets_agree(a: Sequence[tuple[str, ...]], b: Sequence[tuple[str, ...]]) -> bool:
    """Whether any name of `a` agrees with any name of `b` (`names_agree`)."""
    for x in a:
        if not x:
            continue
        last = x[-1]
        for y in b:
            # names_agree needs the same last word: checked here first, cheaply.
            if y and y[-1] == last and names_agree(x, y):
                return True
    return False


def speakers_agree(a: ClaimLike, b: ClaimLike) -> bool:
    """Whether any name (speaker or alias) of `a` agrees with any name of `b`."""
    return name_sets_agree(speaker_names(a), speaker_names(b))


def claim_span(claim: ClaimLike, text: str | None) -> tuple[int, int] | None:
    """The claim's evidence as `[start, end)` offsets into `text`, or None.

    A grounded prediction's `evidence_span` wins (it is trusted even without
    `text`, so run-vs-run comparisons work on offsets alone, but rejected when
    it falls outside a given `text`); otherwise the first verbatim occurrence
    of `evidence` in `text`.
    """
    span = getattr(claim, "evidence_span", None)
    if span is not None:
        if span.end <= span.start or (text is not None and span.end > len(text)):
            return None
        return (span.start, span.end)
    if text is None or not claim.evidence:
        return None
    start = text.find(claim.evidence)
    return None if start < 0 else (start, start + len(claim.evidence))


def span_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Character IoU of two half-open spans."""
    intersection = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - intersection
    return intersection / union if union else 0.0


def evidence_overlap(a: ClaimLike, b: ClaimLike, text: str | None) -> tuple[float, OverlapMethod]:
    """Character IoU of the two spans, or token Jaccard when a span is unknown."""
    span_a, span_b = claim_span(a, text), claim_span(b, text)
    if span_a is not None and span_b is not None:
        return span_iou(span_a, span_b), "span"
    return token_jaccard(a.evidence, b.evidence), "token"


def claim_text_similarity(a: ClaimLike, b: ClaimLike) -> float:
    """Token Jaccard of claim + target text (only used to break ties)."""
    return token_jaccard(f"{a.claim} {a.target}", f"{b.claim} {b.target}")


@dataclass(frozen=True)
class PairSignals:
    """Speaker agreement and evidence overlap of every (pred, gold) pair of one
    article, computed once and shared by the thresholds (`match_claims(...,
    signals=...)`): per claim, names, spans and token sets are computed once,
    speaker agreement once per distinct pair of name sets, and span IoU for all
    pairs at once with numpy."""

    agree: np.ndarray  # bool, pred x gold
    overlap: np.ndarray  # float
    by_span: np.ndarray  # bool: overlap is a span IoU (else token Jaccard)
    pred: Sequence[ClaimLike]
    gold: Sequence[ClaimLike]

    def tie_break(self, i: int, j: int) -> float:
        """Between otherwise equal candidates: the same stance first, then
        `claim_text_similarity(pred[i], gold[j])` from cached token sets, so the
        assignment does not depend on the order of the predictions."""
        same_stance = 1.0 if self.pred[i].stance == self.gold[j].stance else 0.0
        return same_stance + _jaccard(_claim_text_tokens(self.pred[i]), _claim_text_tokens(self.gold[j]))


def _claim_text_tokens(claim: ClaimLike) -> frozenset[str]:
    return token_set(f"{claim.claim} {claim.target}")


def _name_key(claim: ClaimLike) -> tuple[tuple[str, ...], ...]:
    return tuple(speaker_names(claim))


def pair_signals(pred: Sequence[ClaimLike], gold: Sequence[ClaimLike], text: str | None) -> PairSignals:
    """The signals `match_claims` thresholds, for every pair (same values as
    `speakers_agree` and `evidence_overlap` pair by pair)."""
    import numpy as np

    pred_keys = [_name_key(c) for c in pred]
    gold_keys = [_name_key(c) for c in gold]
    distinct_pred = {k: i for i, k in enumerate(dict.fromkeys(pred_keys))}
    distinct_gold = {k: i for i, k in enumerate(dict.fromkeys(gold_keys))}
    table = np.array(
        [[name_sets_agree(p, g) for g in distinct_gold] for p in distinct_pred], dtype=bool
    ).reshape(len(distinct_pred), len(distinct_gold))
    agree = table[np.ix_([distinct_pred[k] for k in pred_keys], [distinct_gold[k] for k in gold_keys])]

    pred_spans = [claim_span(c, text) for c in pred]
    gold_spans = [claim_span(c, text) for c in gold]
    p_known = np.array([s is not None for s in pred_spans], dtype=bool)
    g_known = np.array([s is not None for s in gold_spans], dtype=bool)
    p_start = np.array([s[0] if s else 0 for s in pred_spans], dtype=np.int64)
    p_end = np.array([s[1] if s else 0 for s in pred_spans], dtype=np.int64)
    g_start = np.array([s[0] if s else 0 for s in gold_spans], dtype=np.int64)
    g_end = np.array([s[1] if s else 0 for s in gold_spans], dtype=np.int64)
    intersection = np.maximum(
        0, np.minimum(p_end[:, None], g_end[None, :]) - np.maximum(p_start[:, None], g_start[None, :])
    )
    union = (p_end - p_start)[:, None] + (g_end - g_start)[None, :] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        overlap = np.where(union != 0, intersection / np.where(union != 0, union, 1), 0.0)
    by_span = p_known[:, None] & g_known[None, :]
    if not by_span.all():
        pred_ev = [token_set(c.evidence) for c in pred]
        gold_ev = [token_set(c.evidence) for c in gold]
        for i, j in zip(*np.nonzero(~by_span), strict=True):
            overlap[i, j] = _jaccard(pred_ev[i], gold_ev[j])
    return PairSignals(
        agree=agree,
        overlap=overlap,
        by_span=by_span,
        pred=pred,
        gold=gold,
    )


def match_claims(
    pred: Sequence[ClaimLike],
    gold: Sequence[ClaimLike],
    text: str | None,
    threshold: MatchThreshold = LENIENT,
    signals: PairSignals | None = None,
) -> list[MatchPair]:
    """Optimal one-to-one matching of `pred` to `gold` claims of one article.

    `text` is the article text (None when unavailable). Either side may hold
    predicted `Claim`s or gold `ClaimDraft`s; for run-vs-run comparison pass
    the old run as `gold`. Returns the pairs that clear `threshold`, sorted by
    `gold_index`; every index appears at most once. `signals` (from
    `pair_signals` on the same arguments) saves recomputing them when one
    article is matched at several thresholds.
    """
    import numpy as np

    if not pred or not gold:
        return []
    if signals is None:
        signals = pair_signals(pred, gold, text)
    agree, overlap = signals.agree, signals.overlap
    admitted = agree & (overlap >= threshold.with_speaker)
    if threshold.without_speaker is not None:
        admitted |= overlap >= threshold.without_speaker
    if not admitted.any():
        return []
    bonus = 3.0 * (min(len(pred), len(gold)) + 1)  # > any total of similarities
    weights = np.zeros((len(pred), len(gold)))
    candidates: dict[tuple[int, int], MatchPair] = {}
    for i, j in zip(*np.nonzero(admitted), strict=True):
        i, j = int(i), int(j)
        pair_agree = bool(agree[i, j])
        pair_overlap = float(overlap[i, j])
        similarity = pair_overlap + (1.0 if pair_agree else 0.0)
        method: OverlapMethod = "span" if signals.by_span[i, j] else "token"
        candidates[(i, j)] = MatchPair(i, j, pair_agree, pair_overlap, method, similarity)
        tie = signals.tie_break(i, j)
        weights[i, j] = bonus + similarity + TIE_BREAK_WEIGHT * tie
    from scipy.optimize import linear_sum_assignment  # imported on first use: ~0.4 s
    rows, cols = linear_sum_assignment(weights, maximize=True)
    pairs = [candidates[(int(i), int(j))] for i, j in zip(rows, cols, strict=True) if (int(i), int(j)) in candidates]
    return sorted(pairs, key=lambda pair: pair.gold_index)
