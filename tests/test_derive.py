from __future__ import annotations

import pytest

from extractor.derive import conditions_in, evidence_in_unit, paraphrase, speaker_aliases
from extractor.strategies import Unit


def evidence(text: str) -> tuple[str, bool]:
    article = "Intro. " + text
    unit = Unit(0, 7, len(article), text)
    found = evidence_in_unit(article, unit)
    return article[found.start : found.end], found.direct


@pytest.mark.parametrize(
    ("passage", "expected", "direct"),
    [
        ('"We will not congratulate anyone yet," Putin said.', "We will not congratulate anyone yet", True),
        ("Peskov said that Moscow was ready to cooperate with Washington.", "Moscow was ready to cooperate with Washington", False),
        ("Dmitry Peskov told reporters on Monday the Kremlin was not planning calls.", "the Kremlin was not planning calls", False),
        ("Mr Howard told the BBC that the plan was a con.", "the plan was a con", False),
        ("According to the Associated Press, the agency confirmed the result.", "the agency confirmed the result", False),
        ("I would not hope for this to happen easily, concluded the director of the institute.", "I would not hope for this to happen easily", False),
    ],
)
def test_evidence_is_the_reported_content(passage: str, expected: str, direct: bool) -> None:
    assert evidence(passage) == (expected, direct)


def test_conditions_are_clauses_after_markers() -> None:
    text = "We will congratulate the winner once the official results are in, but not until then; if Labour wins we will act."
    assert conditions_in(text) == ["once the official results are in", "until then", "if Labour wins we will act"]
    assert conditions_in("No conditions here.") == []


def test_aliases_are_the_surname_when_the_article_uses_it() -> None:
    article = "Dmitry Peskov spoke. Later Peskov added more."
    assert speaker_aliases(article, "Dmitry Peskov") == ["Peskov"]
    assert speaker_aliases(article, "Kremlin") == []


def test_paraphrase_is_one_sentence() -> None:
    assert paraphrase("Putin", "Relations cannot be worse", True) == 'Putin says: "Relations cannot be worse".'
    assert paraphrase("Peskov", "Moscow was ready.", False) == "Peskov says that Moscow was ready."
