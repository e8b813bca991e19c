"""Run every benchmark (`make bench`) and print one table of results against the targets.

Each benchmark runs in its own process (`benchmarks/<name>.py --json FILE`);
their JSON results are collected into `runs/bench/<timestamp>/` and the table
is printed at the end. The local-model benchmark takes minutes and needs an
idle machine: it runs only with `--with-local`, last.

    .venv/bin/python benchmarks/run_all.py [--with-local] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchlib import PY, ROOT, machine_line

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "pipeline_overhead",
    "concurrency_scaling",
    "replay_speed",
    "grounding_speed",
    "scoring_speed",
    "memory_flat",
]


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def rows_for(name: str, r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(item, target, measured, verdict) rows for one benchmark's JSON."""
    if "skipped" in r:
        return [(name, "", f"skipped: {r['skipped']}", "n/a")]
    if name == "pipeline_overhead":
        out = []
        for prompt in [k for k in r if "@" in k]:
            p = r[prompt]
            cold, warm = p["cold_cache_s_per_article"], p["warm_cache_s_per_article"]
            target = "< 5 ms/article" if prompt == "claims-whole@v1" else "(reported)"
            ok = max(cold["median"], warm["median"]) * 1000 < 5.0 if prompt == "claims-whole@v1" else None
            out.append((f"1 overhead {prompt}", target,
                        f"{cold['median'] * 1000:.2f} ms cold cache, {warm['median'] * 1000:.2f} ms warm", verdict(ok)))
        return out
    if name == "concurrency_scaling":
        out = []
        for c, row in r["by_concurrency"].items():
            ok = row["run_ratio"] <= 1.15 if c == "32" else None
            out.append((f"2 concurrency C={c}", "<= 1.15 x ideal at C=32" if c == "32" else f"ideal {row['ideal_s']:.2f} s",
                        f"run {row['run_s']['median']:.2f} s ({row['run_ratio']:.2f}x), CLI {row['cli_s']['median']:.2f} s"
                        f" ({row['cli_ratio']:.2f}x)", verdict(ok)))
        return out
    if name == "replay_speed":
        return [(f"3 replay 1,000 {p}", "< 5 s extract + eval",
                 f"{r[p]['total_s']['median']:.2f} s ({r[p]['extract_s']['median']:.2f} + {r[p]['eval_s']['median']:.2f})",
                 verdict(r[p]["pass"])) for p in r if "@" in p]
    if name == "grounding_speed":
        return [("4 grounding 50 in 20k chars", "< 50 ms",
                 f"{r['cold_s']['median'] * 1000:.2f} ms cold, {r['warm_s']['median'] * 1000:.2f} ms warm", verdict(r["pass"]))]
    if name == "scoring_speed":
        return [("5 scoring 1,000 x 20/20", "< 3 s",
                 f"evaluate() {r['evaluate_s']['median']:.2f} s, CLI {r['cli_eval_s']['median']:.2f} s", verdict(r["pass"]))]
    if name == "memory_flat":
        out = []
        for mode, by_size in r["by_size"].items():
            sizes = sorted(by_size, key=int)
            text = ", ".join(f"N={s}: {by_size[s]['peak_rss_mib']['median']:.0f} MiB" for s in sizes)
            out.append((f"7 memory ({mode})", "flat (<= +10 MiB)", f"{text} ({r['growth_mib'][mode]:+.1f})",
                        verdict(r["pass_by_mode"][mode])))
        return out
    if name == "local_inference":
        out = []
        if "overhead" in r:
            o = r["overhead"]
            out.append(("6 local provider/raw", ">= 0.95", f"{o['ratio']['median']:.3f} ({o['provider_tokens_per_s']['median']:.2f}"
                        f" vs {o['raw_tokens_per_s']['median']:.2f} tok/s)", verdict(r["pass"])))
        for row in r.get("strategies", []):
            out.append((f"6 local {row['prompt']}", "(reported)",
                        f"{row['seconds_per_article']['median']:.1f} s/article (n={row['seconds_per_article']['n']})", "n/a"))
        return out
    return [(name, "", "?", "n/a")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-local", action="store_true", help="also run local_inference.py (minutes; idle machine)")
    parser.add_argument("--only", nargs="+", choices=[*BENCHMARKS, "local_inference"])
    parser.add_argument("--out", type=Path, help="results folder (default runs/bench/<timestamp>)")
    args = parser.parse_args()
    names = args.only or (BENCHMARKS + (["local_inference"] if args.with_local else []))
    out = args.out or ROOT / "runs" / "bench" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine_line()}")
    print(f"results: {out}\n", flush=True)
    results: dict[str, Any] = {}
    failed = []
    for name in names:
        print(f"=== {name} " + "=" * max(0, 70 - len(name)), flush=True)
        target = out / f"{name}.json"
        done = subprocess.run([PY, str(HERE / f"{name}.py"), "--json", str(target)], cwd=ROOT, check=False)
        if done.returncode != 0 or not target.exists():
            failed.append(name)
            continue
        results[name] = json.loads(target.read_text())
        print(flush=True)
    rows = [row for name in names if name in results for row in rows_for(name, results[name])]
    width = [max(len(r[i]) for r in [("item", "target", "measured (median)", "verdict"), *rows]) for i in range(4)]
    print(f"machine: {machine_line()}")
    header = ("item", "target", "measured (median)", "verdict")
    for row in [header, tuple("-" * w for w in width), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)))
    if failed:
        print(f"\nfailed to run: {', '.join(failed)}", file=sys.stderr)
    (out / "summary.json").write_text(json.dumps({"machine": machine_line(), "rows": rows, "failed": failed}, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
