"""Fault injection: what a user sees when the model server misbehaves.

Each test runs `extractor extract` (in process) over three one-passage articles
against the fake OpenAI-compatible server; one of them ("Faultline") draws the
fault. Transport faults are retried by the provider with backoff and either
finally succeed (transient) or land in failures.jsonl with a clear reason
(permanent); content faults are re-asked by the pipeline with feedback. The
other articles always complete and the exit code says whether anything failed.

Backoff is made small with EXTRACTOR_BACKOFF_BASE / EXTRACTOR_BACKOFF_CAP and
attempts are bounded with --max-attempts, so the whole file runs in seconds.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from extractor.cli import cli
from extractor.providers import openai_compat

from .fake_openai import Reply, honest_answer, honest_responder, last_passage

MARKER = "Faultline"
ATTEMPTS = 3
TIMEOUT = 0.5
ARTICLES = {
    "a_calm": "Bridge news\n\nMayor Anna Berg said the Riverside bridge will open in spring.\n",
    "b_fault": f"Bridge news\n\nMayor Anna Berg said the {MARKER} bridge will open in spring.\n",
    "c_calm": "Bridge news\n\nMayor Anna Berg said the Hillside bridge will open in spring.\n",
}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACTOR_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("EXTRACTOR_BACKOFF_CAP", "0.05")


def write_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in ARTICLES.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


class FaultyModel:
    """Honest answers, except that the Faultline article draws `fault(attempt, body)`
    for its first `times` requests (all of them when `times` is None)."""

    def __init__(self, fault: Callable[[dict[str, Any]], Reply], times: int | None) -> None:
        self.fault = fault
        self.times = times
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        if MARKER not in last_passage(body):
            return honest_responder(body)
        with self.lock:
            attempt = next(self.counter)
        if self.times is None or attempt <= self.times:
            return self.fault(body)
        return honest_responder(body)


def run_extract(tmp_path: Path, server_url: str, *extra: str) -> tuple[int, dict[str, Any], str, Path]:
    inputs = write_inputs(tmp_path / "in")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "extract", str(inputs), "-p", "claims@v1", "-m", "fake-model", "--base-url", server_url, "-o", str(run_dir),
            "--no-cache", "--json", "--timeout", str(TIMEOUT), "--max-attempts", str(ATTEMPTS), *extra,
        ],
        catch_exceptions=False,
    )
    summary = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, summary, result.stderr, run_dir


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def faulty_requests(server: Any) -> list[dict[str, Any]]:
    return [r for r in server.requests if MARKER in last_passage(r["body"])]


def ok(body: dict[str, Any]) -> str:
    return honest_answer(body)


# name -> (fault, reason the user reads in failures.jsonl when it never stops)
TRANSPORT_FAULTS: dict[str, tuple[Callable[[dict[str, Any]], Reply], str]] = {
    "429 with Retry-After": (lambda b: Reply(status=429, headers={"Retry-After": "0"}), "HTTP 429 after 3 attempt(s)"),
    "500": (lambda b: Reply(status=500), "HTTP 500 after 3 attempt(s)"),
    "503": (lambda b: Reply(status=503), "HTTP 503 after 3 attempt(s)"),
    "connection reset": (lambda b: Reply(action="reset"), "APIConnectionError after 3 attempts"),
    "read timeout": (lambda b: Reply(content=ok(b), delay=TIMEOUT + 0.4), "timed out"),
    "slow drip": (lambda b: Reply(content=ok(b), action="drip", drip_interval=0.1), "timed out"),
    "truncated JSON body": (lambda b: Reply(content=ok(b), action="truncate"), "bad response after 3 attempts: response body is not valid JSON"),
    "body cut mid-transfer": (lambda b: Reply(content=ok(b), action="cut"), "APIConnectionError after 3 attempts"),
    "HTML instead of JSON": (lambda b: Reply(action="raw", raw_body=b"<html><body>Bad gateway</body></html>"), "response body is not valid JSON"),
    "no choices": (
        lambda b: Reply(action="raw", raw_body=b'{"id":"x","object":"chat.completion","created":0,"model":"m","choices":[]}'),
        "bad response after 3 attempts: server returned no choices",
    ),
}


@pytest.mark.parametrize("name", list(TRANSPORT_FAULTS))
def test_transient_transport_fault_is_retried_and_finally_succeeds(tmp_path: Path, fake_server, name: str) -> None:
    fault, _ = TRANSPORT_FAULTS[name]
    server = fake_server(FaultyModel(fault, times=ATTEMPTS - 1))
    code, summary, err, run_dir = run_extract(tmp_path, server.base_url)
    assert code == 0, err
    assert summary["articles"] == 3 and summary["failed"] == 0
    assert [r["article_id"] for r in read_lines(run_dir / "extractions.jsonl")] == list(ARTICLES)
    assert read_lines(run_dir / "failures.jsonl") == []
    faulted = read_lines(run_dir / "extractions.jsonl")[1]
    assert [c["speaker"] for c in faulted["claims"]] == ["Mayor Anna Berg"]
    assert len(faulty_requests(server)) == ATTEMPTS, "two faulty attempts, then the answer"
    assert "Traceback" not in err


@pytest.mark.parametrize("name", list(TRANSPORT_FAULTS))
def test_permanent_transport_fault_lands_in_failures_and_the_rest_completes(tmp_path: Path, fake_server, name: str) -> None:
    fault, reason = TRANSPORT_FAULTS[name]
    server = fake_server(FaultyModel(fault, times=None))
    code, summary, err, run_dir = run_extract(tmp_path, server.base_url)
    assert code == 1, "a failed article makes the exit code 1"
    assert summary["articles"] == 2 and summary["failed"] == 1
    assert summary["status"] == "complete_with_failures"
    assert [r["article_id"] for r in read_lines(run_dir / "extractions.jsonl")] == ["a_calm", "c_calm"]
    [failure] = read_lines(run_dir / "failures.jsonl")
    assert failure["article_id"] == "b_fault" and failure["stage"] == "model"
    assert failure["reason"].startswith("fake-model: ")
    assert reason in failure["reason"]
    assert len(faulty_requests(server)) == ATTEMPTS
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete_with_failures" and manifest["counts"]["failed"] == 1
    assert err == ""


@pytest.mark.parametrize(("status", "label"), [(400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"), (422, "Unprocessable")])
def test_permanent_http_error_is_not_retried(tmp_path: Path, fake_server, status: int, label: str) -> None:
    server = fake_server(FaultyModel(lambda b: Reply(status=status, error_message=label), times=None))
    code, summary, _, run_dir = run_extract(tmp_path, server.base_url)
    assert code == 1 and summary["articles"] == 2
    [failure] = read_lines(run_dir / "failures.jsonl")
    assert f"HTTP {status} after 1 attempt(s)" in failure["reason"] and label in failure["reason"]
    assert len(faulty_requests(server)) == 1


def test_slow_drip_within_the_timeout_is_just_slow(tmp_path: Path, fake_server) -> None:
    server = fake_server(FaultyModel(lambda b: Reply(content=ok(b), action="drip", drip_interval=0.002), times=None))
    code, summary, err, _ = run_extract(tmp_path, server.base_url)
    assert code == 0, err
    assert summary["articles"] == 3
    assert len(faulty_requests(server)) == 1


def test_retry_after_is_honoured(tmp_path: Path, fake_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gap between the 429 and the retry is the server's Retry-After (1 s), not
    the backoff (which would be 5 s here: jitter pinned to its maximum)."""
    monkeypatch.setenv("EXTRACTOR_BACKOFF_BASE", "5")
    monkeypatch.setenv("EXTRACTOR_BACKOFF_CAP", "5")
    monkeypatch.setattr(openai_compat.random, "uniform", lambda low, high: high)
    server = fake_server(FaultyModel(lambda b: Reply(status=429, headers={"Retry-After": "1"}), times=1))
    code, summary, err, _ = run_extract(tmp_path, server.base_url)
    assert code == 0, err
    first, second = faulty_requests(server)
    gap = second["time"] - first["time"]
    assert 0.95 <= gap < 3.0, f"retried after {gap:.2f} s, expected the 1 s Retry-After"
    assert summary["failed"] == 0


