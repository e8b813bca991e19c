"""Throughput with 1 vs 2 OpenAI-compatible endpoints (`--base-url` given twice).

Each endpoint is a fake server in its own process (asyncio, as
`benchmarks/fake_server.py`) that answers after a fixed latency (200 ms) and
serves at most `--server-slots` calls at a time (8), queueing the rest, like a
GPU server with a fixed batch size. 200 synthetic articles with prompt
claims-whole@v1 (one call per article). The CLI runs with
`--endpoint-concurrency` equal to the server's slots, so `--concurrency`
defaults to the sum over endpoints. Ideal wall time: N x latency / (slots x endpoints).

    .venv/bin/python benchmarks/multi_endpoint.py [--articles 200] [--latency 0.2] [--server-slots 8] [--repeats 3]

Command measured:
    extractor extract ARTICLES -p claims-whole@v1 -m bench --base-url URL1 [--base-url URL2]
        --endpoint-concurrency 8 --no-cache -o RUN --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import (
    EXTRACTOR,
    PY,
    ROOT,
    AnswerBook,
    isolate_environment,
    machine,
    make_article,
    print_machine,
    run_measured,
    summarize,
    write_articles_dir,
    write_json,
)
from fake_server import completion, response


async def serve_limited(book: AnswerBook, latency: float, slots: int) -> None:
    """Chat completions after `latency`, at most `slots` at a time (the rest wait their turn)."""
    gate = asyncio.Semaphore(slots)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                request = json.loads(body or b"{}")
                messages = [(m["role"], m["content"]) for m in request.get("messages", [])]
                async with gate:
                    await asyncio.sleep(latency)
                content = book.answer_messages(messages)
                writer.write(response("200 OK", completion(content, request.get("model", "bench"))))
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def start_server(articles: int, latency: float, slots: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [PY, __file__, "--serve", "--articles", str(articles), "--latency", str(latency), "--server-slots", str(slots)],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def one_run(articles_dir: Path, urls: list[str], slots: int, work: Path) -> dict[str, float]:
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"e{len(urls)}-"))
    run_dir.rmdir()
    command = [EXTRACTOR, "extract", str(articles_dir), "-p", "claims-whole@v1", "-m", "bench", "--no-cache",
               "-o", str(run_dir), "--json"]
    for url in urls:
        command += ["--base-url", url]
    if len(urls) > 1:
        command += ["--endpoint-concurrency", str(slots)]
    else:
        command += ["--concurrency", str(slots)]
    measured = run_measured(command)
    if measured.returncode != 0:
        raise RuntimeError(f"extract failed ({measured.returncode}): {measured.stderr[-2000:]}")
    summary = json.loads(measured.stdout)
    return {"run_s": summary["seconds"], "cli_s": measured.wall, "articles": summary["articles"], "failed": summary["failed"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--server-slots", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json")
    args = parser.parse_args()
    book = AnswerBook([make_article(i) for i in range(args.articles)])
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_limited(book, args.latency, args.server_slots))
        return 0
    isolate_environment()
    print_machine()
    articles = [make_article(i) for i in range(args.articles)]
    servers = [start_server(args.articles, args.latency, args.server_slots) for _ in range(2)]
    urls = [url for _, url in servers]
    results: dict[str, object] = {"machine": machine(), "articles": args.articles, "latency_s": args.latency,
                                  "server_slots": args.server_slots}
    rows: dict[str, object] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-multi-") as tmp:
            work = Path(tmp)
            articles_dir = write_articles_dir(work / "articles", articles)
            one_run(articles_dir, urls, args.server_slots, work)  # warm-up
            print(f"\n{args.articles} articles, 1 call each, {args.latency * 1000:.0f} ms per call, "
                  f"each server serves {args.server_slots} at a time")
            print(f"{'endpoints':>9} {'ideal s':>8} {'run s (median)':>15} {'articles/s':>11} {'cli s (median)':>15}  spread of run s")
            for count in (1, 2):
                samples = [one_run(articles_dir, urls[:count], args.server_slots, work) for _ in range(args.repeats)]
                assert all(s["articles"] == args.articles and s["failed"] == 0 for s in samples), samples
                ideal = args.articles * args.latency / (args.server_slots * count)
                run_s = summarize([s["run_s"] for s in samples])
                cli_s = summarize([s["cli_s"] for s in samples])
                rate = args.articles / run_s["median"]
                rows[str(count)] = {"ideal_s": ideal, "run_s": run_s, "cli_s": cli_s, "articles_per_s": rate}
                print(f"{count:>9} {ideal:>8.2f} {run_s['median']:>15.2f} {rate:>11.1f} {cli_s['median']:>15.2f}"
                      f"  {run_s['min']:.2f}-{run_s['max']:.2f} (n={run_s['n']})", flush=True)
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=10)
    results["by_endpoints"] = rows
    results["command"] = ("extractor extract ARTICLES -p claims-whole@v1 -m bench --base-url URL1 [--base-url URL2]"
                          " --endpoint-concurrency 8 --no-cache -o RUN --json")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
