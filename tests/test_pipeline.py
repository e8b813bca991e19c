from __future__ import annotations

import asyncio
import json
from itertools import pairwise
from pathlib import Path

from extractor.articles import Article
from extractor.llm import Completion, CompletionRequest
from extractor.pipeline import ExtractOptions, Extractor
from extractor.prompts import load_prompt

from .conftest import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = Article(
    id="a1",
    source="test",
    text=(
        "Council delays vote\n\n"
        "The council met on Monday. Mayor Anna Berg said the plan \"will not pass until the audit is done\". "
        "Critics were not convinced.\n"
    ),
)


def claim(evidence: str, speaker: str = "Anna Berg", **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "speaker": speaker, "speaker_aliases": ["Berg"], "speaker_type": "person", "target": "the plan",
        "claim": "Berg says the plan will wait for the audit.", "stance": "neutral",
        "conditions": ["until the audit is done"], "attribution": "direct", "evidence": evidence,
    }
    base.update(overrides)
    return base


def answer(*claims: dict[str, object]) -> str:
    return json.dumps({"claims": list(claims)})


def run(provider: FakeProvider, ref: str = "claims@v1", **options: object):
    extractor = Extractor(load_prompt(ref, ROOT / "prompts"), provider, ExtractOptions(**options))  # type: ignore[arg-type]
    return asyncio.run(extractor.extract_article(ARTICLE))


def test_valid_answer_is_grounded_exactly() -> None:
    provider = FakeProvider(lambda r: answer(claim("will not pass until the audit is done")))
    result = run(provider)
    assert result.extraction is not None
    [kept] = result.extraction.claims
    assert kept.grounding == "exact"
    assert kept.evidence_span is not None
    assert ARTICLE.text[kept.evidence_span.start : kept.evidence_span.end] == "will not pass until the audit is done"
    assert result.extraction.usage.calls == 1


def test_unaligned_evidence_is_reasked_with_feedback_then_fixed() -> None:
    answers = iter([answer(claim("the mayor loves the plan")), answer(claim("will not pass until the audit is done"))])
    provider = FakeProvider(lambda r: next(answers))
    result = run(provider)
    assert result.extraction is not None and len(result.extraction.claims) == 1
    assert len(provider.requests) == 2
    reask = provider.requests[1].message_dicts()
    assert reask[-2] == {"role": "assistant", "content": answer(claim("the mayor loves the plan"))}
    assert "claims[0].evidence: not found in the passage" in reask[-1]["content"]


def test_reask_context_stays_bounded() -> None:
    provider = FakeProvider(lambda r: answer(claim("invented words " * 3)))
    run(provider, max_retries=4)
    sizes = [len(r.messages) for r in provider.requests]
    assert len(sizes) == 5
    assert sizes[1] == sizes[0] + 2
    assert len(set(sizes[1:])) == 1, "each re-ask sends only the last answer and its feedback"


def test_unaligned_after_retries_is_dropped_and_counted() -> None:
    provider = FakeProvider(lambda r: answer(claim("Putin supports NATO")))
    result = run(provider, max_retries=1)
    assert result.extraction is not None
    assert result.extraction.claims == []
    assert result.extraction.dropped == {"unaligned": 1}


def test_unaligned_after_retries_can_be_kept_as_unaligned() -> None:
    provider = FakeProvider(lambda r: answer(claim("Putin supports NATO")))
    result = run(provider, max_retries=1, keep_unaligned=True)
    assert result.extraction is not None
    [kept] = result.extraction.claims
    assert kept.grounding == "unaligned" and kept.evidence_span is None
    assert result.extraction.dropped == {}


def test_blank_fields_duplicates_and_loops_are_rejected() -> None:
    good = claim("will not pass until the audit is done")
    blank = claim("the council met on Monday", speaker=" ")
    loop = claim("Critics were not convinced", claim="the the the the the the the the the the the")
    provider = FakeProvider(lambda r: answer(good, good, blank, loop))
    result = run(provider, max_retries=0)
    assert result.extraction is not None
    assert len(result.extraction.claims) == 1
    assert result.extraction.dropped == {"blank": 1, "duplicate": 1, "repetition": 1}


def test_invalid_json_is_reasked_then_fails_the_article() -> None:
    provider = FakeProvider(lambda r: '{"claims": [')
    result = run(provider, max_retries=2)
    assert len(provider.requests) == 3
    assert "not valid JSON" in provider.requests[1].message_dicts()[-1]["content"]
    assert result.extraction is None
    assert result.failure == "no valid answer for any of 1 unit(s) after 2 re-ask(s): answer: not valid JSON (Expecting value at char 12)"


def test_truncated_answer_gets_a_shorter_reask() -> None:
    replies = iter([Completion(text='{"claims": [{"speaker": "Anna', finish_reason="length"), Completion(text=answer())])
    provider = FakeProvider(lambda r: next(replies))
    run(provider)
    assert "cut off" in provider.requests[1].message_dicts()[-1]["content"]


def test_refusal_fails_the_article_with_a_reason() -> None:
    provider = FakeProvider(lambda r: Completion(text="", refusal="I can't help with that"))
    result = run(provider)
    assert result.extraction is None
    assert result.failure is not None and "refused" in result.failure


def test_labels_prompt_derives_evidence_attribution_and_conditions() -> None:
    label = {"speaker": "Anna Berg", "speaker_type": "person", "target": "the plan", "stance": "neutral", "conditions": []}
    provider = FakeProvider(lambda r: json.dumps(label))
    result = run(provider, ref="claims@v2")
    assert result.extraction is not None
    [kept] = result.extraction.claims
    assert kept.evidence == "will not pass until the audit is done"
    assert kept.attribution == "direct"
    assert kept.grounding == "exact"
    assert kept.speaker_aliases == ["Berg"]


