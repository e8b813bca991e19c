"""Deterministic claim fields, for prompts where the model only labels a passage.

A small local model is slow per generated token and unreliable at copying text,
so the `labels` response kind asks it only for the judgments (speaker, type,
target, stance, conditions) and derives the rest here from the passage:

- evidence: the quoted words when the passage quotes (the span from the first
  quote mark to the last), else the reported clause after the reporting verb
  ("said that ...", "according to X, ..."), else the passage;
- attribution: direct when the evidence is a quotation, else indirect;
- conditions: clauses the speaker introduces with if / unless / until / once /
  only after / as soon as / provided ...;
- speaker aliases: the speaker's surname when the article uses it alone;
- claim: the speaker with the evidence, as one sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .strategies import _REPORTING, REPORTING_VERBS, Unit

_OPEN = "\"“«"
_CLOSE = "\"”»"
_QUOTE_SPAN = re.compile(r"[\"“«]([^\"“”«»]{8,})[\"”»]?")
_AFTER_VERB = re.compile(
    # the verb; for "told"/"tells", its object ("reporters", "the BBC", "MPs");
    # then an optional time or place ("on Monday"); then an optional "that".
    rf"\b(?:(?i:told|tells|tell)\s+(?:(?i:reporters|journalists|the\s+press|the\s+media|a\s+news\s+conference)|"
    rf"(?:the\s+)?[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*)|(?i:{REPORTING_VERBS}))\b"
    rf"(?:\s+(?:on|in|at|to|during|last|this)\s+[\w'’-]+(?:\s+[A-Z\d][\w'’-]*)*)?[,:]?\s+(?:that\s+)?"
)
_ACCORDING = re.compile(r"\baccording to\s+[^,]{2,80},\s*", re.IGNORECASE)
CONDITION_MARKERS = (
    r"only after|only if|only when|as soon as|as long as|provided that|provided|on condition that|"
    r"unless|until|till|once|if|in case"
)
_CONDITION = re.compile(rf"\b({CONDITION_MARKERS})\b\s+([^,;.!?\"“”]{{4,160}})", re.IGNORECASE)


@dataclass(frozen=True)
class Evidence:
    start: int
    end: int
    direct: bool


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in ",:;-–—"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",:;-–—"):
        end -= 1
    return start, end


def evidence_in_unit(article: str, unit: Unit) -> Evidence:
    """The core supporting span of a passage, in article offsets."""
    text = unit.text
    quotes = [m for m in _QUOTE_SPAN.finditer(text) if len(m.group(1).split()) >= 3]
    if quotes:
        start = quotes[0].start(1)
        end = quotes[-1].end(1)
        s, e = _trim(text, start, end)
        s, e = s, e
        return Evidence(unit.start + s, unit.start + e, direct=True)
    according = _ACCORDING.search(text)
    if according and according.end() < len(text) - 10:
        s, e = _trim(text, according.end(), len(text))
        return Evidence(unit.start + s, unit.start + _strip_final_period(text, s, e), direct=False)
    verb = _AFTER_VERB.search(text)
    if verb:
        # "X said that Y" reports Y after the verb; "Y, X said" / "Y, concluded X"
        # reports it before. The reported clause is the longer side.
        after = _trim(text, verb.end(), len(text))
        before = _trim(text, 0, _clause_start(text, verb.start()))
        s, e = after if after[1] - after[0] >= before[1] - before[0] else before
        if e - s >= 15:
            return Evidence(unit.start + s, unit.start + _strip_final_period(text, s, e), direct=False)
    s, e = _trim(text, 0, len(text))
    return Evidence(unit.start + s, unit.start + _strip_final_period(text, s, e), direct=False)


def _clause_start(text: str, verb_start: int) -> int:
    """Where the attribution phrase before a reporting verb begins: the last comma."""
    comma = text.rfind(",", 0, verb_start)
    return comma if comma > 0 else 0


def _strip_final_period(text: str, start: int, end: int) -> int:
    return end - 1 if end > start and text[end - 1] == "." else end


def conditions_in(text: str) -> list[str]:
    """Condition clauses in `text`, each from its marker to the next punctuation."""
    found: list[str] = []
    for match in _CONDITION.finditer(text):
        clause = f"{match.group(1)} {match.group(2)}".strip()
        if clause.lower() not in (c.lower() for c in found):
            found.append(clause)
    return found


def speaker_aliases(article: str, speaker: str) -> list[str]:
    """Other names for `speaker` that the article uses: the surname alone."""
    return list(_surname_alias(article, speaker))


@lru_cache(maxsize=256)  # the same speaker is named in many passages of an article
def _surname_alias(article: str, speaker: str) -> tuple[str, ...]:
    parts = speaker.split()
    if len(parts) >= 2 and parts[-1][:1].isupper() and re.search(rf"\b{re.escape(parts[-1])}\b", article):
        return (parts[-1],)
    return ()


_LOWER_STARTS = {"the", "a", "an", "it", "its", "this", "that", "these", "those", "there", "they", "we", "he", "she", "our", "their", "his", "her"}


def paraphrase(speaker: str, evidence: str, direct: bool) -> str:
    """One sentence from the speaker and the evidence (the labels kind has no model paraphrase)."""
    body = " ".join(evidence.split()).strip().rstrip(".")
    if direct:
        return f'{speaker} says: "{body}".'
    first, _, rest = body.partition(" ")
    if first.lower() in _LOWER_STARTS:
        body = f"{first.lower()} {rest}".strip()
    return f"{speaker} says that {body}."


_NAME = re.compile(r"(?:[A-Z][\w'’-]+)(?:\s+(?:[A-Z][\w'’-]+|of|de|von|van))*")
_NOT_NAMES = {"The", "A", "An", "In", "On", "But", "And", "He", "She", "It", "They", "We", "I", "This", "That", "However"}


def guess_speaker(passage: str) -> str | None:
    """The regex floor's speaker: the nearest capitalised name before the
    reporting verb, else the first one after it."""
    verb = _REPORTING.search(passage)
    cut = verb.start() if verb else len(passage)
    before = [m.group(0) for m in _NAME.finditer(passage[:cut]) if m.group(0) not in _NOT_NAMES]
    if before:
        return before[-1]
    after = [m.group(0) for m in _NAME.finditer(passage[cut:]) if m.group(0) not in _NOT_NAMES]
    return after[0] if after else None
