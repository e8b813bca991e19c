"""article -> units (strategy) -> provider -> validate and re-ask -> ground -> record.

`Extractor.extract_article` handles one article; `run_extraction` streams many
articles through a bounded pool of workers and writes each result as soon as
the article finishes (see `runs.py`). The provider is passed in: this module
never imports a backend.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .articles import Article, InputProblem
from .errors import ProviderError
from .llm import Completion, CompletionRequest, Provider
from .prompts import Prompt
from .schema import ArticleExtraction, Claim, ClaimList, PassageLabel, Usage
from .strategies import Unit, article_title, chunk_units, passage_units
from .validation import CheckedAnswer, check_answer, check_label, is_duplicate

RESPONSE_SCHEMA: dict[str, Any] = ClaimList.model_json_schema()


def model_response_schema(max_claims: int) -> dict[str, Any]:
    """The JSON Schema the model is constrained to: `ClaimList` with bounded sizes.

    Bounds are a guard against loops: a small model asked for "all claims" can
    otherwise emit blank claims until it runs out of tokens.
    """
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "claims": {
                "type": "array",
                "maxItems": max_claims,
                "items": {"$ref": "#/$defs/ClaimDraft"},
            }
        },
        "required": ["claims"],
        "additionalProperties": False,
        "$defs": {"ClaimDraft": dict(RESPONSE_SCHEMA["$defs"]["ClaimDraft"])},
    }
    draft = schema["$defs"]["ClaimDraft"]
    draft["required"] = list(draft["properties"])  # every field, so none is silently skipped
    return schema


def label_response_schema() -> dict[str, Any]:
    """`PassageLabel` with bounded strings and lists (a guard against loops)."""
    schema = PassageLabel.model_json_schema()
    props = schema["properties"]
    props["speaker"]["maxLength"] = 80
    props["target"]["maxLength"] = 80
    props["conditions"]["maxItems"] = 2
    props["conditions"]["items"]["maxLength"] = 160
    schema["required"] = list(props)
    schema["additionalProperties"] = False
    return schema


@dataclass
class ExtractOptions:
    max_retries: int = 2
    keep_unaligned: bool = False
    concurrency: int = 4


@dataclass
class UnitOutcome:
    claims: list[Claim]
    dropped: Counter[str]
    usage: Usage
    cached_calls: int = 0
    parsed: bool = True
    problem: str = ""


@dataclass
class ArticleResult:
    article: Article
    extraction: ArticleExtraction | None
    failure: str | None = None
    stage: str = "extract"
    cached_calls: int = 0


@dataclass
class Extractor:
    prompt: Prompt
    provider: Provider
    options: ExtractOptions = field(default_factory=ExtractOptions)
    _semaphore: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        opts = self.prompt.meta.options
        self.response_kind = opts.response
        self.schema = label_response_schema() if opts.response == "labels" else model_response_schema(opts.max_claims)

    @property
    def concurrency(self) -> int:
        """Concurrent calls: the user's bound, capped by what the provider can use."""
        limit = self.options.concurrency
        if self.provider.max_concurrency:
            limit = min(limit, self.provider.max_concurrency)
        return max(1, limit)

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._semaphore

    def units(self, text: str) -> list[Unit]:
        opts = self.prompt.meta.options
        if self.prompt.meta.strategy == "passages":
            return passage_units(
                text,
                max_sentences=opts.max_sentences,
                max_chars=opts.max_chars,
                context_sentences=opts.context_sentences,
            )
        return chunk_units(text, chunk_chars=opts.chunk_chars, overlap_chars=opts.overlap_chars)

    def unit_variables(self, text: str, unit: Unit) -> dict[str, str]:
        title = article_title(text)
        if self.prompt.meta.strategy == "passages":
            return {"title": title, "context": unit.context or "(none)", "passage": unit.text}
        return {"title": title, "article": unit.text}

    def _request(self, messages: list[dict[str, str]]) -> CompletionRequest:
        params = self.prompt.meta.params
        return CompletionRequest.build(
            messages,
            self.schema,
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            seed=params.seed,
        )

    async def _call(self, messages: list[dict[str, str]]) -> Completion:
        request = self._request(messages)
        async with self.semaphore:
            completion = await self.provider.complete(request)
        # Let a worker waiting for the freed slot send its call before this
        # answer is validated and grounded, so the calls in flight stay at the
        # limit while the answers are processed in between.
        await asyncio.sleep(0)
        return completion

    async def extract_unit(self, article: Article, unit: Unit, kept: list[Claim]) -> UnitOutcome:
        """Ask, validate, and re-ask with the problems until valid or out of retries.

        A re-ask sends the original messages plus only the last answer and its
        feedback, so the context stays bounded however many retries there are.
        The best attempt (most valid claims) is kept; its unaligned claims are
        kept as `unaligned` or dropped per `keep_unaligned`; every other problem
        is a dropped claim counted by reason.
        """
        base = self.prompt.messages(self.unit_variables(article.text, unit))
        messages = base
        usage = Usage()
        cached_calls = 0
        best: CheckedAnswer | None = None
        window = (unit.start, unit.end)
        for _attempt in range(self.options.max_retries + 1):
            completion = await self._call(messages)
            usage.add(Usage(prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens, calls=1))
            cached_calls += completion.cached
            if completion.refusal:
                raise ProviderError(f"model refused: {completion.refusal[:200]}")
            if self.response_kind == "labels":
                opts = self.prompt.meta.options
                checked = check_label(completion.text, article.text, unit, opts.conditions, opts.no_speaker)
                repeated = [c for c in checked.kept if is_duplicate(c, kept)]
                checked.repeated = len(repeated)
                checked.kept = [c for c in checked.kept if c not in repeated]
            else:
                checked = check_answer(completion.text, article.text, window, kept)
            if completion.finish_reason == "length" and not checked.parsed:
                feedback = "Your answer was cut off. Return fewer, shorter claims as complete JSON."
            else:
                feedback = checked.feedback()
            if best is None or len(checked.kept) > len(best.kept) or (checked.ok and not best.ok):
                best = checked
            if checked.ok:
                break
            messages = [*base, {"role": "assistant", "content": completion.text[:4000]}, {"role": "user", "content": feedback}]
        assert best is not None
        dropped: Counter[str] = Counter(p.reason for p in best.problems if p.index is not None)
        if not best.parsed:
            dropped["invalid_answer"] += 1
        dropped["duplicate"] += best.repeated
        claims = list(best.kept)
        if self.options.keep_unaligned:
            claims.extend(best.unaligned)
            dropped["unaligned"] -= len(best.unaligned)
        problem = best.problems[0].render().lstrip("- ") if best.problems else ""
        return UnitOutcome(claims, +dropped, usage, cached_calls, best.parsed, problem)

    async def extract_article(self, article: Article) -> ArticleResult:
        kept: list[Claim] = []
        dropped: Counter[str] = Counter()
        usage = Usage()
        cached_calls = 0
        try:
            # Units run one after another so later units see earlier claims for
            # de-duplication; articles run concurrently instead.
            units = self.units(article.text)
            outcomes = []
            for unit in units:
                outcome = await self.extract_unit(article, unit, kept)
                outcomes.append(outcome)
                kept.extend(outcome.claims)
                dropped.update(outcome.dropped)
                usage.add(outcome.usage)
                cached_calls += outcome.cached_calls
        except ProviderError as exc:
            return ArticleResult(article, None, str(exc), "model")
        if outcomes and not any(o.parsed for o in outcomes):
            # Not one usable answer: a failure to retry (e.g. with --resume), not an empty article.
            reason = f"no valid answer for any of {len(outcomes)} unit(s) after {self.options.max_retries} re-ask(s): {outcomes[-1].problem}"
            return ArticleResult(article, None, reason, "model")
        kept.sort(key=lambda c: (c.evidence_span.start if c.evidence_span else len(article.text), c.speaker))
        extraction = ArticleExtraction(
            article_id=article.id,
            article_sha256=article.sha256,
            claims=kept,
            prompt=self.prompt.ref,
            model=self.provider.model_id,
            usage=usage,
            dropped=dict(sorted(dropped.items())),
        )
        return ArticleResult(article, extraction, cached_calls=cached_calls)