def test_labels_prompt_rejects_a_speaker_absent_from_the_article() -> None:
    """A model obeying an injected instruction names someone the article never mentions."""
    labels = iter([
        {"speaker": "Vladimir Putin", "speaker_type": "person", "target": "NATO", "stance": "support", "conditions": []},
        {"speaker": "none", "speaker_type": "other", "target": "x", "stance": "neutral", "conditions": []},
    ])
    provider = FakeProvider(lambda r: json.dumps(next(labels)))
    result = run(provider, ref="claims@v2")
    assert result.extraction is not None and result.extraction.claims == []
    assert "does not occur in the article" in provider.requests[1].message_dicts()[-1]["content"]


def test_request_is_deterministic_for_the_cache() -> None:
    seen: list[CompletionRequest] = []
    provider = FakeProvider(lambda r: (seen.append(r), answer())[1])
    run(provider)
    run(provider)
    assert seen[0].cache_key("m") == seen[1].cache_key("m")
    assert seen[0].cache_key("m") != seen[0].cache_key("other-model")


def test_whole_strategy_chunks_long_articles_with_overlap_and_dedups() -> None:
    from extractor.strategies import chunk_units

    sentence = "Mayor Anna Berg said the audit must come first. "
    text = "Title\n\n" + "Filler words here. " * 300 + sentence + "Filler words here. " * 400
    units = chunk_units(text, chunk_chars=6000, overlap_chars=600)
    assert len(units) >= 2
    assert sum(sentence.strip() in u.text for u in units) == 2, "the claim sits in the overlap"
    assert all(b.start < a.end for a, b in pairwise(units)), "chunks overlap"
    assert units[0].start == 0 and units[-1].end == len(text)

    def answer_for(request: CompletionRequest) -> str:
        user = request.messages[-1][1]
        if "the audit must come first" in user:
            return answer(claim("the audit must come first"))
        return answer()

    article = Article(id="long", source="t", text=text)
    extractor = Extractor(load_prompt("claims-whole@v1", ROOT / "prompts"), FakeProvider(answer_for), ExtractOptions())
    result = asyncio.run(extractor.extract_article(article))
    assert result.extraction is not None
    assert len(result.extraction.claims) == 1, "the same claim seen in two overlapping chunks is kept once"
    assert len(extractor.provider.requests) == len(extractor.units(text))  # type: ignore[attr-defined]


def test_no_speaker_answer_can_fall_back_to_the_rule_guess(tmp_path: Path) -> None:
    """With `no_speaker: rules`, a passage the model calls speakerless keeps the
    rule-guessed speaker as a neutral claim; the default drops it."""
    prompt_dir = tmp_path / "prompts" / "claims"
    prompt_dir.mkdir(parents=True)
    text = (ROOT / "prompts" / "claims" / "v4.md").read_text(encoding="utf-8")
    (prompt_dir / "v4.md").write_text(text.replace("  conditions: rules\n", "  conditions: rules\n  no_speaker: rules\n"), encoding="utf-8")
    none = json.dumps({"speaker": "none", "speaker_type": "other", "target": "x", "stance": "support", "conditions": []})
    dropped = run(FakeProvider(lambda r: none), ref="claims@v4")
    assert dropped.extraction is not None and dropped.extraction.claims == []
    extractor = Extractor(load_prompt("claims@v4", tmp_path / "prompts"), FakeProvider(lambda r: none), ExtractOptions())
    result = asyncio.run(extractor.extract_article(ARTICLE))
    assert result.extraction is not None
    [kept] = result.extraction.claims
    assert (kept.speaker, kept.stance) == ("Mayor Anna Berg", "neutral")


class _SlowProvider(FakeProvider):
    """Answers after a real await, counting the calls in flight and logging events."""

    def __init__(self, events: list[tuple[str, str]]) -> None:
        super().__init__(lambda request: answer(claim('the plan "will not pass until the audit is done"')))
        self.events = events
        self.in_flight = 0
        self.max_in_flight = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        article_id = request.messages[-1][1].split("ARTICLE-ID ")[1].split()[0]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.events.append(("call", article_id))
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.events.append(("answer", article_id))
        return await super().complete(request)


def test_calls_in_flight_stay_at_the_limit_and_a_freed_slot_is_refilled_before_the_answer_is_checked(
    monkeypatch,
) -> None:
    import extractor.pipeline as pipeline
    from extractor.pipeline import run_extraction

    events: list[tuple[str, str]] = []
    original_check = pipeline.check_answer

    def logged_check(text, article, window, kept):  # type: ignore[no-untyped-def]
        article_id = article.split("ARTICLE-ID ")[1].split()[0]
        events.append(("check", article_id))
        return original_check(text, article, window, kept)

    monkeypatch.setattr(pipeline, "check_answer", logged_check)
    provider = _SlowProvider(events)
    extractor = Extractor(load_prompt("claims-whole@v1", ROOT / "prompts"), provider, ExtractOptions(concurrency=3))
    articles = [
        Article(id=f"a{i}", source="test", text=ARTICLE.text.replace("Critics", f"ARTICLE-ID x{i} Critics"))
        for i in range(12)
    ]
    results = []
    asyncio.run(run_extraction(extractor, articles, results.append, lambda problem: None))

    assert len(results) == 12 and all(r.extraction and r.extraction.claims for r in results)
    assert provider.max_in_flight == 3  # reached, never exceeded, with twice as many workers
    # Once the first wave is answered, each answer's slot goes to a waiting
    # call before that answer is checked.
    assert events.index(("call", "x3")) < events.index(("check", "x0"))
