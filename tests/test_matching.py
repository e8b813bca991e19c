"""Claim matching: speaker normalisation, evidence overlap, one-to-one assignment."""

from __future__ import annotations

import pytest

from extractor.evaluation.matching import (
    LENIENT,
    STRICT,
    claim_span,
    evidence_overlap,
    match_claims,
    normalize_name,
    speakers_agree,
    token_jaccard,
)
from extractor.schema import Claim, ClaimDraft, Span

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


def predicted(speaker: str, evidence: str, span: tuple[int, int] | None, aliases: list[str] | None = None) -> Claim:
    base = draft(speaker, evidence, aliases).model_dump()
    return Claim.model_validate(
        {
            **base,
            "evidence_span": Span(start=span[0], end=span[1]) if span else None,
            "grounding": "exact" if span else "unaligned",
        }
    )


def grounded(speaker: str, evidence: str, aliases: list[str] | None = None) -> Claim:
    start = TEXT.find(evidence)
    assert start >= 0, evidence
    return predicted(speaker, evidence, (start, start + len(evidence)), aliases)


# --- speakers ----------------------------------------------------------------------


def test_normalize_name_drops_titles_punctuation_case_and_diacritics() -> None:
    assert normalize_name("Russian President Vladimir Putin's") == ("russian", "vladimir", "putin")
    assert normalize_name("Mr. Emmanuel MACRÓN") == ("emmanuel", "macron")
    assert normalize_name("the U.S. State Department") == ("u", "s", "state", "department")
    # A title as the last word names the role and is kept.
    assert normalize_name("The President") == ("president",)
    assert normalize_name("Kremlin spokesman") == ("kremlin", "spokesman")


def test_surname_only_speaker_matches_full_name() -> None:
    # "Putin" is the last word of "Vladimir Putin" and all its words occur there.
    assert speakers_agree(draft("Putin", "x"), draft("Vladimir Putin", "x"))
    assert speakers_agree(draft("President Putin", "x"), draft("Vladimir Putin", "x"))
    # Organisation analogue: "State Department" ⊂ "U.S. State Department", same head word.
    assert speakers_agree(draft("State Department", "x"), draft("the U.S. State Department", "x"))


def test_different_people_with_the_same_surname_do_not_match() -> None:
    assert not speakers_agree(draft("Hunter Biden", "x"), draft("Joe Biden", "x"))
    assert not speakers_agree(draft("Ivan Petrov", "x"), draft("Vladimir Putin", "x"))


def test_role_aliases_do_not_collapse_into_their_organisation() -> None:
    peskov = draft("Dmitry Peskov", "x", aliases=["Kremlin spokesman", "Russian President spokesman"])
    putin = draft("Putin", "x", aliases=["Russian President"])
    # ("kremlin", "spokesman") vs ("kremlin",) end in different words.
    assert not speakers_agree(peskov, draft("Kremlin", "x"))
    # ("russian", "spokesman") vs ("russian", "president") end in different words.
    assert not speakers_agree(peskov, putin)
    # ("kremlin", "peskov") is not within ("dmitry", "peskov"): a descriptor before the
    # surname blocks the match unless one side lists the bare surname as an alias.
    assert not speakers_agree(peskov, draft("Kremlin spokesman Peskov", "x"))
    with_surname = draft("Dmitry Peskov", "x", aliases=["Peskov"])
    assert speakers_agree(with_surname, draft("Kremlin spokesman Peskov", "x"))


def test_alias_only_speaker_match_on_either_side() -> None:
    gold = draft("Ministry of Foreign Affairs of Russia", "x", aliases=["Russian Foreign Ministry"])
    pred = draft("Russian Foreign Ministry", "x")
    # Without the alias the last words differ: (..., "of", "russia") vs ("russian", "foreign", "ministry").
    assert not speakers_agree(pred, draft("Ministry of Foreign Affairs of Russia", "x"))
    assert speakers_agree(pred, gold)
    # The alias may sit on the predicted side just as well.
    assert speakers_agree(draft("Moscow", "x", aliases=["the Kremlin"]), draft("Kremlin", "x"))


# --- evidence overlap ----------------------------------------------------------------


def test_span_iou_of_grounded_spans() -> None:
    gold = draft("Vladimir Putin", "we will wait for the official results.")
    pred = grounded("Putin", "we will wait")
    # Gold span is 38 characters, the prediction's 12 characters lie inside it:
    # IoU = 12 / 38 = 0.3158.
    overlap, method = evidence_overlap(pred, gold, TEXT)
    assert method == "span"
    assert overlap == pytest.approx(12 / 38)
    # Lenient: speaker agrees and 0.316 >= 0.3 -> match. Strict needs 0.6 -> no match.
    assert len(match_claims([pred], [gold], TEXT, LENIENT)) == 1
    assert match_claims([pred], [gold], TEXT, STRICT) == []
    # Without speaker agreement lenient needs overlap >= 0.5 -> no match.
    assert match_claims([grounded("Biden", "we will wait")], [gold], TEXT, LENIENT) == []