def test_retry_after_ms_and_http_date_forms() -> None:
    """`retry-after-ms` wins; an HTTP date in the past means no wait; junk falls back to backoff."""
    import openai

    try:  # the HTTP client the installed openai SDK is built on
        import httpx2 as http
    except ModuleNotFoundError:  # pragma: no cover
        import httpx as http  # type: ignore[no-redef]

    def error(headers: dict[str, str]) -> openai.APIStatusError:
        response = http.Response(429, headers=headers, request=http.Request("POST", "http://127.0.0.1/v1"))
        return openai.RateLimitError("rate limited", response=response, body=None)

    assert openai_compat._retry_after(error({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert openai_compat._retry_after(error({"retry-after": "2"})) == 2.0
    assert openai_compat._retry_after(error({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert openai_compat._retry_after(error({"retry-after": "100000"})) == openai_compat.MAX_RETRY_AFTER
    assert openai_compat._retry_after(error({"retry-after": "soon"})) is None
    assert openai_compat._retry_after(error({"retry-after": "nan"})) is None


def test_backoff_is_exponential_and_capped(tmp_path: Path, fake_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """With jitter pinned to its maximum the waits are base, 2*base, ... up to the cap;
    measured as the gaps between the attempts' arrival times on the server."""
    monkeypatch.setenv("EXTRACTOR_BACKOFF_BASE", "0.2")
    monkeypatch.setenv("EXTRACTOR_BACKOFF_CAP", "0.3")
    monkeypatch.setattr(openai_compat.random, "uniform", lambda low, high: high)
    server = fake_server(FaultyModel(lambda b: Reply(status=503), times=3))
    code, _, err, _ = run_extract(tmp_path, server.base_url, "--max-attempts", "4")
    assert code == 0, err
    times = [r["time"] for r in faulty_requests(server)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert 0.2 <= gaps[0] < 0.4  # base
    assert 0.3 <= gaps[1] < 0.5  # 2 * base = 0.4, capped at 0.3
    assert 0.3 <= gaps[2] < 0.7  # 4 * base = 0.8, capped at 0.3


def test_bad_backoff_setting_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXTRACTOR_BACKOFF_BASE", "fast")
    result = CliRunner().invoke(
        cli, ["extract", "seeds", "-m", "m", "--base-url", "http://127.0.0.1:9/v1", "-o", str(tmp_path / "r")],
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: EXTRACTOR_BACKOFF_BASE='fast': expected a number of seconds >= 0"


# --- content faults: the HTTP exchange is fine, the answer is not ------------------------

BAD_CONTENT: dict[str, Callable[[dict[str, Any]], Reply]] = {
    "JSON violating the schema": lambda b: Reply(content=json.dumps({"claims": [{"speaker": "Anna Berg", "stance": "loves"}]})),
    "empty content": lambda b: Reply(content=""),
    "truncated JSON (finish_reason=length)": lambda b: Reply(content=ok(b)[:60], finish_reason="length"),
    "prose instead of JSON": lambda b: Reply(content="Sure! Anna Berg supports the bridge."),
}


@pytest.mark.parametrize("name", list(BAD_CONTENT))
def test_bad_answer_is_reasked_with_feedback_and_the_fixed_answer_kept(tmp_path: Path, fake_server, name: str) -> None:
    server = fake_server(FaultyModel(BAD_CONTENT[name], times=1))
    code, summary, err, run_dir = run_extract(tmp_path, server.base_url)
    assert code == 0, err
    assert summary["articles"] == 3 and summary["failed"] == 0
    _, second = faulty_requests(server)
    feedback = second["body"]["messages"][-1]
    assert feedback["role"] == "user"
    if "length" in name:
        assert "cut off" in feedback["content"]
    else:
        assert "Your answer had these problems" in feedback["content"]
    faulted = read_lines(run_dir / "extractions.jsonl")[1]
    assert faulted["article_id"] == "b_fault"
    assert [c["speaker"] for c in faulted["claims"]] == ["Mayor Anna Berg"]
    assert faulted["dropped"] == {}


@pytest.mark.parametrize("name", list(BAD_CONTENT))
def test_persistently_bad_answer_fails_the_article(tmp_path: Path, fake_server, name: str) -> None:
    """After --max-retries re-asks there is still no usable answer for any unit of
    the article: it is a failed article (retried by --resume), not an empty one.
    The other articles complete and the exit code is 1."""
    server = fake_server(FaultyModel(BAD_CONTENT[name], times=None))
    code, summary, err, run_dir = run_extract(tmp_path, server.base_url)
    assert code == 1, err
    assert len(faulty_requests(server)) == 3  # the first ask + --max-retries 2
    assert [r["article_id"] for r in read_lines(run_dir / "extractions.jsonl")] == ["a_calm", "c_calm"]
    [failure] = read_lines(run_dir / "failures.jsonl")
    assert failure["article_id"] == "b_fault" and failure["stage"] == "model"
    assert failure["reason"].startswith("no valid answer for any of 1 unit(s) after 2 re-ask(s): ")
    assert summary["failed"] == 1 and summary["claims"] == 2


def test_refusal_fails_the_article_with_the_models_words(tmp_path: Path, fake_server) -> None:
    server = fake_server(FaultyModel(lambda b: Reply(refusal="I can't help with that request."), times=None))
    code, summary, err, run_dir = run_extract(tmp_path, server.base_url)
    assert code == 1
    assert summary["articles"] == 2 and summary["failed"] == 1
    [failure] = read_lines(run_dir / "failures.jsonl")
    assert failure == {
        "article_id": "b_fault", "source": str(tmp_path / "in" / "b_fault.txt"), "stage": "model",
        "reason": "model refused: I can't help with that request.",
    }
    assert len(faulty_requests(server)) == 1, "a refusal is final: it is not re-asked"
    assert err == ""


def test_refusal_is_not_cached_so_a_rerun_asks_again(tmp_path: Path, fake_server) -> None:
    model = FaultyModel(lambda b: Reply(refusal="No."), times=1)
    server = fake_server(model)
    inputs = write_inputs(tmp_path / "in")
    common = ["-p", "claims@v1", "-m", "fake-model", "--base-url", server.base_url, "--cache-dir", str(tmp_path / "cache"), "--json"]
    first = CliRunner().invoke(cli, ["extract", str(inputs), "-o", str(tmp_path / "r1"), *common])
    assert first.exit_code == 1
    second = CliRunner().invoke(cli, ["extract", str(inputs), "-o", str(tmp_path / "r2"), *common])
    assert second.exit_code == 0, second.stderr
    assert len(faulty_requests(server)) == 2
    assert json.loads(second.stdout)["cached_calls"] == 2  # the two calm articles


def test_every_fault_at_once(tmp_path: Path, fake_server) -> None:
    """A storm: each faulty article draws a different permanent fault, concurrently.
    Every calm article completes; each faulty one has its own reason."""
    faults: dict[str, Callable[[dict[str, Any]], Reply]] = {
        "Alpha": lambda b: Reply(status=429, headers={"Retry-After": "0"}),
        "Bravo": lambda b: Reply(status=500),
        "Charlie": lambda b: Reply(action="reset"),
        "Delta": lambda b: Reply(content=ok(b), delay=TIMEOUT + 0.4),
        "Echo": lambda b: Reply(content=ok(b), action="truncate"),
        "Foxtrot": lambda b: Reply(refusal="Refused."),
        "Golf": lambda b: Reply(content=""),
    }

    def responder(body: dict[str, Any]) -> Reply:
        passage = last_passage(body)
        for word, fault in faults.items():
            if word in passage:
                return fault(body)
        return honest_responder(body)

    server = fake_server(responder)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for word in faults:
        (inputs / f"{word.lower()}.txt").write_text(f"News\n\nMayor Anna Berg said the {word} bridge will open.\n", encoding="utf-8")
    for i in range(10):
        (inputs / f"calm{i:02d}.txt").write_text(f"News\n\nMayor Anna Berg said bridge number {i} will open.\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["extract", str(inputs), "-p", "claims@v1", "-m", "fake-model", "--base-url", server.base_url, "-o", str(tmp_path / "run"),
         "--no-cache", "--json", "--timeout", str(TIMEOUT), "--max-attempts", "2", "--concurrency", "4"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["failed"] == 7 and summary["articles"] == 10
    done = [r["article_id"] for r in read_lines(tmp_path / "run" / "extractions.jsonl")]
    assert done == sorted(done) and set(done) == {f"calm{i:02d}" for i in range(10)}
    reasons = {f["article_id"]: f["reason"] for f in read_lines(tmp_path / "run" / "failures.jsonl")}
    assert set(reasons) == {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"}
    assert reasons["golf"].startswith("no valid answer for any of 1 unit(s)")
    assert "HTTP 429" in reasons["alpha"] and "HTTP 500" in reasons["bravo"]
    assert "APIConnectionError" in reasons["charlie"] and "timed out" in reasons["delta"]
    assert "not valid JSON" in reasons["echo"] and reasons["foxtrot"] == "model refused: Refused."


def test_an_unexpected_error_stops_the_run_with_one_line_and_a_failed_manifest(
    tmp_path: Path, fake_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a provider fault but a bug (any exception other than ProviderError):
    the pipeline does not catch it per article, so the run stops; the user gets
    one line, the manifest says "failed", and finished articles stay on disk."""
    server = fake_server()

    async def bug(self: Any, request: Any) -> Any:
        raise RuntimeError("something impossible happened")

    monkeypatch.setattr(openai_compat.OpenAICompatibleProvider, "_once", bug)
    code, _, err, run_dir = run_extract(tmp_path, server.base_url)
    assert code == 1
    assert err == "Error: unexpected RuntimeError: something impossible happened (rerun with --debug for a traceback)\n"
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
