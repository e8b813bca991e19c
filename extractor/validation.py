"""Checking a model's answer for one unit, and the feedback for a re-ask.

`check_answer` parses the JSON text into `ClaimList`, then checks each claim:
blank fields, evidence that cannot be aligned to the article, degenerate
repetition, and duplicates (within the answer and against claims already kept
for the article). Each problem names the claim index and field, so the re-ask
message tells the model exactly what to fix, as instructor does with
validation errors.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import ValidationError

from .derive import conditions_in, evidence_in_unit, guess_speaker, paraphrase, speaker_aliases
from .grounding import Alignment, ground_evidence
from .schema import Claim, ClaimDraft, ClaimList, PassageLabel, Span
from .strategies import Unit

DROP_REASONS = ("unaligned", "blank", "repetition", "duplicate", "invalid")
_WORD = re.compile(r"\w+", re.UNICODE)
_CHAR_RUN = re.compile(r"(.)\1{15,}")


@dataclass
class Problem:
    index: int | None  # claim index, None for the whole answer
    field: str
    reason: str  # one of DROP_REASONS
    message: str

    def render(self) -> str:
        where = f"claims[{self.index}].{self.field}" if self.index is not None else self.field
        return f"- {where}: {self.message}"


@dataclass
class CheckedAnswer:
    kept: list[Claim] = field(default_factory=list)
    unaligned: list[Claim] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    parsed: bool = False
    # Claims already kept from an earlier unit (e.g. a chunk overlap): dropped
    # and counted, but no fault of this answer, so not a reason to re-ask.
    repeated: int = 0

    @property
    def ok(self) -> bool:
        return self.parsed and not self.problems

    def feedback(self) -> str:
        lines = "\n".join(p.render() for p in self.problems[:8])
        return (
            "Your answer had these problems:\n"
            f"{lines}\n"
            "Return the corrected JSON for the same passage. Copy every evidence string verbatim "
            "from the passage, keep fields non-empty, and do not repeat a claim."
        )


def is_degenerate(text: str) -> bool:
    """Looping output: a word 3-gram repeated 3+ times, or one word filling most of the text."""
    words = [w.lower() for w in _WORD.findall(text)]
    n = len(words)
    # The counts are only needed when the cheap set sizes allow a hit: a gram
    # seen 3 times leaves at least 2 duplicates among the grams, and a word
    # filling over half the text leaves at most n // 2 + 1 distinct words.
    if n >= 9:
        grams = list(zip(words, words[1:], words[2:], strict=False))
        if len(grams) - len(set(grams)) >= 2 and Counter(grams).most_common(1)[0][1] >= 3:
            return True
    if n >= 8 and len(set(words)) <= n // 2 + 1:
        top = Counter(words).most_common(1)[0][1]
        if top / n > 0.5:
            return True
    return bool(_CHAR_RUN.search(text))


@lru_cache(maxsize=4096)
def _normalized_words(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def claim_key(claim: ClaimDraft) -> tuple[str, str]:
    return _normalized_words(claim.speaker), _normalized_words(claim.evidence)


def _spans_overlap(a: Span | None, b: Span | None) -> float:
    if a is None or b is None:
        return 0.0
    inter = max(0, min(a.end, b.end) - max(a.start, b.start))
    shorter = min(a.end - a.start, b.end - b.start) or 1
    return inter / shorter


def is_duplicate(claim: Claim, others: list[Claim]) -> bool:
    key = claim_key(claim)
    for other in others:
        if claim_key(other) == key:
            return True
        if (
            claim_key(other)[0] == key[0]
            and claim.stance == other.stance
            and _spans_overlap(claim.evidence_span, other.evidence_span) >= 0.9
        ):
            return True
    return False


def parse_answer(text: str) -> ClaimList | Problem:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return Problem(None, "answer", "invalid", f"not valid JSON ({exc.msg} at char {exc.pos})")
    try:
        return ClaimList.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return Problem(None, loc or "answer", "invalid", first["msg"])


def check_answer(
    text: str,
    article: str,
    window: tuple[int, int],
    already_kept: list[Claim],
) -> CheckedAnswer:
    """Validate one answer for the unit `window` of `article`."""
    result = CheckedAnswer()
    parsed = parse_answer(text)
    if isinstance(parsed, Problem):
        result.problems.append(parsed)
        return result
    result.parsed = True
    for index, draft in enumerate(parsed.claims):
        blank = [
            name
            for name in ("speaker", "target", "claim", "evidence")
            if not getattr(draft, name).strip()
        ]
        if blank:
            result.problems.append(Problem(index, blank[0], "blank", "must not be empty"))
            continue
        texts = [draft.speaker, draft.target, draft.claim, draft.evidence, *draft.conditions]
        if any(is_degenerate(t) for t in texts):
            result.problems.append(Problem(index, "claim", "repetition", "degenerate repeated text"))
            continue
        draft = draft.model_copy(
            update={"conditions": [c.strip() for c in draft.conditions if c.strip()]}
        )
        alignment: Alignment = ground_evidence(article, draft.evidence, window)
        claim = Claim(
            **draft.model_dump(),
            evidence_span=alignment.span,
            grounding=alignment.status,
        )
        if alignment.status == "unaligned":
            result.problems.append(
                Problem(index, "evidence", "unaligned", "not found in the passage; copy the exact words")
            )
            result.unaligned.append(claim)
            continue
        if is_duplicate(claim, result.kept):
            result.problems.append(Problem(index, "claim", "duplicate", "repeats an earlier claim"))
            continue
        if is_duplicate(claim, already_kept):
            result.repeated += 1
            continue
        result.kept.append(claim)
    return result


NO_SPEAKER = {"", "none", "unknown", "n/a", "null", "nobody", "journalist", "the journalist", "author", "the author"}


@lru_cache(maxsize=16)
def _lowered(article: str) -> str:
    """The article lower-cased, once per article rather than once per passage."""
    return article.lower()


def _speaker_in_article(speaker: str, article: str) -> bool:
    """Some word of the speaker's name (3+ letters, capitalised) occurs in the article."""
    lowered = _lowered(article)
    words = [w for w in _WORD.findall(speaker) if len(w) >= 3]
    return any(w.lower() in lowered for w in words) if words else False


