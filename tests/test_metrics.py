"""Metrics: hand-computed P/R/F1, stance, conditions, kappa, speakers, bootstrap."""

from __future__ import annotations

import pytest

from extractor.articles import text_sha256
from extractor.evaluation.metrics import (
    ConditionCounts,
    bootstrap_f1_ci,
    cohen_kappa,
    evaluate,
    prf,
    speaker_scores,
    stance_accuracy,
    stance_confusion,
    stance_macro_f1,
)
from extractor.schema import ArticleExtraction, Claim, ClaimDraft, GoldFile, Span

TEXT = (
    "Putin said: we will wait for the official results. "
    "Biden said: we won the election. "
    "Petrov said: the delay is embarrassing."
)


def draft(speaker: str, evidence: str, aliases: list[str] | None = None, **extra: object) -> ClaimDraft:
    fields: dict[str, object] = {
        "speaker": speaker,
        "speaker_aliases": aliases or [],
        "speaker_type": "person",
        "target": "the election",
        "claim": f"{speaker} made a statement.",
        "stance": "neutral",
        "attribution": "direct",
        "evidence": evidence,
    }
    fields.update(extra)
    return ClaimDraft.model_validate(fields)


def grounded(claim: ClaimDraft, text: str = TEXT) -> Claim:
    start = text.find(claim.evidence)
    span = Span(start=start, end=start + len(claim.evidence)) if start >= 0 else None
    return Claim.model_validate(
        {**claim.model_dump(), "evidence_span": span, "grounding": "exact" if span else "unaligned"}
    )


def extraction(article_id: str, claims: list[Claim], text: str = TEXT) -> ArticleExtraction:
    return ArticleExtraction(
        article_id=article_id, article_sha256=text_sha256(text), claims=claims, prompt="claims@v1", model="test"
    )


GOLD = [
    draft("Vladimir Putin", "we will wait for the official results.", aliases=["Putin"]),
    draft("Joe Biden", "we won the election."),
]


# --- P/R/F1 conventions -------------------------------------------------------------


def test_prf_conventions() -> None:
    assert prf(1, 3, 2).precision == pytest.approx(1 / 3)
    assert prf(1, 3, 2).recall == pytest.approx(1 / 2)
    # F1 = 2·(1/3)(1/2) / (1/3 + 1/2) = (1/3) / (5/6) = 0.4
    assert prf(1, 3, 2).f1 == pytest.approx(0.4)
    assert prf(0, 0, 0) == prf(5, 5, 5)  # both empty: 1.0 everywhere
    assert prf(0, 0, 4).precision == 0.0 and prf(0, 0, 4).f1 == 0.0  # nothing predicted
    assert prf(0, 4, 0).recall == 0.0 and prf(0, 4, 0).f1 == 0.0  # nothing to find


def test_precision_differs_from_recall() -> None:
    # 3 predicted, 2 gold, 1 match (Putin) -> P = 1/3, R = 1/2, F1 = 0.4.
    pred = [
        grounded(draft("Putin", "we will wait for the official results.")),
        grounded(draft("Ivan Petrov", "the delay is embarrassing.")),
        grounded(draft("Someone", "Petrov said")),
    ]
    report = evaluate({"a": extraction("a", pred)}, {"a": GoldFile(article_id="a", annotator="t", claims=GOLD)}, {"a": TEXT})
    lenient = report["claims"]["lenient"]
    assert (lenient["matched"], lenient["precision"], lenient["recall"], lenient["f1"]) == (1, 0.3333, 0.5, 0.4)
    assert report["claims"]["predicted"] == 3 and report["claims"]["gold"] == 2
    # Single article: macro equals micro.
    assert lenient["macro"] == {"precision": 0.3333, "recall": 0.5, "f1": 0.4}


