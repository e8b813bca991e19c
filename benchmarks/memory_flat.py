"""Item 7: peak memory of an extraction must not grow with the number of articles.

Replays a recording (claims-whole@v1, 15 claims per ~5,000-character article)
for N = 1,000 and N = 5,000 articles in a fresh `extractor extract` process
each and reads that child's peak RSS from `os.wait4` (the rusage of exactly
that child):

    extractor extract ARTICLES -p claims-whole@v1 -m replay/fake/instant --replay-from REC --no-cache -o RUN --json

Two modes: `index` is the command as a user runs it, including the run's
indexing into the SQLite run store that `extractor extract` does after the run
(`$EXTRACTOR_DB`, a temporary file here); `no-index` sets `EXTRACTOR_DB=off`
and measures the extraction alone.

`--code DIR` runs the same command against another checkout's `extractor`
package (e.g. a `git worktree` of an older commit) for before/after figures.

    .venv/bin/python benchmarks/memory_flat.py [--sizes 1000 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchlib import (
    EXTRACTOR,
    FAKE_MODEL,
    PY,
    fmt_spread,
    isolate_environment,
    machine,
    make_article,
    print_machine,
    record_responses,
    run_measured,
    summarize,
    write_articles_dir,
    write_json,
)

PROMPT = "claims-whole@v1"
# "Flat": the larger run may use at most this much more memory than the smaller.
TOLERANCE_MIB = 10.0


def extractor_command(code: str | None) -> list[str]:
    if code is None:
        return [EXTRACTOR]
    bootstrap = (
        f"import sys; sys.path.insert(0, {str(Path(code).resolve())!r}); sys.argv[0] = 'extractor';"
        " from extractor.cli import main; main()"
    )
    return [PY, "-c", bootstrap]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--code", help="directory holding another `extractor` package to measure instead")
    parser.add_argument("--modes", nargs="+", default=["index", "no-index"], choices=["index", "no-index"])
    parser.add_argument("--json")
    args = parser.parse_args()
    isolate_environment()
    print_machine()
    largest = max(args.sizes)
    articles = [make_article(i) for i in range(largest)]
    rows: dict[str, dict[str, dict]] = {mode: {} for mode in args.modes}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        recording = work / "rec"
        for size in sorted(args.sizes):
            subset = articles[:size]
            articles_dir = write_articles_dir(work / f"articles-{size}", subset)
            record_responses(subset, articles_dir, PROMPT, recording, work)
            for mode in args.modes:
                env = dict(os.environ)
                if mode == "no-index":
                    env["EXTRACTOR_DB"] = "off"
                rss, wall = [], []
                summary: dict = {}
                for repeat in range(args.repeats):
                    run_dir = work / f"run-{mode}-{size}-{repeat}"
                    measured = run_measured([
                        *extractor_command(args.code), "extract", str(articles_dir), "-p", PROMPT,
                        "-m", f"replay/{FAKE_MODEL}", "--replay-from", str(recording), "--no-cache",
                        "-o", str(run_dir), "--json",
                    ], env=env)
                    if measured.returncode != 0:
                        print(measured.stderr[-3000:], file=sys.stderr)
                        return 1
                    summary = json.loads(measured.stdout)
                    assert summary["articles"] == size, summary
                    rss.append(measured.maxrss_mib)
                    wall.append(measured.wall)
                    file_mib = (run_dir / "extractions.jsonl").stat().st_size / 2**20
                    shutil.rmtree(run_dir)
                rows[mode][str(size)] = {
                    "peak_rss_mib": summarize(rss), "wall_s": summarize(wall), "claims": summary["claims"],
                    "extractions_jsonl_mib": round(file_mib, 1),
                }
                print(f"{mode:>8} N={size:>6}: peak RSS {fmt_spread(rows[mode][str(size)]['peak_rss_mib'], 'MiB', 1, 1)};"
                      f" extractions.jsonl {file_mib:.1f} MiB; wall {summarize(wall)['median']:.2f} s", flush=True)
    sizes = sorted(args.sizes)
    growth = {}
    for mode in args.modes:
        by_size = rows[mode]
        growth[mode] = by_size[str(sizes[-1])]["peak_rss_mib"]["median"] - by_size[str(sizes[0])]["peak_rss_mib"]["median"]
        print(f"{mode}: growth from N={sizes[0]} to N={sizes[-1]}: {growth[mode]:+.1f} MiB"
              f" -> flat (<= {TOLERANCE_MIB:.0f} MiB): {'PASS' if growth[mode] <= TOLERANCE_MIB else 'MISS'}")
    passed = all(g <= TOLERANCE_MIB for g in growth.values())
    write_json(args.json, {
        "machine": machine(), "prompt": PROMPT, "code": args.code, "by_size": rows,
        "growth_mib": growth, "tolerance_mib": TOLERANCE_MIB, "pass": passed,
        "pass_by_mode": {mode: g <= TOLERANCE_MIB for mode, g in growth.items()},
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
