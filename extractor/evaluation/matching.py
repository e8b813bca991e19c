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
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..schema import ClaimDraft

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
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def word_tokens(text: str) -> list[str]:
    """Casefolded, diacritic-free word tokens (Unicode `\\w+`)."""
    return _WORD.findall(strip_diacritics(text).casefold())


def token_jaccard(a: str, b: str) -> float:
    """|A ∩ B| / |A ∪ B| over sets of word tokens; 1.0 when both are empty."""
    left, right = set(word_tokens(a)), set(word_tokens(b))
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


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
    return any(names_agree(x, y) for x in a for y in b)


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


def match_claims(
    pred: Sequence[ClaimLike],
    gold: Sequence[ClaimLike],
    text: str | None,
    threshold: MatchThreshold = LENIENT,
) -> list[MatchPair]:
    """Optimal one-to-one matching of `pred` to `gold` claims of one article.

    `text` is the article text (None when unavailable). Either side may hold
    predicted `Claim`s or gold `ClaimDraft`s; for run-vs-run comparison pass
    the old run as `gold`. Returns the pairs that clear `threshold`, sorted by
    `gold_index`; every index appears at most once.
    """
    if not pred or not gold:
        return []
    # Speaker names and spans are computed once per claim, not once per pair.
    pred_names = [speaker_names(c) for c in pred]
    gold_names = [speaker_names(c) for c in gold]
    candidates: dict[tuple[int, int], MatchPair] = {}
    bonus = 3.0 * (min(len(pred), len(gold)) + 1)  # > any total of similarities
    weights = np.zeros((len(pred), len(gold)))
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            agree = name_sets_agree(pred_names[i], gold_names[j])
            overlap, method = evidence_overlap(p, g, text)
            if not threshold.admits(agree, overlap):
                continue
            similarity = overlap + (1.0 if agree else 0.0)
            candidates[(i, j)] = MatchPair(i, j, agree, overlap, method, similarity)
            weights[i, j] = bonus + similarity + TIE_BREAK_WEIGHT * claim_text_similarity(p, g)
    if not candidates:
        return []
    rows, cols = linear_sum_assignment(weights, maximize=True)
    pairs = [candidates[(int(i), int(j))] for i, j in zip(rows, cols, strict=True) if (int(i), int(j)) in candidates]
    return sorted(pairs, key=lambda pair: pair.gold_index)
