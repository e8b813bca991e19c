"""Property tests (hypothesis): the aligner, the scorer, the JSONL writer and reader.

Derandomized and bounded, so they are deterministic and fast offline.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from extractor.articles import text_sha256
from extractor.evaluation.metrics import evaluate
from extractor.grounding import fold, ground_evidence
from extractor.jsonl import JsonlWriter, dumps_line, read_jsonl, repair_jsonl
from extractor.llm import CompletionRequest, canonical_json
from extractor.schema import STANCES, ArticleExtraction, Claim, ClaimDraft, GoldFile, Span
from extractor.strategies import _REPORTING, REPORTING_VERBS, has_reporting_verb
from extractor.validation import is_degenerate

PROPERTY = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text that stresses folding: quotes, dashes, whitespace runs, entities, case
# changes that alter length ("İ"), final sigma, combining marks, astral chars.
TRICKY = " \t\n\u00a0\u2009\u3000‘’“”«»–—…&#;x0123456789abcAB.,\"'İıßΣσςé\u0301😀Пп"
tricky_text = st.text(alphabet=st.sampled_from(list(TRICKY)) | st.characters(codec="utf-8"), max_size=120)
prose = st.text(alphabet=st.sampled_from(list("abcdefgh ABC.,'\"-\n")), min_size=1, max_size=200)


# --- the aligner ------------------------------------------------------------------------------


def check_alignment(article: str, evidence: str, window: tuple[int, int] | None) -> None:
    result = ground_evidence(article, evidence, window)
    assert result.status in ("exact", "fuzzy", "unaligned")
    if result.status == "unaligned":
        assert result.span is None
    else:
        assert result.span is not None
        assert 0 <= result.span.start <= result.span.end <= len(article)
        assert result.span.end > result.span.start, "a grounded span is never empty"


@PROPERTY
@given(article=tricky_text, evidence=tricky_text, data=st.data())
def test_alignment_offsets_are_always_within_bounds(article: str, evidence: str, data: st.DataObject) -> None:
    window: tuple[int, int] | None = None
    if data.draw(st.booleans()):
        a, b = data.draw(st.integers(0, len(article))), data.draw(st.integers(0, len(article)))
        window = (min(a, b), max(a, b))
    check_alignment(article, evidence, window)


@PROPERTY
@given(article=tricky_text, data=st.data())
def test_alignment_of_a_perturbed_substring_stays_within_bounds(article: str, data: st.DataObject) -> None:
    """Evidence close to the article (a slice with a few chars changed): fuzzy territory."""
    assume(article)
    i = data.draw(st.integers(0, len(article) - 1))
    j = data.draw(st.integers(i + 1, len(article)))
    chars = list(article[i:j])
    for _ in range(data.draw(st.integers(0, 3))):
        chars[data.draw(st.integers(0, len(chars) - 1))] = data.draw(st.sampled_from(list(TRICKY)))
    check_alignment(article, "".join(chars), None)


@PROPERTY
@given(article=tricky_text, data=st.data())
def test_an_exact_substring_is_found_exactly(article: str, data: st.DataObject) -> None:
    assume(article.strip())
    i = data.draw(st.integers(0, len(article) - 1))
    j = data.draw(st.integers(i + 1, len(article)))
    evidence = article[i:j]
    assume(evidence.strip())
    result = ground_evidence(article, evidence)
    assert result.status == "exact"
    assert result.span is not None
    assert article[result.span.start : result.span.end] == evidence


@PROPERTY
@given(article=tricky_text, data=st.data())
def test_an_exact_substring_inside_the_window_is_found_there(article: str, data: st.DataObject) -> None:
    assume(article.strip())
    i = data.draw(st.integers(0, len(article) - 1))
    j = data.draw(st.integers(i + 1, len(article)))
    evidence = article[i:j]
    assume(evidence.strip())
    lo = data.draw(st.integers(0, i))
    hi = data.draw(st.integers(j, len(article)))
    result = ground_evidence(article, evidence, (lo, hi))
    assert result.status == "exact" and result.span is not None
    assert lo <= result.span.start and result.span.end <= hi
    assert article[result.span.start : result.span.end] == evidence


@PROPERTY
@given(text=tricky_text)
def test_fold_maps_every_folded_char_back_into_the_text(text: str) -> None:
    folded = fold(text)
    assert len(folded.starts) == len(folded.ends) == len(folded.text)
    previous_end = 0
    for start, end in zip(folded.starts, folded.ends, strict=True):
        assert 0 <= start < end <= len(text)
        assert start >= previous_end, "folded chars map to ordered, non-overlapping spans"
        previous_end = end


# --- the scorer -------------------------------------------------------------------------------

SPEAKERS = ["Anna Berg", "Berg", "Karl Olsen", "Lena Holm", "State Department", "Vladimir Putin"]


@st.composite
def scored_world(draw: st.DrawFn) -> tuple[dict[str, ArticleExtraction], dict[str, GoldFile], dict[str, str]]:
    texts: dict[str, str] = {}
    predictions: dict[str, ArticleExtraction] = {}
    gold: dict[str, GoldFile] = {}
    for n in range(draw(st.integers(1, 4))):
        article_id = f"a{n}"
        text = draw(prose)
        texts[article_id] = text

        def claim_list(grounded: bool, text: str = text) -> list[Any]:
            claims: list[Any] = []
            for _ in range(draw(st.integers(0, 4))):
                i = draw(st.integers(0, len(text) - 1))
                j = draw(st.integers(i + 1, len(text)))
                evidence = text[i:j] if draw(st.booleans()) else draw(prose)
                draft = {
                    "speaker": draw(st.sampled_from(SPEAKERS)),
                    "speaker_aliases": draw(st.lists(st.sampled_from(SPEAKERS), max_size=2)),
                    "speaker_type": "person",
                    "target": draw(st.sampled_from(["the plan", "taxes", "NATO"])),
                    "claim": "Something was said.",
                    "stance": draw(st.sampled_from(STANCES)),
                    "conditions": draw(st.lists(st.sampled_from(["until the audit", "if it rains", "only after talks"]), max_size=2)),
                    "attribution": draw(st.sampled_from(["direct", "indirect"])),
                    "evidence": evidence,
                }
                if grounded:
                    found = text.find(evidence)
                    span = Span(start=found, end=found + len(evidence)) if found >= 0 else None
                    claims.append(Claim(**draft, evidence_span=span, grounding="exact" if span else "unaligned"))
                else:
                    claims.append(ClaimDraft(**draft))
            return claims

        if draw(st.booleans()) or not gold:
            gold[article_id] = GoldFile(article_id=article_id, annotator="t", claims=claim_list(False))
        if draw(st.booleans()):
            predictions[article_id] = ArticleExtraction(
                article_id=article_id, article_sha256=text_sha256(text), claims=claim_list(True), prompt="p@v1", model="m"
            )
    return predictions, gold, texts


def numbers(node: Any, path: str = "") -> list[tuple[str, float]]:
    """Every number in the report that is a score (not a count)."""
    found: list[tuple[str, float]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(numbers(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(numbers(value, f"{path}[{index}]"))
    elif isinstance(node, float) and not isinstance(node, bool):
        found.append((path, node))
    return found


SCORE_KEYS = ("precision", "recall", "f1", "accuracy", "macro_f1", "content_f1", "exact", "fuzzy", "unaligned", "strict_f1", "speakers_f1", "stance_accuracy", "ci95")


@settings(PROPERTY, max_examples=80)
@given(world=scored_world())
def test_scores_lie_between_zero_and_one(world: Any) -> None:
    predictions, gold, texts = world
    report = evaluate(predictions, gold, texts)
    scores = [(p, v) for p, v in numbers(report) if any(f".{k}" in p for k in SCORE_KEYS) and "confusion" not in p]
    assert scores
    for path, value in scores:
        assert 0.0 <= value <= 1.0, (path, value)


def order_free_part(report: dict[str, Any]) -> dict[str, Any]:
    """Claim and grounding scores, and per-article counts and claim scores.

    Speaker, stance and condition scores are order-dependent today: see the
    two xfail tests below."""
    keep = ("article_id", "status", "gold", "predicted", "matched_lenient", "matched_strict", "precision", "recall", "f1", "strict_f1")
    return {
        "claims": report["claims"],
        "grounding": report["grounding"],
        "meta": report["meta"],
        "articles": [{k: row[k] for k in keep} for row in report["articles"]],
    }


def shuffled_predictions(predictions: dict[str, ArticleExtraction], seed: int) -> dict[str, ArticleExtraction]:
    rng = random.Random(seed)
    shuffled: dict[str, ArticleExtraction] = {}
    for article_id in rng.sample(list(predictions), len(predictions)):
        extraction = predictions[article_id]
        claims = list(extraction.claims)
        rng.shuffle(claims)
        shuffled[article_id] = extraction.model_copy(update={"claims": claims})
    return shuffled


@settings(PROPERTY, max_examples=80)
@given(world=scored_world(), seed=st.integers(0, 2**16))
def test_permuting_predictions_does_not_change_the_scores(world: Any, seed: int) -> None:
    predictions, gold, texts = world
    before = order_free_part(evaluate(predictions, gold, texts))
    after = order_free_part(evaluate(shuffled_predictions(predictions, seed), gold, texts))
    assert after == before


def test_permuting_tied_predictions_does_not_change_stance_scores() -> None:
    """Found by hypothesis: two predictions equal but for stance tie for one gold
    claim; which one is matched (and so stance accuracy) depends on their order."""
    text = "A"
    draft = {
        "speaker": "Anna Berg", "speaker_aliases": [], "speaker_type": "person", "target": "the plan",
        "claim": "Something was said.", "conditions": [], "attribution": "direct", "evidence": "A",
    }
    pred = [Claim(**draft, stance=stance, evidence_span=Span(start=0, end=1), grounding="exact") for stance in ("oppose", "support")]
    gold = {"a0": GoldFile(article_id="a0", annotator="t", claims=[ClaimDraft(**draft, stance="support")])}
    extraction = ArticleExtraction(article_id="a0", article_sha256=text_sha256(text), claims=pred, prompt="p@v1", model="m")
    reversed_ = extraction.model_copy(update={"claims": pred[::-1]})
    first = evaluate({"a0": extraction}, gold, {"a0": text})
    second = evaluate({"a0": reversed_}, gold, {"a0": text})
    assert first["stance"] == second["stance"]


def test_permuting_predictions_does_not_change_speaker_scores() -> None:
    """Found by hypothesis: a claim whose aliases name another speaker merges two
    entities or not depending on whether it comes first."""
    text = "A"

    def claim(speaker: str, aliases: list[str]) -> Claim:
        return Claim(
            speaker=speaker, speaker_aliases=aliases, speaker_type="person", target="the plan", claim="Said.",
            stance="support", conditions=[], attribution="direct", evidence="A", evidence_span=Span(start=0, end=1),
            grounding="exact",
        )

    pred = [claim("Anna Berg", []), claim("Karl Olsen", []), claim("Karl Olsen", ["Anna Berg"])]
    gold = {"a0": GoldFile(article_id="a0", annotator="t", claims=[ClaimDraft(**pred[0].model_dump(include=set(ClaimDraft.model_fields)))])}
    extraction = ArticleExtraction(article_id="a0", article_sha256=text_sha256(text), claims=pred, prompt="p@v1", model="m")
    reversed_ = extraction.model_copy(update={"claims": pred[::-1]})
    first = evaluate({"a0": extraction}, gold, {"a0": text})
    second = evaluate({"a0": reversed_}, gold, {"a0": text})
    assert first["speakers"] == second["speakers"]


# --- JSONL writer and reader --------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30)
records = st.lists(
    st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8),
        max_size=5,
    ),
    max_size=8,
)


@settings(PROPERTY, max_examples=60)
@given(batch=records)
def test_jsonl_round_trip(batch: list[dict[str, Any]]) -> None:
    path = _fresh_path()
    with JsonlWriter(path) as writer:
        for record in batch:
            writer.write(record)
    assert list(read_jsonl(path)) == batch
    assert list(read_jsonl(path, strict=True)) == batch
    assert path.read_bytes().count(b"\n") == len(batch), "one line per record, whatever the text holds"


@settings(PROPERTY, max_examples=80)
@given(batch=records, extra=records.filter(bool), data=st.data())
def test_a_torn_last_line_is_skipped_and_repaired(batch: list[dict[str, Any]], extra: list[dict[str, Any]], data: st.DataObject) -> None:
    """A kill mid-write can cut the last line at any byte, even inside a UTF-8
    sequence, or just before its newline (then the record is whole and kept)."""
    path = _fresh_path()
    with JsonlWriter(path) as writer:
        for record in batch:
            writer.write(record)
    line = dumps_line(extra[0]).encode("utf-8")
    cut = data.draw(st.integers(1, len(line) - 1))
    with path.open("ab") as handle:
        handle.write(line[:cut])
    expected = [*batch, extra[0]] if cut == len(line) - 1 else batch
    assert list(read_jsonl(path)) == expected
    assert list(read_jsonl(path, strict=True)) == expected
    assert repair_jsonl(path) == (0 if cut == len(line) - 1 else cut)
    assert path.read_bytes().endswith(b"\n") or not path.read_bytes()
    assert list(read_jsonl(path, strict=True)) == expected
    with JsonlWriter(path) as writer:  # a resumed run appends whole lines again
        writer.write(extra[0])
    assert list(read_jsonl(path, strict=True)) == [*expected, extra[0]]


def test_a_broken_middle_line_is_named_in_strict_mode_and_skipped_otherwise(tmp_path: Path) -> None:
    from extractor.errors import ConfigError

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": \xff\xfe}\n{"a": 3}\n')
    assert list(read_jsonl(path)) == [{"a": 1}, {"a": 3}]
    with pytest.raises(ConfigError, match=r"x\.jsonl:2: not UTF-8 text"):
        list(read_jsonl(path, strict=True))
    path.write_bytes(b'{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(ConfigError, match=r"x\.jsonl:2: not valid JSON"):
        list(read_jsonl(path, strict=True))


_COUNTER = iter(range(10**9))
_BASE: list[Path] = []


def _fresh_path() -> Path:
    """A new file path per example (hypothesis runs many examples in one test call)."""
    import tempfile

    if not _BASE:
        _BASE.append(Path(tempfile.mkdtemp(prefix="extractor-props-")))
    return _BASE[0] / f"{next(_COUNTER)}.jsonl"


# --- passage detection and the looping guard -------------------------------------

_VERBS = [*REPORTING_VERBS.replace("[sz]", "s").split("|"), "emphasized", "according to"]
_VERB_LOOKALIKES = ["SAID", "Said", "saidx", "xsaid", "_said", "said_", "ſaid", "calls  for", "Calls For",
                    "accordingto", "ACCORDING TO", "call", "for", "to",
                    # letters IGNORECASE matches to i, s and k; a ligature it does not
                    "saıd", "SAİD", "İsaid", "ſays", "maKes clear", "accordıng to", "conﬁrmed"]
_FILLER = [" ", "  ", "\n", ",", ".", "-", "'", "İ", "é", "1", "word"]


@PROPERTY
@given(
    st.lists(st.sampled_from(_FILLER), max_size=4),
    st.sampled_from(_VERBS + _VERB_LOOKALIKES * 8),  # one word that may or may not be a verb
    st.lists(st.sampled_from(_FILLER), max_size=4),
)
def test_has_reporting_verb_agrees_with_the_reporting_regex(before: list[str], word: str, after: list[str]) -> None:
    text = "".join(before) + word + "".join(after)
    assert has_reporting_verb(text) == (_REPORTING.search(text) is not None)


def _is_degenerate_reference(text: str) -> bool:
    """The guard as first written: full counts every time."""
    words = [w.lower() for w in re.findall(r"\w+", text)]
    if len(words) >= 9 and Counter(zip(words, words[1:], words[2:], strict=False)).most_common(1)[0][1] >= 3:
        return True
    if len(words) >= 8 and Counter(words).most_common(1)[0][1] / len(words) > 0.5:
        return True
    return bool(re.search(r"(.)\1{15,}", text))


@PROPERTY
@given(st.lists(st.sampled_from(["a", "b", "the", "The", "x", "aaaa", "İ", " ", "."]), max_size=40))
# At the edges of the shortcuts: one 3-gram exactly 3 times and nothing else
# repeated; one word in just over / exactly half of the words.
@example(["p", "q", "r", "1", "p", "q", "r", "2", "p", "q", "r"])
@example(["w", "1", "w", "2", "w", "3", "w", "4", "w"])
@example(["w", "1", "w", "2", "w", "3", "w", "4"])
def test_is_degenerate_agrees_with_the_full_count(words: list[str]) -> None:
    text = " ".join(words)
    assert is_degenerate(text) == _is_degenerate_reference(text)


# --- the cache key -----------------------------------------------------------------


@PROPERTY
@given(
    st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), st.text(alphabet=TRICKY, max_size=40)), max_size=5),
    st.floats(min_value=0, max_value=2, allow_nan=False),
    st.integers(min_value=1, max_value=4000),
    st.text(max_size=12),
)
def test_cache_key_is_the_hash_of_the_canonical_request(
    messages: list[tuple[str, str]], temperature: float, max_tokens: int, model_id: str
) -> None:
    """Built in pieces for speed, but the same key as hashing the whole request
    (recorded responses are found by it)."""
    schema = {"type": "object", "properties": {"ü": {"type": "string"}}}
    request = CompletionRequest.build(
        [{"role": r, "content": c} for r, c in messages], schema, temperature=temperature, max_tokens=max_tokens
    )
    payload = {
        "model": model_id,
        "params": {"temperature": temperature, "max_tokens": max_tokens, "seed": 0},
        "messages": [{"role": r, "content": c} for r, c in messages],
        "schema": hashlib.sha256(canonical_json(schema).encode("utf-8")).hexdigest()[:16],
    }
    assert request.cache_key(model_id) == hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
