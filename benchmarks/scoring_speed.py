"""Item 5: scoring speed, eval of 1,000 articles with 20 gold and 20 predicted claims each.

Two figures:
- `evaluate()` in process (matching at both thresholds, speakers, stance,
  conditions, grounding, bootstrap interval, per-article rows), with the
  name/token caches cleared before every repeat;
- `extractor eval RUN --gold GOLD --articles DIR --json` end to end in a
  subprocess: interpreter start, reading 1,000 gold files, the run and the
  article texts, scoring, rendering the JSON report.

Predictions are derived from the gold claims the way a decent model gets them
wrong: most exact, some with the surname only and a shortened span, some with
the wrong speaker, changed stances and conditions, two spurious claims.

    .venv/bin/python benchmarks/scoring_speed.py [--articles 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    PY,
    ROOT,
    fmt_spread,
    gold_document,
    isolate_environment,
    machine,
    make_article,
    print_machine,
    summarize,
    write_articles_dir,
    write_gold_dir,
    write_json,
    write_run_dir,
)

from extractor.evaluation import matching
from extractor.evaluation.metrics import evaluate
from extractor.runs import RunDir, load_predictions
from extractor.schema import GoldFile

TARGET_S = 3.0


def clear_caches() -> None:
    for name in ("normalize_name", "token_set", "_word_tokens"):
        cached = getattr(matching, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cli-repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    isolate_environment()
    print_machine()
    articles = [make_article(i, n_claims=args.claims, target_chars=7000) for i in range(args.articles)]
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        work = Path(tmp)
        articles_dir = write_articles_dir(work / "articles", articles)
        gold_dir = write_gold_dir(work / "gold", articles)
        run_dir = write_run_dir(work / "run", articles, [articles_dir])

        predictions = load_predictions(RunDir(run_dir))
        gold = {a.article_id: GoldFile.model_validate(gold_document(a)) for a in articles}
        texts = {a.article_id: a.text for a in articles}
        n_pred = sum(len(p.claims) for p in predictions.values())
        n_gold = sum(len(g.claims) for g in gold.values())
        in_process: list[float] = []
        report: dict = {}
        for _ in range(args.repeats):
            clear_caches()
            started = time.perf_counter()
            report = evaluate(predictions, gold, texts)
            in_process.append(time.perf_counter() - started)

        cli: list[float] = []
        command = [str(Path(PY).parent / "extractor"), "eval", str(run_dir), "--gold", str(gold_dir),
                   "--articles", str(articles_dir), "--json"]
        for _ in range(args.cli_repeats):
            started = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            cli.append(time.perf_counter() - started)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1

    in_s, cli_s = summarize(in_process), summarize(cli)
    passed = in_s["median"] < TARGET_S and cli_s["median"] < TARGET_S
    lenient = report["claims"]["lenient"]
    print(f"{args.articles} articles, {n_gold} gold and {n_pred} predicted claims;"
          f" lenient F1 {lenient['f1']}, strict F1 {report['claims']['strict']['f1']}")
    print(f"evaluate() in process:           {fmt_spread(in_s, 's', 1, 3)}")
    print(f"extractor eval (CLI, end to end): {fmt_spread(cli_s, 's', 1, 3)}")
    print(f"target < {TARGET_S:.0f} s: {'PASS' if passed else 'MISS'}")
    write_json(args.json, {
        "machine": machine(), "articles": args.articles, "gold_claims": n_gold, "predicted_claims": n_pred,
        "evaluate_s": in_s, "cli_eval_s": cli_s, "target_s": TARGET_S, "pass": passed,
        "command": "extractor eval RUN --gold GOLD --articles ARTICLES --json",
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
