from __future__ import annotations

from collections.abc import Callable

from extractor.grounding import fold, ground_evidence


def test_exact_match_gives_offsets() -> None:
    article = "Intro. Putin said the ties cannot be worse. End."
    result = ground_evidence(article, "the ties cannot be worse")
    assert result.status == "exact"
    assert result.span is not None
    assert article[result.span.start : result.span.end] == "the ties cannot be worse"


def test_window_prefers_the_passage_occurrence() -> None:
    article = "He said yes. Later, again: He said yes."
    second = article.rindex("He said yes")
    result = ground_evidence(article, "He said yes", window=(second, len(article)))
    assert result.span is not None and result.span.start == second


def test_curly_quotes_in_article_match_straight_quotes_in_evidence(seed_text: Callable[[str], str]) -> None:
    # Seed 001 writes “…” and ’; a model typically answers with straight quotes.
    article = seed_text("001")
    target = "Trump’s words “must be followed by actions"
    assert target in article
    result = ground_evidence(article, "Trump's words \"must be followed by actions")
    assert result.status == "fuzzy"
    assert result.span is not None
    assert article[result.span.start : result.span.end] == target


def test_broken_html_entity_nbsp_from_seed(seed_text: Callable[[str], str]) -> None:
    # Seed 002 contains the broken entity form `&# 160;` between words.
    article = seed_text("002")
    start = article.index("&# 160;")
    window = article[max(0, start - 30) : start + 40]
    plain = window.replace("&# 160;", " ")
    result = ground_evidence(article, plain)
    assert result.status == "fuzzy"
    assert result.span is not None
    assert article[result.span.start : result.span.end].replace("&# 160;", " ").split() == plain.split()


def test_nonbreaking_spaces_from_seed(seed_text: Callable[[str], str]) -> None:
    # Seed 003 writes "becoming\xa0worse\xa0and\xa0worse".
    article = seed_text("003")
    assert "becoming\xa0worse" in article
    result = ground_evidence(article, "becoming worse and worse")
    assert result.status == "fuzzy"
    assert result.span is not None
    assert article[result.span.start : result.span.end] == "becoming\xa0worse\xa0and\xa0worse"


def test_whitespace_and_case_differences_are_normalized() -> None:
    article = "The minister said:\n  the  Budget is   FINE for now."
    result = ground_evidence(article, "the budget is fine for now")
    assert result.status == "fuzzy"
    assert result.span is not None
    assert article[result.span.start : result.span.end] == "the  Budget is   FINE for now"


def test_fuzzy_match_tolerates_a_small_paraphrase_typo() -> None:
    article = "Officials said the cooperation will affect not only these two countries but the whole world."
    result = ground_evidence(article, "the cooperation will affect not only these two countrys but the whole world")
    assert result.status == "fuzzy"
    assert result.span is not None
    assert "cooperation will affect" in article[result.span.start : result.span.end]


def test_invented_evidence_is_unaligned() -> None:
    article = "Putin said relations cannot be worse."
    result = ground_evidence(article, "Putin supports NATO membership for Ukraine")
    assert result.status == "unaligned"
    assert result.span is None


def test_empty_evidence_is_unaligned() -> None:
    assert ground_evidence("anything", "  ").status == "unaligned"


def test_fold_maps_back_to_original_offsets() -> None:
    text = "A&# 160;“B”\t\tc"
    folded = fold(text)
    assert folded.text == 'a "b" c'
    span = folded.original_span(2, 5)
    assert text[span.start : span.end] == "“B”"
