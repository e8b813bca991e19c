"""API keys never leave the process: not in any file written, any output, any log line.

Every command registered in `extractor --help` is run (succeeding and failing
variants) with sentinel keys set, then every byte written under the test's
folders (runs, cache, recordings, the SQLite run store, drafts, reports) and
everything printed or logged is searched for the sentinels.

Two sentinels: one shaped like an OpenAI key (`sk-...`, also caught by the
token-shape pattern) and one that is not, so redaction by registration is
tested too. The registry of keys is emptied before each command, as in a
fresh process.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from extractor import secrets
from extractor.cli import cli
from extractor.providers import openai_compat

from .fake_openai import Reply, honest_answer

ENV_KEY = "sk-test-SENTINEL-0123456789"
FLAG_KEY = "SENTINELKEY9876543210xyz"  # not token-shaped: only registration redacts it
SENTINELS = (ENV_KEY, FLAG_KEY, "SENTINEL")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("EXTRACTOR_DB", str(tmp_path / "db" / "runs.db"))
    monkeypatch.setenv("EXTRACTOR_BACKOFF_BASE", "0")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    caplog.set_level(logging.DEBUG)  # the SDK's and httpx's debug logging, too
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        (inputs / f"art{i}.txt").write_text(
            f"Story {i}\n\nMinister Karl Olsen said budget {i} is sound. "
            f'"We will cut taxes only after audit {i}," said Lena Holm.\n',
            encoding="utf-8",
        )
    yield {"tmp": tmp_path, "inputs": inputs, "outputs": []}


def run(world: dict[str, Any], *args: str) -> Result:
    """Invoke the CLI as a fresh process would (no keys registered yet); keep all output."""
    secrets._KEYS.clear()
    result = CliRunner().invoke(cli, list(args))
    text = result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += "".join(traceback.format_exception(result.exception))
    world["outputs"].append((args, text))
    return result


def common(world: dict[str, Any], url: str, run_name: str) -> list[str]:
    tmp = world["tmp"]
    return [
        "extract", str(world["inputs"]), "-p", "claims@v1", "-m", "fake-model", "--base-url", url, "-o", str(tmp / run_name),
        "--cache-dir", str(tmp / "cache"), "--record", str(tmp / "recordings"), "--max-attempts", "2", "--timeout", "5",
    ]


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def assert_no_sentinel(world: dict[str, Any], caplog: pytest.LogCaptureFixture, extra_dirs: list[Path]) -> int:
    """Search every output, log record and written file; returns the number of files searched."""
    for args, text in world["outputs"]:
        for sentinel in SENTINELS:
            assert sentinel not in text, f"key printed by `extractor {' '.join(args)}`:\n{text}"
    for sentinel in SENTINELS:
        assert sentinel not in caplog.text, "key in a log record"
    searched = 0
    for root in [world["tmp"], *extra_dirs]:
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                path = Path(dirpath) / name
                data = path.read_bytes()
                searched += 1
                for sentinel in SENTINELS:
                    assert sentinel.encode() not in data, f"key written to {path}"
    return searched


def test_no_command_leaks_a_key(world: dict[str, Any], fake_server, caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    tmp = world["tmp"]
    good = fake_server()
    # A server that quotes the Authorization header back in its error, as careless proxies do.
    rejecting = fake_server(lambda body: Reply(status=401, error_message="Incorrect API key", echo_authorization=True))
    failing = fake_server(lambda body: Reply(status=500, error_message="upstream broke", echo_authorization=True))
    flaky_body = fake_server(lambda body: Reply(content=honest_answer(body), action="truncate"))

    # extract: succeeding, with the key from the environment and from --api-key
    assert run(world, *common(world, good.base_url, "ok")).exit_code == 0
    assert run(world, *common(world, good.base_url, "ok-flag"), "--no-cache", "--api-key", FLAG_KEY).exit_code == 0
    sent = {v for r in good.requests for k, v in r["headers"].items() if k.lower() == "authorization"}
    assert sent == {f"Bearer {ENV_KEY}", f"Bearer {FLAG_KEY}"}, "both keys really were used"
    # A key pasted with a trailing newline still works (and is still never shown).
    assert run(world, *common(world, good.base_url, "ok-nl"), "--no-cache", "--api-key", FLAG_KEY + "\n").exit_code == 0

    # extract: failing servers (401 and 500 echoing the key; a garbled body), with and without --debug
    for name, server in (("r401", rejecting), ("r500", failing), ("rbody", flaky_body)):
        for key_args in ([], ["--api-key", FLAG_KEY]):
            suffix = "-flag" if key_args else ""
            result = run(world, *common(world, server.base_url, name + suffix), "--no-cache", *key_args)
            assert result.exit_code == 1
            debug = run(world, "--debug", *common(world, server.base_url, name + suffix + "-debug"), "--no-cache", *key_args)
            assert debug.exit_code == 1
    failures = (tmp / "r401-flag" / "failures.jsonl").read_text()
    assert "HTTP 401" in failures and "[REDACTED]" in failures, "the echoed key was redacted, not dropped"

    # extract: the real OpenAI endpoint (unreachable offline) and a model without a key
    run(world, "extract", str(world["inputs"]), "-m", "openai/gpt-4o-mini", "-o", str(tmp / "openai"),
        "--no-cache", "--max-attempts", "1", "--api-key", FLAG_KEY)
    # extract: a bug deep in the provider whose message quotes the key, with and without --debug
    original = openai_compat.OpenAICompatibleProvider._once

    async def buggy(self: Any, request: Any) -> Any:
        raise RuntimeError(f"unexpected state for client with key {FLAG_KEY} / {ENV_KEY}")

    monkeypatch.setattr(openai_compat.OpenAICompatibleProvider, "_once", buggy)
    bug = run(world, *common(world, good.base_url, "bug"), "--no-cache", "--api-key", FLAG_KEY)
    assert bug.exit_code == 1 and "unexpected RuntimeError" in bug.stderr
    bug_debug = run(world, "--debug", *common(world, good.base_url, "bug-debug"), "--no-cache", "--api-key", FLAG_KEY)
    assert bug_debug.exit_code == 1 and "Traceback" in bug_debug.stderr and "[REDACTED]" in bug_debug.stderr
    monkeypatch.setattr(openai_compat.OpenAICompatibleProvider, "_once", original)

    # every other command, against the runs just written
    ok = str(tmp / "ok")
    db = str(tmp / "db" / "runs.db")
    commands: list[tuple[str, ...]] = [
        ("eval", ok, "--gold", "evals/gold", "--json"),
        ("eval", ok, "--gold", "evals/gold", "--markdown"),
        ("eval", ok, "--gold", "evals/gold", "--write-baseline", "--baseline", str(tmp / "baseline.json")),
        ("eval", str(tmp / "missing-run")),
        ("gold", "validate"),
        ("gold", "validate", str(tmp / "in")),
        ("gold", "draft", ok, "-o", str(tmp / "drafts")),
        ("gold", "agree", "evals/gold", "evals/gold"),
        ("prompts", "list"),
        ("prompts", "show", "claims@v1"),
        ("prompts", "show", "claims@v99"),
        ("prompts", "diff", "claims@v1", "claims@v2"),
        ("schema", "export", "-o", str(tmp / "schemas")),
        ("runs", "show", ok),
        ("runs", "show", str(tmp / "r500")),
        ("runs", "list", "--db", db),
        ("runs", "index", ok, str(tmp / "r401"), "--db", db),
        ("claims", "--speaker", "Karl Olsen", "--db", db),
        ("diff", ok, str(tmp / "ok-flag"), "--html", str(tmp / "diff.html")),
        ("diff", "--prompts", "claims@v1", "claims@v2", str(world["inputs"]), "--base-url", good.base_url,
         "-m", "fake-model", "--api-key", FLAG_KEY, "-o", str(tmp / "diff-runs"), "--cache-dir", str(tmp / "cache")),
        ("diff", "--prompts", "claims@v1", "claims@v2", str(world["inputs"]), "--base-url", rejecting.base_url,
         "-m", "fake-model", "--api-key", FLAG_KEY, "-o", str(tmp / "diff-runs-401"), "--no-cache", "--max-attempts", "1"),
        ("models", "list"),
        ("--debug", "runs", "show", str(tmp / "missing-run")),
    ]
    for args in commands:
        run(world, *args)
    # and everything registered, whatever it is: --help, and a command not
    # exercised above (added later) at least with a run folder
    exercised = {"extract"} | {next(a for a in args if not a.startswith("-")) for args in commands}
    for path in leaf_commands(cli):
        run(world, *path, "--help")
        if path[0] not in exercised:
            run(world, *path, ok)

    assert (tmp / "db" / "runs.db").exists(), "the run store was written (and is searched)"
    assert list((tmp / "cache").glob("*/*.json")) and list((tmp / "recordings").glob("*/*.json"))
    searched = assert_no_sentinel(world, caplog, [Path(os.environ["EXTRACTOR_CACHE"])])
    assert searched > 30


def test_manifest_describes_the_model_without_the_key(world: dict[str, Any], fake_server) -> None:
    """A key in the base URL (as some gateways take it) is redacted in the manifest."""
    server = fake_server()
    url = f"{server.base_url}?api-key={FLAG_KEY}"
    result = run(world, *common(world, url, "in-url"), "--api-key", FLAG_KEY, "--no-cache")
    assert result.exit_code == 0, result.stderr
    manifest = (world["tmp"] / "in-url" / "manifest.json").read_text()
    assert "[REDACTED]" in manifest and FLAG_KEY not in manifest
