"""Item 3: replay speed, extract then eval 1,000 articles entirely from a recording.

Setup (not timed): 1,000 synthetic articles (~5,000 characters, 15 claims),
gold files that differ from the model's answers the way a decent model's
answers differ from gold (surname only, shortened spans, wrong speakers,
spurious claims; so the eval has real matching to do), and a recording of the instant fake model's responses made
with the same code path as `--record`. Timed, end to end as a user runs them
(two processes, interpreter start and imports included):

    extractor extract ARTICLES -p PROMPT -m replay/fake/instant --replay-from REC --no-cache -o RUN --json
    extractor eval RUN --gold GOLD --json

for claims-whole@v1 (one recorded response per article) and the default
prompt (passages with labels, one response per passage, 15 per article). `extractor extract` also
indexes the finished run into the SQLite run store (a temporary
`$EXTRACTOR_DB` here); `--no-index` sets `EXTRACTOR_DB=off` to leave that out.

    .venv/bin/python benchmarks/replay_speed.py [--articles 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchlib import (
    EXTRACTOR,
    FAKE_MODEL,
    fmt_spread,
    isolate_environment,
    machine,
    make_article,
    print_machine,
    record_responses,
    run_measured,
    summarize,
    write_articles_dir,
    write_gold_dir,
    write_json,
)

from extractor.prompts import DEFAULT_PROMPT

TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompts", nargs="+", default=["claims-whole@v1", DEFAULT_PROMPT])
    parser.add_argument("--no-index", action="store_true", help="EXTRACTOR_DB=off: no run-store indexing")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.no_index:
        os.environ["EXTRACTOR_DB"] = "off"
    isolate_environment()
    print_machine()
    results: dict[str, object] = {"machine": machine(), "articles": args.articles, "target_s": TARGET_S,
                                  "run_store_index": not args.no_index}
    articles = [make_article(i) for i in range(args.articles)]
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        work = Path(tmp)
        articles_dir = write_articles_dir(work / "articles", articles)
        gold_dir = write_gold_dir(work / "gold", articles, differ=True)
        for prompt_ref in args.prompts:
            recording = work / f"rec-{prompt_ref.replace('@', '-')}"
            record_responses(articles, articles_dir, prompt_ref, recording, work)
            files = sum(1 for _ in recording.glob("*/*.json"))
            extract_t, eval_t, total_t, extract_cpu, eval_cpu = [], [], [], [], []
            report: dict = {}
            for repeat in range(args.repeats):
                run_dir = work / f"run-{prompt_ref.replace('@', '-')}-{repeat}"
                extract = run_measured([
                    EXTRACTOR, "extract", str(articles_dir), "-p", prompt_ref, "-m", f"replay/{FAKE_MODEL}",
                    "--replay-from", str(recording), "--no-cache", "-o", str(run_dir), "--json",
                ])
                if extract.returncode != 0:
                    print(extract.stderr[-3000:], file=sys.stderr)
                    return 1
                evaluation = run_measured([EXTRACTOR, "eval", str(run_dir), "--gold", str(gold_dir), "--json"])
                if evaluation.returncode != 0:
                    print(evaluation.stderr[-3000:], file=sys.stderr)
                    return 1
                report = json.loads(evaluation.stdout)
                extract_t.append(extract.wall)
                eval_t.append(evaluation.wall)
                total_t.append(extract.wall + evaluation.wall)
                extract_cpu.append(extract.cpu)
                eval_cpu.append(evaluation.cpu)
            summary = json.loads(extract.stdout)
            row = {
                "recorded_responses": files,
                "calls": summary["usage"]["calls"],
                "claims": summary["claims"],
                "extract_s": summarize(extract_t),
                "eval_s": summarize(eval_t),
                "total_s": summarize(total_t),
                "extract_cpu_s": summarize(extract_cpu),
                "eval_cpu_s": summarize(eval_cpu),
                "lenient_f1": report["claims"]["lenient"]["f1"],
                "pass": summarize(total_t)["median"] < TARGET_S,
            }
            results[prompt_ref] = row
            print(f"\n{prompt_ref}: {args.articles} articles, {summary['usage']['calls']} recorded calls replayed,"
                  f" {summary['claims']} claims, lenient F1 {row['lenient_f1']}")
            print(f"  extract: {fmt_spread(row['extract_s'])}; CPU {row['extract_cpu_s']['median']:.2f} s")
            print(f"  eval:    {fmt_spread(row['eval_s'])}; CPU {row['eval_cpu_s']['median']:.2f} s")
            print(f"  total:   {fmt_spread(row['total_s'])}"
                  f"  -> target < {TARGET_S:.0f} s: {'PASS' if row['pass'] else 'MISS'}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
