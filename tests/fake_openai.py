"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, with fault injection.

`FakeOpenAIServer(responder)` serves `POST /v1/chat/completions`. The responder
gets the parsed request body and returns a `Reply`: a normal completion, an
HTTP error (with optional Retry-After), a dropped connection, a delay past the
client's timeout, a slow drip, truncated JSON, a body cut off mid-transfer,
and so on. Every request is recorded in `server.requests` (with headers and its
arrival time, `time.monotonic()`) so tests can assert on what the client sent
and when.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str | None = None
    status: int = 200
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: str = "ok"  # ok | reset | drip | truncate | cut | raw
    refusal: str | None = None
    raw_body: bytes | None = None
    error_message: str = "fault injected"
    drip_interval: float = 0.02  # seconds between 16-byte chunks for action "drip"
    # Put the request's Authorization header into the error message, as a
    # careless proxy or server might: the client must redact it.
    echo_authorization: bool = False


Responder = Callable[[dict[str, Any]], Reply]


def completion_body(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.refusal is not None:
        message = {"role": "assistant", "content": None, "refusal": reply.refusal}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Headers and body go out in separate writes: without this, Nagle plus the
    # client's delayed ACK add ~40 ms to every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        fake = self.server.fake
        with fake.lock:
            fake.requests.append({"path": self.path, "body": body, "headers": dict(self.headers), "time": arrived})
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
            return
        reply = fake.responder(body)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.action == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return
        if reply.status != 200:
            message = reply.error_message
            if reply.echo_authorization:
                message += f" (got Authorization: {self.headers.get('Authorization')})"
            self._send(reply.status, {"error": {"message": message, "type": "fault"}}, reply.headers)
            return
        payload = json.dumps(completion_body(reply, body.get("model", "fake"))).encode()
        if reply.action == "raw" and reply.raw_body is not None:
            payload = reply.raw_body
        if reply.action == "truncate":
            payload = payload[: len(payload) // 2]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if reply.action == "drip":
            for i in range(0, len(payload), 16):
                self.wfile.write(payload[i : i + 16])
                self.wfile.flush()
                time.sleep(reply.drip_interval)
            return
        if reply.action == "cut":  # promise the whole body, send half, hang up
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)

    def _send(self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) or a fault we injected: not worth a traceback.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | OSError):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- fake models: deterministic answers computed from the request ---------------------

_PASSAGE = re.compile(r"<(passage|article)>\n(.*?)\n</\1>", re.S)
_NAME = re.compile(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)+)\b")


def last_passage(body: dict[str, Any]) -> str:
    """The passage (or whole article) being asked about: in the last user turn,
    or (for a re-ask, whose last user turn is feedback) in the latest user turn
    that has one."""
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    for content in reversed(users):
        match = _PASSAGE.search(content)
        if match:
            return match.group(2)
    return users[-1]


def is_label_request(body: dict[str, Any]) -> bool:
    schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
    return "claims" not in schema.get("properties", {})


def honest_answer(body: dict[str, Any]) -> str:
    """A plausible answer: first name-like phrase as speaker, first sentence as evidence."""
    passage = last_passage(body)
    names = _NAME.findall(passage)
    speaker = names[0] if names else "none"
    if is_label_request(body):
        return json.dumps({"speaker": speaker, "speaker_type": "person", "target": "the plan", "stance": "neutral", "conditions": []})
    evidence = re.split(r"(?<=[.!?])\s", passage.strip())[0].strip()
    if speaker == "none":
        return json.dumps({"claims": []})
    claim: dict[str, Any] = {
        "speaker": speaker, "speaker_aliases": [], "speaker_type": "person", "target": "the plan",
        "claim": f"{speaker} commented.", "stance": "neutral", "conditions": [], "attribution": "indirect",
        "evidence": evidence,
    }
    return json.dumps({"claims": [claim]})


def honest_responder(body: dict[str, Any]) -> Reply:
    return Reply(content=honest_answer(body))