def test_unaligned_prediction_falls_back_to_token_jaccard() -> None:
    gold = draft("Vladimir Putin", "we will wait for the official results")
    pred = predicted("Putin", "we shall wait for the official results", span=None)
    # Token sets: gold {we will wait for the official results} (7),
    # pred {we shall wait for the official results} (7); 6 shared, union 8 -> 0.75.
    assert claim_span(pred, TEXT) is None
    overlap, method = evidence_overlap(pred, gold, TEXT)
    assert method == "token"
    assert overlap == pytest.approx(0.75)
    pairs = match_claims([pred], [gold], TEXT, STRICT)  # speaker agrees and 0.75 >= 0.6
    assert [(p.pred_index, p.gold_index, p.overlap_method) for p in pairs] == [(0, 0, "token")]


def test_without_article_text_gold_spans_are_unknown_so_tokens_are_used() -> None:
    gold = draft("Vladimir Putin", "we will wait for the official results.")
    pred = grounded("Putin", "we will wait for the official results.")
    assert evidence_overlap(pred, gold, None) == (1.0, "token")
    assert evidence_overlap(pred, gold, TEXT) == (1.0, "span")


def test_token_jaccard_ignores_case_and_diacritics() -> None:
    assert token_jaccard("Élysée Palace", "elysee palace") == 1.0
    assert token_jaccard("", "") == 1.0
    assert token_jaccard("a b", "") == 0.0


# --- assignment --------------------------------------------------------------------


def test_indexes_are_not_swapped() -> None:
    gold = [
        draft("Joe Biden", "we won the election."),
        draft("Ivan Petrov", "the delay is embarrassing."),
    ]
    pred = [
        grounded("Putin", "we will wait for the official results."),
        grounded("Someone", "Putin said"),
        grounded("Petrov", "the delay is embarrassing."),
    ]
    # Only pred #2 matches anything (gold #1); pred #0 and #1 overlap no gold span.
    pairs = match_claims(pred, gold, TEXT, LENIENT)
    assert [(p.pred_index, p.gold_index) for p in pairs] == [(2, 1)]
    assert pairs[0].speakers_agree and pairs[0].overlap == 1.0


def test_duplicate_predictions_do_not_both_match() -> None:
    gold = [draft("Vladimir Putin", "we will wait for the official results.")]
    duplicate = grounded("Putin", "we will wait for the official results.")
    pairs = match_claims([duplicate, duplicate], gold, TEXT, LENIENT)
    assert len(pairs) == 1
    assert pairs[0].gold_index == 0


def test_assignment_maximises_the_number_of_matches_first() -> None:
    # Offsets only (text None, run-vs-run style): every claim is a grounded Claim.
    p0 = predicted("Anna", "e", (0, 100))
    p1 = predicted("Carl", "e", (0, 50))
    g0 = predicted("Anna", "e", (0, 100))
    g1 = predicted("Bert", "e", (50, 100))
    # Admitted pairs (lenient): p0-g0 IoU 1 + speaker (similarity 2.0);
    # p0-g1 IoU 50/100 = 0.5 without speaker (0.5); p1-g0 IoU 50/100 = 0.5 (0.5);
    # p1-g1 IoU 0. Maximising similarity alone would keep only p0-g0 (2.0 > 1.0);
    # maximising matches first keeps two pairs: p0-g1 and p1-g0.
    pairs = match_claims([p0, p1], [g0, g1], None, LENIENT)
    assert sorted((p.pred_index, p.gold_index) for p in pairs) == [(0, 1), (1, 0)]


def test_same_sentence_claims_pair_by_claim_text() -> None:
    evidence = "we will wait for the official results."
    gold = [
        draft("Vladimir Putin", evidence, claim="Russia will wait for results.", stance="neutral"),
        draft("Vladimir Putin", evidence, claim="Russia refuses to congratulate Biden.", stance="oppose"),
    ]
    pred = [
        grounded("Putin", evidence).model_copy(update={"claim": "Russia refuses to congratulate Biden."}),
        grounded("Putin", evidence).model_copy(update={"claim": "Russia will wait for results."}),
    ]
    pairs = match_claims(pred, gold, TEXT, LENIENT)
    assert [(p.pred_index, p.gold_index) for p in pairs] == [(1, 0), (0, 1)]


def test_empty_sides_give_no_pairs() -> None:
    assert match_claims([], [draft("A", "x")], TEXT) == []
    assert match_claims([draft("A", "x")], [], TEXT) == []
