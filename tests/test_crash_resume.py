"""Crash safety: a run killed midway (SIGKILL) or interrupted (Ctrl-C) loses
nothing that finished, and `--resume` produces exactly what an uninterrupted
run produces.

The run is a real `extractor extract` subprocess against the fake server in
this process; the server answers each request after a short delay so the run
takes a few seconds and can be stopped once some articles are written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from extractor.cli import cli
from extractor.jsonl import read_jsonl

from .fake_openai import FakeOpenAIServer, Reply, honest_answer, honest_responder, last_passage

ROOT = Path(__file__).resolve().parent.parent
EXTRACTOR = Path(sys.executable).parent / "extractor"
N = 50
CONCURRENCY = "4"
DELAY = 0.08  # per request: 50 articles x 2 passages / 4 workers ~ 2 s

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(N):
        (folder / f"art{i:02d}.txt").write_text(
            f"Story {i}\n\nMinister Karl Olsen said budget {i:02d} is sound. "
            f'"We will cut taxes only after audit {i:02d}," said Lena Holm.\n',
            encoding="utf-8",
        )
    return folder


class SlowThenFast:
    """Answers honestly; slowly (DELAY per request) until `fast` is set for the resume."""

    def __init__(self) -> None:
        self.fast = False

    def __call__(self, body: dict[str, Any]) -> Reply:
        return Reply(content=honest_answer(body), delay=0 if self.fast else DELAY)


def article_of(request: dict[str, Any]) -> str:
    match = re.search(r"(?:budget|audit) (\d\d)", last_passage(request["body"]))
    assert match, "every passage names its article"
    return f"art{match.group(1)}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """The inputs, and the extractions.jsonl of an uninterrupted run over them
    (its own server and cache)."""
    tmp = tmp_path_factory.mktemp("corpus")
    inputs = write_corpus(tmp / "in")
    with FakeOpenAIServer(honest_responder) as server:
        result = CliRunner().invoke(
            cli,
            ["extract", str(inputs), "-p", "claims@v1", "-m", "fake-model", "--base-url", server.base_url, "-o", str(tmp / "reference"),
             "--cache-dir", str(tmp / "reference-cache"), "--concurrency", CONCURRENCY],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.stderr
    return inputs, (tmp / "reference" / "extractions.jsonl").read_bytes()


def command(inputs: Path, run_dir: Path, cache: Path, base_url: str, *extra: str) -> list[str]:
    return [
        str(EXTRACTOR), "extract", str(inputs), "-p", "claims@v1", "-m", "fake-model", "--base-url", base_url, "-o", str(run_dir),
        "--cache-dir", str(cache), "--concurrency", CONCURRENCY, "--json", *extra,
    ]


def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "EXTRACTOR_MODEL", "OPENAI_BASE_URL")}
    env["EXTRACTOR_CACHE"] = str(tmp_path / "default-cache")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_stop_midway(tmp_path: Path, argv: list[str], sig: signal.Signals) -> tuple[subprocess.Popen[str], int]:
    """Start the run, wait until some articles are written, send `sig`; returns (process, lines seen)."""
    extractions = Path(argv[argv.index("-o") + 1]) / "extractions.jsonl"
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # As at a terminal: a job started in the background by a non-interactive
        # shell (`nohup make test &`) inherits SIGINT ignored, and would never
        # see the Ctrl-C this test sends.
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 30
    lines = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if extractions.exists():
            lines = extractions.read_bytes().count(b"\n")
            if lines >= 8:
                break
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before it could be stopped: {proc.communicate()}"
    proc.send_signal(sig)
    return proc, lines


def check_readable_after_stop(run_dir: Path, cache: Path) -> list[str]:
    """Every run file and cache entry parses; returns the finished ids."""
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == run_dir.name
    data = (run_dir / "extractions.jsonl").read_bytes()
    whole = data[: data.rfind(b"\n") + 1].decode("utf-8").splitlines()
    ids = [json.loads(line)["article_id"] for line in whole]  # every whole line is valid JSON
    assert len(ids) == len(set(ids)), "no article written twice"
    entries = list(cache.glob("*/*.json"))
    assert entries, "the cache holds the answers received before the stop"
    for entry in entries:
        assert "response" in json.loads(entry.read_text(encoding="utf-8"))
    return ids


def resume(tmp_path: Path, argv: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [*argv, "--resume"], cwd=ROOT, env=child_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_sigkill_midway_then_resume_equals_an_uninterrupted_run(tmp_path: Path, fake_server, corpus) -> None:
    inputs, expected = corpus
    model = SlowThenFast()
    server = fake_server(model)
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    argv = command(inputs, run_dir, cache, server.base_url)

    proc, _ = start_and_stop_midway(tmp_path, argv, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    finished = check_readable_after_stop(run_dir, cache)
    assert 8 <= len(finished) < N
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"

    # The worst a kill can do to an append is a torn last line: make one.
    with (run_dir / "extractions.jsonl").open("ab") as handle:
        handle.write(b'{"article_id":"art49","article_sha256":"0123')
    assert [r["article_id"] for r in read_jsonl(run_dir / "extractions.jsonl")] == finished
    shown = CliRunner().invoke(cli, ["runs", "show", str(run_dir), "--json"])
    assert shown.exit_code == 0 and len(shown.stdout.splitlines()) == 2 * len(finished)

    before = len(server.requests)
    model.fast = True
    summary = resume(tmp_path, argv)
    assert summary["status"] == "complete"
    assert summary["resumed_skipped"] == len(finished)
    assert summary["articles"] == N - len(finished) and summary["failed"] == 0
    asked_again = {article_of(r) for r in server.requests[before:]}
    assert not asked_again & set(finished), "finished articles are not asked again"
    assert (run_dir / "extractions.jsonl").read_bytes() == expected
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert not list(run_dir.glob(".*.tmp")), "no temporary file left behind"


def test_ctrl_c_exits_130_with_one_line_and_resume_completes(tmp_path: Path, fake_server, corpus) -> None:
    inputs, expected = corpus
    model = SlowThenFast()
    server = fake_server(model)
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    argv = command(inputs, run_dir, cache, server.base_url)

    proc, _ = start_and_stop_midway(tmp_path, argv, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith("Interrupted: ") and f"--resume -o {run_dir}" in lines[0]
    assert out == ""
    finished = check_readable_after_stop(run_dir, cache)
    assert f"{len(finished)} finished article(s) saved" in lines[0]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["counts"]["articles"] == len(finished)
    assert "finished" in manifest and "timings" in manifest

    model.fast = True
    summary = resume(tmp_path, argv)
    assert summary["status"] == "complete" and summary["resumed_skipped"] == len(finished)
    assert (run_dir / "extractions.jsonl").read_bytes() == expected
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"


def test_resume_after_failures_retries_only_the_failed_articles(tmp_path: Path, fake_server) -> None:
    """Failed articles are not 'finished': a resumed run asks for them again."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(4):
        (inputs / f"art{i:02d}.txt").write_text(f"News\n\nMinister Karl Olsen said budget {i:02d} is sound.\n", encoding="utf-8")
    healthy = {"on": False}

    def responder(body: dict[str, Any]) -> Reply:
        if "budget 02" in last_passage(body) and not healthy["on"]:
            return Reply(status=500)
        return Reply(content=honest_answer(body))

    server = fake_server(responder)
    args = ["extract", str(inputs), "-p", "claims@v1", "-m", "fake-model", "--base-url", server.base_url, "-o", str(tmp_path / "run"),
            "--no-cache", "--json", "--max-attempts", "1"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 1
    assert [f["article_id"] for f in read_jsonl(tmp_path / "run" / "failures.jsonl")] == ["art02"]
    healthy["on"] = True
    before = len(server.requests)
    second = CliRunner().invoke(cli, [*args, "--resume"], catch_exceptions=False)
    assert second.exit_code == 0, second.stderr
    assert [article_of(r) for r in server.requests[before:]] == ["art02"]
    assert [r["article_id"] for r in read_jsonl(tmp_path / "run" / "extractions.jsonl")] == [f"art{i:02d}" for i in range(4)]
    assert not (tmp_path / "run" / "failures.jsonl").read_text().strip()


def test_resume_with_a_corrupt_manifest_is_one_error_line(tmp_path: Path, fake_server) -> None:
    server = fake_server()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text('{\n  "status": "running",\n  oops\n}', encoding="utf-8")
    (inputs := tmp_path / "in").mkdir()
    (inputs / "a.txt").write_text("News\n\nMinister Karl Olsen said the budget is sound.\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["extract", str(inputs), "-m", "m", "--base-url", server.base_url, "-o", str(run_dir), "--resume", "--no-cache"],
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {run_dir / 'manifest.json'}:3: manifest is not valid JSON (Expecting property name enclosed in double quotes)"
