"""Shared fixtures: an offline guard, fake providers and a fake OpenAI-compatible server."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

# Keep every test away from the user's cache and from real keys.
os.environ["EXTRACTOR_CACHE"] = tempfile.mkdtemp(prefix="extractor-test-cache-")
os.environ["EXTRACTOR_DB"] = "off"
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("EXTRACTOR_MODEL", None)
os.environ.pop("OPENAI_BASE_URL", None)

import pytest

from extractor.llm import Completion, CompletionRequest, Provider

from .fake_openai import FakeOpenAIServer, Responder, honest_responder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    """Refuse any connection that is not to this machine: tests stay offline."""
    if isinstance(address, tuple):
        host = str(address[0])
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ConnectionRefusedError(f"test tried to reach {host}: tests must stay offline")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands resolve prompts/ and evals/ relative to the working directory."""
    monkeypatch.chdir(ROOT)


class FakeProvider(Provider):
    """An in-process model whose answers come from a function of the request."""

    def __init__(self, answer: Callable[[CompletionRequest], str | Completion], model_id: str = "fake/model") -> None:
        self.answer = answer
        self.model_id = model_id
        self.requests: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        result = self.answer(request)
        return result if isinstance(result, Completion) else Completion(text=result, prompt_tokens=10, completion_tokens=5)


@pytest.fixture
def fake_server() -> Iterator[Callable[[Responder], FakeOpenAIServer]]:
    servers: list[FakeOpenAIServer] = []

    def start(responder: Responder = honest_responder) -> FakeOpenAIServer:
        server = FakeOpenAIServer(responder).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def seed_text() -> Callable[[str], str]:
    def read(prefix: str) -> str:
        return next(SEEDS.glob(f"{prefix}*.txt")).read_text(encoding="utf-8")

    return read
