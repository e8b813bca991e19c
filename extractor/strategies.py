"""Splitting an article into the units a prompt is called on.

- `whole`: the article in one call, or in overlapping chunks when it exceeds
  the budget (`chunk_chars`, `overlap_chars` prompt options).
- `passages`: deterministic detection of attributed passages (quotes, reporting
  verbs, "according to"); consecutive attributed sentences of one paragraph are
  grouped, and each group is one small call with the sentence before it as
  context.

Every unit carries its `[start, end)` offsets so evidence is grounded inside
the unit first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REPORTING_VERBS = (
    "said|says|say|saying|told|tells|stated|states|added|adds|noted|notes|warned|warns|claimed|claims|"
    "argued|argues|insisted|insists|explained|explains|announced|announces|declared|declares|stressed|"
    "stresses|emphasi[sz]ed|emphasi[sz]es|asserted|asserts|acknowledged|acknowledges|admitted|admits|"
    "denied|denies|urged|urges|wrote|writes|tweeted|tweets|suggested|suggests|commented|comments|"
    "replied|replies|responded|responds|remarked|remarks|confirmed|confirms|believes|believed|"
    "predicted|predicts|vowed|vows|pledged|pledges|promised|promises|rejected|rejects|criticized|"
    "criticised|criticizes|criticises|praised|praises|welcomed|welcomes|called for|calls for|"
    "pointed out|points out|made clear|makes clear|reiterated|reiterates|accused|accuses|"
    "described|describes|dismissed|dismisses|maintained|maintains|hopes|hoped|expects|expected|"
    "quoted|cited|reported|reports|congratulated|congratulates|refused|refuses|declined|declines|"
    "concluded|concludes|rule out|ruled out|recalled|recalls|thinks|thought|considers|considered|observed|observes"
)
_REPORTING = re.compile(rf"\b({REPORTING_VERBS})\b|\baccording to\b", re.IGNORECASE)
# The same test as `_REPORTING.search(...) is not None`, but fast: a set lookup
# per word, and the short regex of the phrases only when a phrase's first word
# occurs. (The long case-insensitive alternation was most of the cost of
# splitting an article.) `_fold_case` matches what IGNORECASE matches for ASCII
# letters, char for char (checked over every code point): `str.lower`, plus the
# three letters Python's re also treats as i or s. It keeps every char's
# word-ness and folds each word char to one char, so words stay words.
_VERB_WORDS = frozenset(
    v.replace("[sz]", c) for v in REPORTING_VERBS.split("|") if " " not in v for c in "sz"
)
_PHRASES = [v for v in REPORTING_VERBS.split("|") if " " in v] + ["according to"]
_PHRASE_FIRST_WORDS = frozenset(p.split()[0] for p in _PHRASES)
_REPORTING_PHRASE = re.compile(rf"\b({'|'.join(_PHRASES)})\b", re.IGNORECASE)
_WORDS = re.compile(r"\w+")


def _fold_case(text: str) -> str:
    return text.lower().replace("i\u0307", "i").replace("ſ", "s").replace("ı", "i")


def has_reporting_verb(text: str) -> bool:
    """A reporting verb or "according to" as whole words, in any letter case."""
    words = set(_WORDS.findall(_fold_case(text)))
    if not _VERB_WORDS.isdisjoint(words):
        return True
    return not _PHRASE_FIRST_WORDS.isdisjoint(words) and _REPORTING_PHRASE.search(text) is not None


_QUOTE = re.compile(r"[\"“”«»]|(?:^|\s)‘|’(?:\s|$)")
_QUOTED_WORDS = re.compile(r"[\"“«]([^\"”»]{12,})[\"”»]")
# Sentence end: . ! ? (optionally followed by a closing quote), then space, then a capital or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’»]?\s+(?=[\"“‘«(\[]?[A-Z0-9])")
_ABBREVIATIONS = re.compile(
    r"\b(Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Col|Lt|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|No|U\.S|U\.K|U\.N|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$"
)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    paragraph: int


@dataclass(frozen=True)
class Unit:
    """One call's worth of text: a passage or a chunk, with its offsets."""

    index: int
    start: int
    end: int
    text: str
    context: str = ""


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with offsets; paragraphs are separated by newlines."""
    sentences: list[Sentence] = []
    paragraph = 0
    for para in re.finditer(r"[^\n]+", text):
        chunk = para.group(0)
        if not chunk.strip():
            continue
        base = para.start()
        cursor = 0
        for match in _SENTENCE_END.finditer(chunk):
            candidate = chunk[cursor : match.start() + len(match.group(0).rstrip())]
            if _ABBREVIATIONS.search(candidate.rstrip("\"”’» ")):
                continue
            end = match.start() + (len(match.group(0)) - len(match.group(0).lstrip("\"”’»")))
            _append(sentences, text, base + cursor, base + end, paragraph)
            cursor = match.end()
        _append(sentences, text, base + cursor, base + len(chunk), paragraph)
        paragraph += 1
    return sentences


def _append(out: list[Sentence], text: str, start: int, end: int, paragraph: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Sentence(start, end, paragraph))


def is_attributed(sentence: str) -> bool:
    """A sentence that reports what someone said: a reporting verb, or a real quote."""
    if len(sentence) < 25:
        return False
    return has_reporting_verb(sentence) or _QUOTED_WORDS.search(sentence) is not None


def _opens_quote(sentence: str) -> bool:
    """More opening than closing quote marks: the quotation continues."""
    opens = sentence.count("“") + sentence.count("«")
    closes = sentence.count("”") + sentence.count("»")
    straight = sentence.count('"')
    return opens > closes or straight % 2 == 1


def passage_units(text: str, *, max_sentences: int = 3, max_chars: int = 700, context_sentences: int = 1) -> list[Unit]:
    """Attributed passages. A sentence that leaves a quotation open is joined by
    the sentences that continue it (same paragraph, up to `max_sentences` and
    `max_chars`); a group is kept when its text is attributed."""
    sentences = split_sentences(text)
    groups: list[list[int]] = []
    open_quote = False
    for i, sentence in enumerate(sentences):
        last = groups[-1] if groups else None
        if (
            open_quote
            and last is not None
            and sentences[last[0]].paragraph == sentence.paragraph
            and len(last) < max_sentences
            and sentence.end - sentences[last[0]].start <= max_chars
        ):
            last.append(i)
        else:
            groups.append([i])
            last = groups[-1]
        open_quote = _opens_quote(text[sentences[last[0]].start : sentence.end])
    units: list[Unit] = []
    for group in groups:
        first, last_s = sentences[group[0]], sentences[group[-1]]
        body = text[first.start : last_s.end]
        if not is_attributed(body):
            continue
        before = sentences[max(0, group[0] - context_sentences) : group[0]]
        context = " ".join(text[s.start : s.end] for s in before)
        units.append(Unit(len(units), first.start, last_s.end, body, context))
    return units


def chunk_units(text: str, *, chunk_chars: int = 6000, overlap_chars: int = 600) -> list[Unit]:
    """The whole article, or overlapping chunks cut at paragraph or sentence ends."""
    if len(text) <= chunk_chars:
        return [Unit(0, 0, len(text), text)]
    units: list[Unit] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + chunk_chars)
        if end < len(text):
            cut = max(text.rfind("\n", start + chunk_chars // 2, end), text.rfind(". ", start + chunk_chars // 2, end))
            if cut > start:
                end = cut + 1
        units.append(Unit(len(units), start, end, text[start:end]))
        if end >= len(text):
            break
        start = max(end - overlap_chars, start + 1)
    return units


def article_title(text: str) -> str:
    """The first non-blank line, which is the headline in scraped news text."""
    return next((line.strip()[:200] for line in text.splitlines() if line.strip()), "")