def test_micro_and_macro_differ_across_articles() -> None:
    # Article a: 2 gold, 2 predicted, 2 matched -> F1 1.0.
    # Article b: 2 gold, nothing predicted (missing from the run) -> P 0, R 0, F1 0.
    # Micro: matched 2, predicted 2, gold 4 -> P 1.0, R 0.5, F1 2/3. Macro F1: (1 + 0) / 2 = 0.5.
    gold = {
        "a": GoldFile(article_id="a", annotator="t", claims=GOLD),
        "b": GoldFile(article_id="b", annotator="t", claims=GOLD),
    }
    report = evaluate({"a": extraction("a", [grounded(c) for c in GOLD])}, gold, {"a": TEXT, "b": TEXT})
    lenient = report["claims"]["lenient"]
    assert (lenient["precision"], lenient["recall"], lenient["f1"]) == (1.0, 0.5, 0.6667)
    assert lenient["macro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert report["meta"]["missing_from_run"] == ["b"]
    assert report["articles"][1]["status"] == "missing_from_run"
    assert report["articles"][1]["missed_gold"] == [
        "0|Vladimir Putin|we will wait for the official results.",
        "1|Joe Biden|we won the election.",
    ]


def test_unscored_articles_count_only_in_grounding() -> None:
    gold = {"a": GoldFile(article_id="a", annotator="t", claims=GOLD)}
    unaligned = grounded(draft("X", "not in the text at all"))
    run = {
        "a": extraction("a", [grounded(c) for c in GOLD]),
        "z": extraction("z", [unaligned]),
    }
    report = evaluate(run, gold, {"a": TEXT, "z": TEXT})
    assert report["claims"]["lenient"]["f1"] == 1.0
    assert report["meta"]["unscored"] == ["z"] and report["meta"]["unscored_articles"] == 1
    # Grounding over all 3 predicted claims: 2 exact, 1 unaligned.
    assert report["grounding"]["counts"] == {"exact": 2, "fuzzy": 0, "unaligned": 1}
    assert report["grounding"]["exact"] == 0.6667 and report["grounding"]["unaligned"] == 0.3333


def test_empty_run_scores_zero_recall_without_crashing() -> None:
    gold = {"a": GoldFile(article_id="a", annotator="t", claims=GOLD)}
    report = evaluate({}, gold, {"a": TEXT})
    for level in ("lenient", "strict"):
        section = report["claims"][level]
        assert (section["precision"], section["recall"], section["f1"]) == (0.0, 0.0, 0.0)
        assert section["ci95"] == [0.0, 0.0]
    assert report["speakers"]["f1"] == 0.0
    assert report["stance"]["n"] == 0 and report["stance"]["accuracy"] is None
    assert report["conditions"]["f1"] is None
    assert report["grounding"]["n"] == 0 and report["grounding"]["exact"] is None


def test_changed_article_text_drops_spans_but_still_matches_by_tokens() -> None:
    gold = {"a": GoldFile(article_id="a", annotator="t", claims=GOLD)}
    run = {"a": extraction("a", [grounded(c) for c in GOLD], text="an older version of the text")}
    report = evaluate(run, gold, {"a": TEXT})
    assert report["meta"]["text_mismatch"] == ["a"]
    assert report["claims"]["strict"]["f1"] == 1.0  # identical evidence -> token Jaccard 1.0


# --- speakers ------------------------------------------------------------------------


def test_speaker_sets_are_alias_and_surname_aware() -> None:
    gold = [
        draft("Vladimir Putin", "a"),
        draft("Putin", "b"),  # same entity as the first
        draft("Joe Biden", "c"),
    ]
    pred = [draft("Putin", "a"), draft("President Putin", "b"), draft("Hunter Biden", "c")]
    # Gold entities {Vladimir Putin, Joe Biden}; predicted {Putin, Hunter Biden}.
    # Putin ~ Vladimir Putin (surname); Hunter Biden != Joe Biden -> TP 1, P 1/2, R 1/2, F1 1/2.
    scores = speaker_scores(pred, gold)
    assert (scores.precision, scores.recall, scores.f1) == (0.5, 0.5, 0.5)


# --- stance --------------------------------------------------------------------------

STANCE_PAIRS = [  # (gold, predicted)
    ("support", "support"),
    ("support", "oppose"),
    ("oppose", "oppose"),
    ("neutral", "support"),
    ("mixed", "mixed"),
]


def test_stance_accuracy_confusion_and_macro_f1() -> None:
    # Accuracy: 3 of 5 agree -> 0.6.
    assert stance_accuracy(STANCE_PAIRS) == pytest.approx(0.6)
    confusion = stance_confusion(STANCE_PAIRS)
    assert confusion["support"] == {"support": 1, "oppose": 1, "neutral": 0, "mixed": 0}
    assert confusion["neutral"]["support"] == 1
    assert confusion["oppose"]["oppose"] == 1 and confusion["mixed"]["mixed"] == 1
    assert sum(sum(row.values()) for row in confusion.values()) == 5
    # support: TP 1, predicted 2, gold 2 -> P 1/2, R 1/2, F1 1/2.
    # oppose:  TP 1, predicted 2, gold 1 -> P 1/2, R 1, F1 2/3.
    # macro-F1 = (1/2 + 2/3) / 2 = 7/12 = 0.5833.
    assert stance_macro_f1(STANCE_PAIRS) == pytest.approx(7 / 12)
    assert stance_accuracy([]) is None and stance_macro_f1([]) is None


def test_stance_is_scored_on_lenient_pairs_in_evaluate() -> None:
    gold_claims = [
        draft("Vladimir Putin", "we will wait for the official results.", stance="neutral"),
        draft("Joe Biden", "we won the election.", stance="support"),
    ]
    pred = [
        grounded(draft("Putin", "we will wait for the official results.", stance="oppose")),
        grounded(draft("Biden", "we won the election.", stance="support")),
    ]
    report = evaluate({"a": extraction("a", pred)}, {"a": GoldFile(article_id="a", annotator="t", claims=gold_claims)}, {"a": TEXT})
    # 1 of 2 agree -> accuracy 0.5. support: TP1 pred1 gold1 -> F1 1; oppose: TP0 pred1 gold0 -> F1 0.
    assert report["stance"]["accuracy"] == 0.5
    assert report["stance"]["macro_f1"] == 0.5
    assert report["stance"]["confusion"]["neutral"]["oppose"] == 1


# --- conditions ------------------------------------------------------------------------


def test_conditions_presence_and_content() -> None:
    counts = ConditionCounts()
    counts.add(["until the vote"], ["until the vote"])  # TP, content F1 1.0
    counts.add(["if asked"], [])  # FP
    counts.add([], ["unless attacked"])  # FN
    counts.add([], [])  # neither: counts as a pair only
    counts.add(["until the election results are official"], ["until official results"])  # TP
    # Last pair's tokens: pred {until the election results are official} (6), gold {until official results} (3),
    # shared 3 -> P 1/2, R 1 -> F1 2/3.
    # Presence: TP 2, FP 1, FN 1 -> P 2/3, R 2/3, F1 2/3. Content: (1 + 2/3) / 2 = 5/6.
    result = counts.as_dict()
    assert (result["tp"], result["fp"], result["fn"], result["n"]) == (2, 1, 1, 5)
    assert (result["precision"], result["recall"], result["f1"]) == (0.6667, 0.6667, 0.6667)
    assert result["content_f1"] == 0.8333 and result["content_n"] == 2
    empty = ConditionCounts().as_dict()
    assert empty["f1"] is None and empty["content_f1"] is None


# --- kappa and bootstrap --------------------------------------------------------------------


def test_cohen_kappa_hand_computed() -> None:
    pairs = [  # (annotator A, annotator B)
        ("support", "support"),
        ("support", "support"),
        ("oppose", "oppose"),
        ("oppose", "support"),
        ("neutral", "neutral"),
        ("neutral", "oppose"),
    ]
    # p_o = 4/6. A: support 2, oppose 2, neutral 2; B: support 3, oppose 2, neutral 1.
    # p_e = (2·3 + 2·2 + 2·1) / 36 = 12/36 = 1/3. kappa = (2/3 - 1/3) / (1 - 1/3) = 0.5.
    assert cohen_kappa(pairs) == pytest.approx(0.5)
    assert cohen_kappa([("support", "support")] * 3) == 1.0  # p_e = 1: one shared label
    assert cohen_kappa([]) is None


def test_bootstrap_is_deterministic_and_brackets_the_estimate() -> None:
    matched, predicted, gold = [2, 1, 0, 3], [2, 2, 1, 3], [2, 3, 1, 4]
    first = bootstrap_f1_ci(matched, predicted, gold)
    assert first == bootstrap_f1_ci(matched, predicted, gold)
    assert first is not None
    point = 2 * sum(matched) / (sum(predicted) + sum(gold))  # 12 / 18 = 0.6667
    assert first[0] <= point <= first[1]
    assert bootstrap_f1_ci([1, 1], [1, 1], [1, 1]) == [1.0, 1.0]
    assert bootstrap_f1_ci([], [], []) is None
