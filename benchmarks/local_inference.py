"""Item 6: the embedded model, through the provider and raw (slow: minutes).

Part 1, provider overhead: tokens per second of
`extractor.providers.local.LocalProvider` (local/qwen2.5-coder-1.5b) against
raw llama-cpp-python on the same prompts and settings: a second `Llama` built
exactly as the provider builds its own (n_ctx, n_threads, n_batch 512,
logits_all, prompt-lookup draft model with 10 tokens, seed 0) and
`create_chat_completion` with the same messages, JSON-schema grammar,
temperature, max_tokens, seed and repeat_penalty. The prompts are the first
`--calls` passage prompts of a seed article (claims@v2), sent in the same order
to both, so both instances see the same prompt-prefix reuse. Rounds alternate
provider / raw; tokens per second = completion tokens / wall seconds.

Part 2, seconds per seed article for each strategy through `Extractor`
(no cache, concurrency 1, the model loaded beforehand): by default the default
prompt (passages, labels, up to 2 re-asks) on all 5 seeds, and
claims-whole@v1 (the whole article in one call) on 2, with max_tokens capped
by `--whole-max-tokens` and no re-ask, since its own 4,000-token budget takes
many minutes per call at this speed. `--prompts REF:N ...` picks others.

Run only on an otherwise idle machine (it samples the CPUs' busy share first):

    .venv/bin/python benchmarks/local_inference.py [--rounds 3] [--calls 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import ROOT, isolate_environment, machine, print_machine, summarize, write_json

from extractor.articles import Article, read_articles
from extractor.llm import CompletionRequest
from extractor.pipeline import ExtractOptions, Extractor
from extractor.prompts import DEFAULT_PROMPT, load_prompt
from extractor.providers.local import LocalProvider, resolve_model_path

MODEL = "qwen2.5-coder-1.5b"
TARGET_RATIO = 0.95


def cpu_busy(seconds: float = 3.0) -> float:
    """Share of CPU time not idle over `seconds` (all CPUs, from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def seed_articles() -> list[Article]:
    return [a for a in read_articles([ROOT / "seeds"]) if isinstance(a, Article)]


def passage_requests(article: Article, count: int) -> list[CompletionRequest]:
    extractor = Extractor(load_prompt("claims@v2"), LocalProvider(MODEL))
    units = extractor.units(article.text)[:count]
    return [extractor._request(extractor.prompt.messages(extractor.unit_variables(article.text, u))) for u in units]


def raw_llama(provider: LocalProvider) -> Any:
    """A Llama built exactly as `LocalProvider._load` builds its own."""
    import llama_cpp
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    return llama_cpp.Llama(
        model_path=str(resolve_model_path(MODEL)),
        n_ctx=provider.n_ctx,
        n_threads=provider.n_threads,
        n_batch=512,
        verbose=False,
        seed=0,
        logits_all=True,
        draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10),
    )


def run_raw(llama: Any, grammars: dict[str, Any], request: CompletionRequest) -> int:
    import json

    from llama_cpp import LlamaGrammar

    key = json.dumps(request.json_schema, sort_keys=True)
    if key not in grammars:
        grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
    result = llama.create_chat_completion(
        messages=request.message_dicts(),
        grammar=grammars[key],
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        seed=request.seed,
        repeat_penalty=1.0,
    )
    return int(result["usage"]["completion_tokens"])


def provider_overhead(rounds: int, calls: int) -> dict[str, Any]:
    article = seed_articles()[0]
    requests = passage_requests(article, calls)
    provider = LocalProvider(MODEL)
    raw = raw_llama(provider)
    grammars: dict[str, Any] = {}

    async def through_provider() -> tuple[int, float]:
        started = time.perf_counter()
        tokens = 0
        for request in requests:
            tokens += (await provider.complete(request)).completion_tokens
        return tokens, time.perf_counter() - started

    def through_raw() -> tuple[int, float]:
        started = time.perf_counter()
        tokens = sum(run_raw(raw, grammars, request) for request in requests)
        return tokens, time.perf_counter() - started

    async def raw_in_thread() -> tuple[int, float]:
        """Raw calls from a worker thread, as the provider makes them (a diagnostic)."""
        started = time.perf_counter()
        tokens = 0
        for request in requests:
            tokens += await asyncio.to_thread(run_raw, raw, grammars, request)
        return tokens, time.perf_counter() - started

    # Warm-up: load both, build grammars, fill each instance's prompt cache.
    asyncio.run(through_provider())
    through_raw()
    provider_tps, raw_tps, thread_tps, ratios = [], [], [], []
    tokens = 0
    for round_number in range(rounds):
        # Alternate who goes first, so neither always follows the other.
        runs = {}
        order = ["provider", "raw", "raw_thread"] if round_number % 2 == 0 else ["raw", "provider", "raw_thread"]
        for name in order:
            if name == "provider":
                runs[name] = asyncio.run(through_provider())
            elif name == "raw":
                runs[name] = through_raw()
            else:
                runs[name] = asyncio.run(raw_in_thread())
        (p_tokens, p_seconds), (r_tokens, r_seconds) = runs["provider"], runs["raw"]
        t_tokens, t_seconds = runs["raw_thread"]
        tokens = p_tokens
        provider_tps.append(p_tokens / p_seconds)
        raw_tps.append(r_tokens / r_seconds)
        thread_tps.append(t_tokens / t_seconds)
        ratios.append((p_tokens / p_seconds) / (r_tokens / r_seconds))
        print(f"  round {round_number + 1} ({' -> '.join(order)}): provider {p_tokens} tokens in {p_seconds:.2f} s"
              f" ({p_tokens / p_seconds:.2f} tok/s); raw {r_tokens} in {r_seconds:.2f} s"
              f" ({r_tokens / r_seconds:.2f} tok/s); raw from a thread {t_tokens} in {t_seconds:.2f} s"
              f" ({t_tokens / t_seconds:.2f} tok/s)", flush=True)
    raw.close()
    asyncio.run(provider.aclose())
    return {
        "article": article.id, "calls_per_round": len(requests), "completion_tokens_per_round": tokens,
        "provider_tokens_per_s": summarize(provider_tps), "raw_tokens_per_s": summarize(raw_tps),
        "raw_from_thread_tokens_per_s": summarize(thread_tps), "ratio": summarize(ratios),
    }