def check_label(
    text: str, article: str, unit: Unit, conditions_from: str, no_speaker: str = "drop"
) -> CheckedAnswer:
    """Validate a `PassageLabel` answer and derive the claim for `unit`.

    A speaker of "none" means the passage holds no attributable claim: a valid,
    empty answer. A speaker whose name does not occur in the article is a
    problem (an invented or injected speaker) and is re-asked.
    """
    result = CheckedAnswer()
    try:
        label = PassageLabel.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "answer"
        result.problems.append(Problem(None, loc, "invalid", first["msg"]))
        return result
    result.parsed = True
    speaker = " ".join(label.speaker.split())
    if speaker.lower().strip(".") in NO_SPEAKER:
        guessed = guess_speaker(unit.text) if no_speaker == "rules" else None
        if not guessed:
            return result
        speaker = guessed
        label = label.model_copy(update={"stance": "neutral", "speaker_type": "person"})
    if not label.target.strip():
        result.problems.append(Problem(0, "target", "blank", "must not be empty"))
        return result
    if any(is_degenerate(t) for t in (speaker, label.target, *label.conditions)):
        result.problems.append(Problem(0, "speaker", "repetition", "degenerate repeated text"))
        return result
    if not _speaker_in_article(speaker, article):
        result.problems.append(
            Problem(0, "speaker", "unaligned", f"'{speaker}' does not occur in the article; name who speaks in the passage")
        )
        return result
    evidence = evidence_in_unit(article, unit)
    evidence_text = article[evidence.start : evidence.end]
    rule_conditions = conditions_in(evidence_text)
    model_conditions = [c.strip() for c in label.conditions if c.strip()]
    conditions = {
        "rules": rule_conditions,
        "model": model_conditions,
        "both": rule_conditions + [c for c in model_conditions if c.lower() not in {r.lower() for r in rule_conditions}],
    }[conditions_from]
    claim = Claim(
        speaker=speaker,
        speaker_aliases=speaker_aliases(article, speaker),
        speaker_type=label.speaker_type,
        target=" ".join(label.target.split()),
        claim=paraphrase(speaker, evidence_text, evidence.direct),
        stance=label.stance,
        conditions=conditions,
        attribution="direct" if evidence.direct else "indirect",
        evidence=evidence_text,
        evidence_span=Span(start=evidence.start, end=evidence.end),
        grounding="exact",
    )
    result.kept.append(claim)
    return result
