"""Several OpenAI-compatible endpoints: round-robin, per-endpoint limits, fail-over, guided_json."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from extractor.errors import ProviderError
from extractor.llm import Completion, CompletionRequest, Provider
from extractor.providers.multi import MultiEndpointProvider

from .fake_openai import Reply
from .test_extract_cli import invoke, write_articles

REQUEST = CompletionRequest.build([{"role": "user", "content": "hi"}], {"type": "object"})


class Scripted(Provider):
    """Answers after `delay`, or raises; counts calls and the most in flight at once."""

    def __init__(self, name: str, *, fail: ProviderError | None = None, delay: float = 0.0) -> None:
        self.model_id = "m"
        self.name = name
        self.fail = fail
        self.delay = delay
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.fail is not None:
                raise self.fail
            return Completion(text=self.name)
        finally:
            self.in_flight -= 1


def multi(*providers: Scripted, limit: int = 2, cooldown: float = 30.0) -> MultiEndpointProvider:
    return MultiEndpointProvider(
        [(f"http://e{i}/v1", p) for i, p in enumerate(providers)], model_id="m",
        concurrency_per_endpoint=limit, cooldown=cooldown,
    )


def test_sequential_calls_alternate_round_robin() -> None:
    a, b = Scripted("a"), Scripted("b")
    provider = multi(a, b)

    async def run() -> list[str]:
        return [(await provider.complete(REQUEST)).text for _ in range(6)]

    assert asyncio.run(run()) == ["a", "b", "a", "b", "a", "b"]
    assert provider.max_concurrency == 4


def test_per_endpoint_limit_is_respected() -> None:
    a, b = Scripted("a", delay=0.02), Scripted("b", delay=0.02)
    provider = multi(a, b, limit=3)

    async def run() -> None:
        await asyncio.gather(*(provider.complete(REQUEST) for _ in range(30)))

    asyncio.run(run())
    assert a.calls == b.calls == 15
    assert a.max_in_flight == b.max_in_flight == 3


def test_transient_failure_moves_the_call_and_cools_the_endpoint_down() -> None:
    bad = Scripted("bad", fail=ProviderError("HTTP 500", transient=True))
    good = Scripted("good")
    provider = multi(bad, good)

    async def run() -> list[str]:
        return [(await provider.complete(REQUEST)).text for _ in range(5)]

    assert asyncio.run(run()) == ["good"] * 5
    assert bad.calls == 1, "an unhealthy endpoint is skipped during its cool-down"
    assert provider.stats()[0]["failures"] == 1


def test_unhealthy_endpoint_is_tried_again_after_the_cool_down() -> None:
    bad = Scripted("bad", fail=ProviderError("HTTP 500", transient=True))
    provider = multi(bad, Scripted("good"), cooldown=0.0)

    async def run() -> None:
        for _ in range(4):
            await provider.complete(REQUEST)

    asyncio.run(run())
    assert bad.calls >= 2


def test_permanent_error_is_not_retried_elsewhere() -> None:
    bad = Scripted("bad", fail=ProviderError("HTTP 400", transient=False))
    good = Scripted("good")
    provider = multi(bad, good)
    with pytest.raises(ProviderError, match="HTTP 400"):
        asyncio.run(provider.complete(REQUEST))
    assert good.calls == 0


def test_call_fails_only_when_every_endpoint_fails() -> None:
    error = ProviderError("HTTP 503", transient=True)
    provider = multi(Scripted("x", fail=error), Scripted("y", fail=error))
    with pytest.raises(ProviderError, match="all 2 endpoints failed") as info:
        asyncio.run(provider.complete(REQUEST))
    assert info.value.transient


# --- end to end through `extractor extract` ---------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACTOR_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("EXTRACTOR_BACKOFF_CAP", "0.02")


def extract(tmp_path: Path, urls: list[str], *extra: str, n: int = 4) -> tuple[int, dict, str]:
    inputs = write_articles(tmp_path / "in", n=n)
    args = ["extract", str(inputs), "-m", "fake-model", "-o", str(tmp_path / "run"), "--no-cache", "--json",
            "--max-attempts", "2", *extra]
    for url in urls:
        args += ["--base-url", url]
    code, out, err = invoke(*args)
    return code, (json.loads(out) if out.strip() else {}), err


def test_round_robin_between_two_healthy_servers(tmp_path: Path, fake_server) -> None:
    one, two = fake_server(), fake_server()
    code, summary, err = extract(tmp_path, [one.base_url, two.base_url], "--endpoint-concurrency", "2", n=6)
    assert code == 0, err
    assert summary["articles"] == 6
    calls = summary["usage"]["calls"]
    assert len(one.requests) + len(two.requests) == calls
    assert abs(len(one.requests) - len(two.requests)) <= 2, (len(one.requests), len(two.requests))
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["model"] == "fake-model"
    assert manifest["model"]["endpoints"] == [one.base_url, two.base_url]
    assert manifest["options"]["concurrency"] == 4  # defaults to the sum of the endpoint limits


@pytest.mark.parametrize("fault", ["http500", "closed_port"])
def test_run_completes_on_the_healthy_server_when_the_other_fails(tmp_path: Path, fake_server, fault: str) -> None:
    good = fake_server()
    if fault == "http500":
        bad = fake_server(lambda body: Reply(status=500))
        bad_url = bad.base_url
    else:
        bad_url = closed_port_url()
    code, summary, err = extract(tmp_path, [bad_url, good.base_url])
    assert code == 0, err
    assert summary["articles"] == 4 and summary["failed"] == 0
    assert len(good.requests) == summary["usage"]["calls"]
    reference = tmp_path / "ref"
    code, _, err = invoke("extract", str(tmp_path / "in"), "-m", "fake-model", "--base-url", good.base_url,
                          "-o", str(reference), "--no-cache")
    assert code == 0, err
    assert (reference / "extractions.jsonl").read_bytes() == (tmp_path / "run" / "extractions.jsonl").read_bytes()


def test_run_fails_when_every_server_fails(tmp_path: Path, fake_server) -> None:
    bad = fake_server(lambda body: Reply(status=503))
    code, summary, _ = extract(tmp_path, [bad.base_url, closed_port_url()], n=2)
    assert code == 1
    assert summary["failed"] == 2
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "run" / "failures.jsonl").read_text().splitlines()]
    assert all("all 2 endpoints failed" in r for r in reasons)


@pytest.mark.parametrize("servers", [1, 2])
def test_guided_json_is_sent_in_the_body(tmp_path: Path, fake_server, servers: int) -> None:
    started = [fake_server() for _ in range(servers)]
    code, _, err = extract(tmp_path, [s.base_url for s in started], "--guided-json", n=1)
    assert code == 0, err
    bodies = [r["body"] for s in started for r in s.requests]
    assert bodies
    for body in bodies:
        assert body["guided_json"] == body["response_format"]["json_schema"]["schema"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["guided_json"] is True


def test_without_guided_json_the_body_has_none(tmp_path: Path, fake_server) -> None:
    server = fake_server()
    code, _, err = extract(tmp_path, [server.base_url], n=1)
    assert code == 0, err
    assert all("guided_json" not in r["body"] for r in server.requests)