ResultSink = Callable[[ArticleResult], None]
ProblemSink = Callable[[InputProblem], None]


async def run_extraction(
    extractor: Extractor,
    items: Iterable[Article | InputProblem],
    on_result: ResultSink,
    on_problem: ProblemSink,
    skip: set[str] | None = None,
) -> None:
    """Stream `items` through `concurrency` workers; call the sinks as each finishes.

    Items are pulled lazily, so memory stays flat however many articles there are.
    `skip` holds ids already finished (for `--resume`).
    """
    skip = skip or set()
    iterator = iter(items)
    lock = asyncio.Lock()

    async def next_article() -> Article | None:
        async with lock:
            for item in iterator:
                if isinstance(item, InputProblem):
                    on_problem(item)
                    continue
                if item.id in skip:
                    continue
                return item
            return None

    async def worker() -> None:
        while (article := await next_article()) is not None:
            on_result(await extractor.extract_article(article))

    # With concurrent calls, twice as many workers as calls, so that a prepared
    # call is waiting whenever a slot frees up (see `Extractor._call`). An
    # in-process model runs one call at a time and blocks the loop while it
    # does, so there one worker: articles finish and are written one by one.
    concurrency = extractor.concurrency
    workers = 1 if concurrency == 1 else 2 * concurrency
    await asyncio.gather(*(worker() for _ in range(workers)))
