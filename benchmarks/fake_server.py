"""An asyncio OpenAI-compatible chat-completions server for the benchmarks.

`tests/fake_openai.py` is a ThreadingHTTPServer: one thread per connection and
a `time.sleep` per delayed reply, fine for fault-injection tests but a
bottleneck of its own at 64 concurrent connections on two cores. This one is a
single asyncio event loop on raw streams (HTTP/1.1, keep-alive): a delayed
reply is an `asyncio.sleep`, so hundreds of calls can be in flight at once.

It answers `POST .../chat/completions` for the synthetic benchmark articles
(`benchlib.make_article(0..N-1)`) after a fixed latency, and `GET /stats`
with the number of requests and the most that were in flight at once.

    python benchmarks/fake_server.py --articles 400 --latency 0.2
    # prints "PORT <n>" on stdout once listening, then serves until killed

`--threaded` serves the same answers with the tests' ThreadingHTTPServer
(`tests/fake_openai.py`) instead, for comparison (it has no /stats).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from benchlib import AnswerBook, make_article


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0


def completion(content: str, model: str) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1500, "completion_tokens": 900, "total_tokens": 2400},
    }
    return json.dumps(body).encode()


def response(status: str, payload: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


async def serve(book: AnswerBook, latency: float, port: int) -> None:
    stats = Stats()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                if method == "GET" and path.endswith("/stats"):
                    payload = json.dumps(
                        {"requests": stats.requests, "max_in_flight": stats.max_in_flight}
                    ).encode()
                    writer.write(response("200 OK", payload))
                    await writer.drain()
                    continue
                if method == "POST" and path.endswith("/stats/reset"):
                    stats.requests = stats.max_in_flight = 0
                    writer.write(response("200 OK", b"{}"))
                    await writer.drain()
                    continue
                if not path.endswith("/chat/completions"):
                    writer.write(response("404 Not Found", b'{"error": {"message": "not found"}}'))
                    await writer.drain()
                    continue
                stats.requests += 1
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                try:
                    request = json.loads(body)
                    messages = [(m["role"], m["content"]) for m in request["messages"]]
                    content = book.answer_messages(messages)
                    await asyncio.sleep(latency)
                finally:
                    stats.in_flight -= 1
                writer.write(response("200 OK", completion(content, request.get("model", "bench"))))
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def serve_threaded(book: AnswerBook, latency: float) -> None:
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fake_openai import FakeOpenAIServer, Reply

    def responder(body: dict[str, Any]) -> Reply:
        messages = [(m["role"], m["content"]) for m in body["messages"]]
        return Reply(content=book.answer_messages(messages), delay=latency)

    with FakeOpenAIServer(responder) as server:
        port = server.base_url.rsplit(":", 1)[1].split("/")[0]
        print(f"PORT {port}", flush=True)
        while True:
            time.sleep(3600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threaded", action="store_true", help="use the tests' ThreadingHTTPServer instead")
    args = parser.parse_args()
    book = AnswerBook([make_article(i) for i in range(args.articles)])
    if args.threaded:
        with contextlib.suppress(KeyboardInterrupt):
            serve_threaded(book, args.latency)
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(book, args.latency, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
