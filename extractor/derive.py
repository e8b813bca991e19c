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

from .strategies import REPORTING_VERBS, Unit

_OPEN = "\"“«"
_CLOSE = "\"”»"
_QUOTE_SPAN = re.compile(r"[\"“«]([^\"“”«»]{8,})[\"”»]?")
_AFTER_VERB = re.compile(
    rf"\b(?:{REPORTING_VERBS})\b(?:\s+(?:on|in|at|to|during)\s+[^,]{{1,60}})?[,:]?\s+(?:that\s+)?",
    re.IGNORECASE,
)
_ACCORDING = re.compile(r"\baccording to\s+[^,]{2,80},\s*", re.IGNORECASE)
_TRAILING_ATTRIBUTION = re.compile(
    rf",?\s*(?:{REPORTING_VERBS})\s+[A-Z][\w.\- ]{{1,60}}\.?$|,?\s*[A-Z][\w.\- ]{{1,60}}\s+(?:{REPORTING_VERBS})\.?$"
)
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
    if verb and verb.end() < len(text) - 15:
        s, e = _trim(text, verb.end(), len(text))
        return Evidence(unit.start + s, unit.start + _strip_final_period(text, s, e), direct=False)
    trailing = _TRAILING_ATTRIBUTION.search(text)
    if trailing and trailing.start() > 15:
        s, e = _trim(text, 0, trailing.start())
        return Evidence(unit.start + s, unit.start + e, direct=False)
    s, e = _trim(text, 0, len(text))
    return Evidence(unit.start + s, unit.start + _strip_final_period(text, s, e), direct=False)


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
    parts = speaker.split()
    aliases = []
    if len(parts) >= 2 and parts[-1][:1].isupper() and re.search(rf"\b{re.escape(parts[-1])}\b", article):
        aliases.append(parts[-1])
    return aliases


def paraphrase(speaker: str, evidence: str, direct: bool) -> str:
    body = " ".join(evidence.split()).strip().rstrip(".")
    if direct:
        return f'{speaker} says: "{body}".'
    return f"{speaker} says that {body[:1].lower() + body[1:] if body[:2] != body[:2].upper() else body}."
