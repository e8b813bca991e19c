"""Item 2: concurrency scaling against a fake OpenAI-compatible server (200 ms per call).

400 articles (~5,000 characters, 15 claims each) with prompt claims-whole@v1,
so one call per article and calls = articles. The server
(`benchmarks/fake_server.py`, asyncio, a separate process) answers every call
after a fixed latency with the 15 claims. The ideal wall time is
N x latency / C.

Two measurements per concurrency C:
- `cli`: `extractor extract DIR -p claims-whole@v1 -m bench --base-url URL
  --concurrency C --no-cache -o RUN --json` end to end, interpreter start and
  imports included (what a user waits for);
- `run`: the run's own wall time as the manifest records it (execute_run:
  reading, calls, validation, grounding, writing), which is what the ideal
  formula describes.

    .venv/bin/python benchmarks/concurrency_scaling.py [--concurrency 1 8 32 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from benchlib import (
    EXTRACTOR,
    PY,
    ROOT,
    isolate_environment,
    machine,
    make_article,
    print_machine,
    run_measured,
    summarize,
    write_articles_dir,
    write_json,
)

TARGET_RATIO = 1.15
TARGET_C = 32


def start_server(articles: int, latency: float, threaded: bool = False) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [PY, str(Path(__file__).with_name("fake_server.py")), "--articles", str(articles), "--latency", str(latency),
         *(["--threaded"] if threaded else [])],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def server_stats(base_url: str, reset: bool = False) -> dict[str, int]:
    """Requests served and most in flight at once (empty for the threaded server)."""
    try:
        if reset:
            request = urllib.request.Request(f"{base_url}/stats/reset", data=b"", method="POST")
            urllib.request.urlopen(request, timeout=5).read()
            return {}
        with urllib.request.urlopen(f"{base_url}/stats", timeout=5) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError:
        return {}


def one_run(articles_dir: Path, base_url: str, concurrency: int, work: Path) -> dict[str, float]:
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"c{concurrency}-"))
    run_dir.rmdir()
    server_stats(base_url, reset=True)
    measured = run_measured([
        EXTRACTOR, "extract", str(articles_dir), "-p", "claims-whole@v1", "-m", "bench", "--base-url", base_url,
        "--concurrency", str(concurrency), "--no-cache", "-o", str(run_dir), "--json",
    ])
    if measured.returncode != 0:
        raise RuntimeError(f"extract failed ({measured.returncode}): {measured.stderr[-2000:]}")
    summary = json.loads(measured.stdout)
    stats = server_stats(base_url)
    return {
        "cli_wall": measured.wall,
        "run_wall": summary["seconds"],
        "cpu": measured.cpu,
        "articles": summary["articles"],
        "claims": summary["claims"],
        "calls": summary["usage"]["calls"],
        "server_requests": stats.get("requests", -1),
        "max_in_flight": stats.get("max_in_flight", -1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--repeats", type=int, default=3, help="repeats for C > 1 (C = 1 runs once)")
    parser.add_argument("--threaded-server", action="store_true",
                        help="serve with the tests' ThreadingHTTPServer instead of the asyncio server")
    parser.add_argument("--json")
    args = parser.parse_args()
    isolate_environment()
    print_machine()
    articles = [make_article(i) for i in range(args.articles)]
    results: dict[str, object] = {"machine": machine(), "articles": args.articles, "latency_s": args.latency}
    rows = {}
    server, base_url = start_server(args.articles, args.latency, args.threaded_server)
    results["server"] = "threaded (tests/fake_openai.py)" if args.threaded_server else "asyncio (benchmarks/fake_server.py)"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp:
            work = Path(tmp)
            articles_dir = write_articles_dir(work / "articles", articles)
            one_run(articles_dir, base_url, 64, work)  # warm-up: imports, page cache, sockets
            print(f"\n{args.articles} articles, 1 call each, {args.latency * 1000:.0f} ms per call"
                  f" (claims-whole@v1); server {base_url}")
            print(f"{'C':>4} {'ideal s':>8} {'run s (median)':>15} {'run/ideal':>9} {'cli s (median)':>15}"
                  f" {'cli/ideal':>9} {'CPU s':>6} {'in flight':>9}  spread of run s")
            for concurrency in args.concurrency:
                repeats = 1 if concurrency == 1 else args.repeats
                samples = [one_run(articles_dir, base_url, concurrency, work) for _ in range(repeats)]
                for s in samples:
                    assert s["calls"] == args.articles and s["server_requests"] in (args.articles, -1), s
                ideal = args.articles * args.latency / concurrency
                run_s = summarize([s["run_wall"] for s in samples])
                cli_s = summarize([s["cli_wall"] for s in samples])
                cpu_s = summarize([s["cpu"] for s in samples])
                in_flight = max(int(s["max_in_flight"]) for s in samples)
                rows[str(concurrency)] = {
                    "ideal_s": ideal, "run_s": run_s, "cli_s": cli_s, "cpu_s": cpu_s,
                    "run_ratio": run_s["median"] / ideal, "cli_ratio": cli_s["median"] / ideal,
                    "max_in_flight": in_flight, "claims": samples[-1]["claims"],
                }
                print(f"{concurrency:>4} {ideal:>8.2f} {run_s['median']:>15.2f} {run_s['median'] / ideal:>9.3f}"
                      f" {cli_s['median']:>15.2f} {cli_s['median'] / ideal:>9.3f} {cpu_s['median']:>6.2f}"
                      f" {in_flight:>9}  {run_s['min']:.2f}-{run_s['max']:.2f} (n={run_s['n']})", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    results["by_concurrency"] = rows
    if str(TARGET_C) in rows:
        row = rows[str(TARGET_C)]
        results["pass_run"] = row["run_ratio"] <= TARGET_RATIO
        results["pass_cli"] = row["cli_ratio"] <= TARGET_RATIO
        print(f"\ntarget at C={TARGET_C}: wall <= {TARGET_RATIO} x ideal:"
              f" run {'PASS' if results['pass_run'] else 'MISS'} ({row['run_ratio']:.3f}),"
              f" CLI end to end {'PASS' if results['pass_cli'] else 'MISS'} ({row['cli_ratio']:.3f})")
    results["command"] = ("extractor extract ARTICLES -p claims-whole@v1 -m bench --base-url URL"
                          " --concurrency C --no-cache -o RUN --json")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
