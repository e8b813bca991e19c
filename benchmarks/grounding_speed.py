"""Item 4: grounding speed, 50 evidence strings in a 20,000-character article.

The evidence mix is what models return: verbatim copies, copies with the
quote marks added or dropped, curly quotes straightened, whitespace and line
breaks changed, changed case, a typo or two (rapidfuzz tier), and a few that
are not in the article at all (every tier runs and fails). Half are given the
passage window they came from, as the pipeline does; half search the whole
article.

"cold" clears the folded-article cache first, so it includes folding the
article once (as the first claim of every article does); "warm" is a repeat
with the folded article cached.

    .venv/bin/python benchmarks/grounding_speed.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter

from benchlib import fmt_spread, machine, make_article, print_machine, summarize, write_json

from extractor import grounding
from extractor.grounding import ground_evidence

TARGET_S = 0.050


def evidence_set(text: str, claims: list[dict[str, str]], seed: int = 7) -> list[tuple[str, tuple[int, int] | None, str]]:
    """50 (evidence, window, kind) triples for `text`."""
    rng = random.Random(seed)
    sentences = [s.strip() for s in text.replace("\n", " ").split(". ") if len(s.strip()) > 40]
    out: list[tuple[str, tuple[int, int] | None, str]] = []

    def window_for(evidence: str) -> tuple[int, int] | None:
        pos = text.find(evidence)
        if pos < 0 or rng.random() < 0.5:
            return None
        return (max(0, pos - 150), min(len(text), pos + len(evidence) + 150))

    def typo(s: str, n: int) -> str:
        chars = list(s)
        for _ in range(n):
            i = rng.randrange(len(chars))
            chars[i] = "q" if chars[i] != "q" else "z"
        return "".join(chars)

    evidences = [c["evidence"] for c in claims]
    for i in range(50):
        base = evidences[i % len(evidences)] if i < 30 else rng.choice(sentences)
        window = window_for(base)
        kind = ["exact", "quoted", "straight_quotes", "whitespace", "case", "typo", "typo2", "missing"][i % 8]
        if kind == "exact":
            evidence = base
        elif kind == "quoted":
            evidence = f"\u201c{base}\u201d"
        elif kind == "straight_quotes":
            start = text.find(base)
            lo = max(0, start - 1)
            evidence = text[lo : start + len(base) + 2].replace("\u201c", '"').replace("\u201d", '"')
        elif kind == "whitespace":
            evidence = base.replace(" ", "  ", 3).replace(" ", "\n", 1)
        elif kind == "case":
            evidence = base.upper()
        elif kind == "typo":
            evidence = typo(base, 1)
        elif kind == "typo2":
            evidence = typo(base, 2) + " "
        else:
            evidence = "The minister said the bridge would be closed for repairs until further notice."
            window = None
        out.append((evidence, window, kind))
    return out


def run_once(text: str, items: list[tuple[str, tuple[int, int] | None, str]], cold: bool) -> tuple[float, Counter[str]]:
    if cold:
        grounding._fold_cached.cache_clear()
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    for evidence, window, _kind in items:
        statuses[ground_evidence(text, evidence, window).status] += 1
    return time.perf_counter() - started, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json")
    args = parser.parse_args()
    print_machine()
    article = make_article(0, n_claims=20, target_chars=20000)
    items = evidence_set(article.text, article.claims)
    kinds = Counter(k for _, _, k in items)
    run_once(article.text, items, cold=True)  # import-time and first-call effects
    cold, warm = [], []
    statuses: Counter[str] = Counter()
    for _ in range(args.repeats):
        seconds, statuses = run_once(article.text, items, cold=True)
        cold.append(seconds)
        seconds, _ = run_once(article.text, items, cold=False)
        warm.append(seconds)
    cold_s, warm_s = summarize(cold), summarize(warm)
    passed = cold_s["median"] < TARGET_S
    print(f"article: {len(article.text):,} chars; 50 evidence strings: {dict(kinds)}")
    print(f"grounding result: {dict(statuses)}")
    print(f"cold (folds the article): {fmt_spread(cold_s, 'ms', 1000, 2)}")
    print(f"warm (folded article cached): {fmt_spread(warm_s, 'ms', 1000, 2)}")
    print(f"target < {TARGET_S * 1000:.0f} ms: {'PASS' if passed else 'MISS'}")
    write_json(args.json, {
        "machine": machine(), "article_chars": len(article.text), "kinds": dict(kinds),
        "statuses": dict(statuses), "cold_s": cold_s, "warm_s": warm_s, "target_s": TARGET_S, "pass": passed,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