def seconds_per_article(prompt_ref: str, articles: list[Article], max_tokens: int | None,
                        max_retries: int) -> dict[str, Any]:
    prompt = load_prompt(prompt_ref)
    if max_tokens is not None:
        prompt.meta.params.max_tokens = max_tokens
    provider = LocalProvider(MODEL)
    extractor = Extractor(prompt, provider, ExtractOptions(max_retries=max_retries, concurrency=1))

    async def run() -> list[dict[str, Any]]:
        rows = []
        provider._load()  # model load is not per-article time
        for article in articles:
            started = time.perf_counter()
            result = await extractor.extract_article(article)
            seconds = time.perf_counter() - started
            usage = result.extraction.usage if result.extraction else None
            rows.append({
                "article": article.id, "chars": len(article.text), "seconds": seconds,
                "calls": usage.calls if usage else 0,
                "completion_tokens": usage.completion_tokens if usage else 0,
                "claims": len(result.extraction.claims) if result.extraction else 0,
                "failure": result.failure,
            })
            print(f"  {prompt_ref} {article.id}: {seconds:.1f} s, {rows[-1]['calls']} calls,"
                  f" {rows[-1]['completion_tokens']} completion tokens, {rows[-1]['claims']} claims", flush=True)
        await provider.aclose()
        return rows

    rows = asyncio.run(run())
    return {"prompt": prompt_ref, "max_tokens": prompt.meta.params.max_tokens, "max_retries": max_retries,
            "articles": rows, "seconds_per_article": summarize([r["seconds"] for r in rows])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=4, help="passage prompts per round")
    parser.add_argument("--prompts", nargs="+", default=[f"{DEFAULT_PROMPT}:5", "claims-whole@v1:2"],
                        metavar="REF:N", help="prompt and number of seed articles, per strategy"
                        " (default: the default prompt, passages, on all 5 seeds; the whole-article prompt on 2)")
    parser.add_argument("--whole-max-tokens", type=int, default=600,
                        help="max_tokens for whole-article prompts (their own 4,000 takes many minutes per call here)")
    parser.add_argument("--skip-strategies", action="store_true", help="only the provider/raw comparison")
    parser.add_argument("--skip-overhead", action="store_true", help="only the seconds per seed article")
    parser.add_argument("--max-busy", type=float, default=0.15,
                        help="refuse to start when the CPUs are busier than this share (sampled over 3 s)")
    parser.add_argument("--force", action="store_true", help="run even when the machine is busy")
    parser.add_argument("--json")
    args = parser.parse_args()
    isolate_environment()
    print_machine()
    busy = cpu_busy()
    if busy > args.max_busy and not args.force:
        print(f"the CPUs were {busy:.0%} busy over the last 3 s (> {args.max_busy:.0%}): another process is"
              " using them; postponing the local-model measurement (rerun when idle, or --force)")
        write_json(args.json, {"machine": machine(), "skipped": f"CPUs {busy:.0%} busy before the start"})
        return 0
    try:
        resolve_model_path(MODEL)
        import llama_cpp  # noqa: F401
    except Exception as exc:  # the `local` extra is optional
        print(f"embedded model unavailable: {exc}")
        write_json(args.json, {"machine": machine(), "skipped": str(exc)})
        return 0
    results: dict[str, Any] = {"machine": machine(), "model": f"local/{MODEL}",
                               "n_threads": LocalProvider(MODEL).n_threads}
    if not args.skip_overhead:
        print(f"\nprovider vs raw llama-cpp-python, {args.calls} claims@v2 passage prompts per round:")
        overhead = provider_overhead(args.rounds, args.calls)
        results["overhead"] = overhead
        ratio = overhead["ratio"]["median"]
        results["pass"] = ratio >= TARGET_RATIO
        print(f"provider {overhead['provider_tokens_per_s']['median']:.2f} tok/s, raw"
              f" {overhead['raw_tokens_per_s']['median']:.2f} tok/s: ratio {ratio:.3f}"
              f" (min {overhead['ratio']['min']:.3f}, max {overhead['ratio']['max']:.3f})"
              f" -> target >= {TARGET_RATIO}: {'PASS' if results['pass'] else 'MISS'}")
    if not args.skip_strategies:
        seeds = seed_articles()
        print("\nseconds per seed article (no cache):")
        results["strategies"] = []
        for spec in args.prompts:
            ref, _, count = spec.partition(":")
            whole = load_prompt(ref).meta.strategy == "whole"
            # A capped whole-article answer is often cut off; re-asking it would
            # only repeat the same capped call, so it gets none.
            results["strategies"].append(seconds_per_article(
                ref, seeds[: int(count or 1)], args.whole_max_tokens if whole else None, 0 if whole else 2))
        for row in results["strategies"]:
            stats = row["seconds_per_article"]
            print(f"  {row['prompt']} (max_tokens {row['max_tokens']}): median {stats['median']:.1f} s per article"
                  f" (min {stats['min']:.1f}, max {stats['max']:.1f}, n={stats['n']})")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
