"""Item 1: pipeline overhead per article with an instant in-process model.

Everything but the model call is counted: reading the article files, prompt
rendering, the cache (key hashing, a miss, writing the response file; or a
hit), validation, grounding, writing extractions.jsonl and the manifest, and
the final reordering. The fake model answers from a precomputed table (a
regex and a dict lookup); its own time is measured and subtracted.

Articles: ~5,000 characters, 15 attributed sentences each.
- claims-whole@v1: one call per article returning 15 claims (2 of them with
  whitespace/quote-style changes and 2 with a typo, so the normalized and
  rapidfuzz grounding tiers run too).
- claims@v2, and the default prompt when it differs (claims@v4: same passages
  and labels, conditions from clause rules): 15 passage calls per article, each
  answering a label; evidence is derived from the passage.

    .venv/bin/python benchmarks/pipeline_overhead.py [--articles 300] [--repeats 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    AnswerBook,
    InstantProvider,
    fmt_spread,
    isolate_environment,
    machine,
    make_article,
    print_machine,
    summarize,
    write_articles_dir,
    write_json,
)

from extractor.cache import CachedProvider, ResponseStore
from extractor.pipeline import ExtractOptions, Extractor
from extractor.prompts import DEFAULT_PROMPT, load_prompt
from extractor.runner import execute_run

TARGET_MS = 5.0


def one_run(prompt_ref: str, articles_dir: Path, book: AnswerBook, work: Path, store: ResponseStore,
            concurrency: int) -> dict[str, float]:
    inner = InstantProvider(book)
    provider = CachedProvider(inner, [store], [store])
    extractor = Extractor(load_prompt(prompt_ref), provider, ExtractOptions(concurrency=concurrency))
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix="run-"))
    run_dir.rmdir()
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = execute_run(extractor, [articles_dir], run_dir)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert summary.failed == 0, summary.as_dict()
    return {
        "wall": wall,
        "cpu": cpu,
        "model": inner.seconds,
        "fresh_calls": inner.calls,
        "cached_calls": summary.cached_calls,
        "claims": summary.claims,
        "articles": summary.articles,
        "calls": summary.usage.calls,
        "fuzzy": summary.grounding.get("fuzzy", 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--prompts", nargs="+",
                        default=list(dict.fromkeys(["claims-whole@v1", "claims@v2", DEFAULT_PROMPT])))
    parser.add_argument("--profile", metavar="PROMPT", help="cProfile one cold-cache run of PROMPT instead")
    parser.add_argument("--json")
    args = parser.parse_args()
    isolate_environment()
    print_machine()
    results: dict[str, object] = {"machine": machine(), "articles": args.articles, "target_ms": TARGET_MS}

    articles = [make_article(i) for i in range(args.articles)]
    book = AnswerBook(articles)
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        work = Path(tmp)
        articles_dir = write_articles_dir(work / "articles", articles)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            one_run(args.profile, articles_dir, book, work, ResponseStore(work / "cache-prof"), args.concurrency)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return 0
        for prompt_ref in args.prompts:
            cold: list[float] = []
            warm: list[float] = []
            cold_cpu: list[float] = []
            last: dict[str, float] = {}
            for repeat in range(args.repeats):
                store = ResponseStore(work / f"cache-{prompt_ref}-{repeat}")
                # cold: every call misses the cache and its answer is written to it
                last = one_run(prompt_ref, articles_dir, book, work, store, args.concurrency)
                cold.append((last["wall"] - last["model"]) / args.articles)
                cold_cpu.append((last["cpu"] - last["model"]) / args.articles)
                # warm: every call is a cache hit (a rerun)
                again = one_run(prompt_ref, articles_dir, book, work, store, args.concurrency)
                assert again["fresh_calls"] == 0
                warm.append((again["wall"] - again["model"]) / args.articles)
            cold_s, warm_s, cold_cpu_s = summarize(cold), summarize(warm), summarize(cold_cpu)
            calls_per_article = last["calls"] / args.articles
            claims_per_article = last["claims"] / args.articles
            results[prompt_ref] = {
                "cold_cache_s_per_article": cold_s,
                "warm_cache_s_per_article": warm_s,
                "cold_cache_cpu_s_per_article": cold_cpu_s,
                "calls_per_article": calls_per_article,
                "claims_per_article": claims_per_article,
                "fuzzy_claims_per_article": last["fuzzy"] / args.articles,
                "fake_model_s_per_article": last["model"] / args.articles,
            }
            print(f"\n{prompt_ref}: {args.articles} articles x {args.repeats} repeats,"
                  f" {calls_per_article:.0f} calls and {claims_per_article:.1f} claims per article"
                  f" ({last['fuzzy'] / args.articles:.1f} fuzzy-grounded)")
            print(f"  overhead per article, cold cache (miss + write): {fmt_spread(cold_s, 'ms', 1000, 2)}")
            print(f"  overhead per article, warm cache (hit):          {fmt_spread(warm_s, 'ms', 1000, 2)}")
            print(f"  CPU time per article, cold cache:                {fmt_spread(cold_cpu_s, 'ms', 1000, 2)}")
            print(f"  fake model time per article (subtracted):        {last['model'] / args.articles * 1000:.3f} ms")
        if "claims-whole@v1" not in results:
            write_json(args.json, results)
            return 0
        worst = max(results["claims-whole@v1"]["cold_cache_s_per_article"]["median"],  # type: ignore[index]
                    results["claims-whole@v1"]["warm_cache_s_per_article"]["median"])  # type: ignore[index]
        results["pass"] = worst * 1000 < TARGET_MS
        print(f"\ntarget < {TARGET_MS} ms per article (claims-whole@v1, 15 claims): "
              f"{'PASS' if results['pass'] else 'MISS'} ({worst * 1000:.2f} ms)")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
