"""`extractor extract` end to end against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from extractor.cli import cli

from .fake_openai import Reply, honest_answer

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write_articles(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"art{i}.txt").write_text(
            f"Story {i}\n\nMinister Karl Olsen said the budget is sound for year {i}. "
            f"\"We will cut taxes only after the audit,\" said Lena Holm.\n",
            encoding="utf-8",
        )
    return folder


def test_extract_via_base_url_writes_a_complete_run(tmp_path: Path, fake_server) -> None:
    server = fake_server()
    inputs = write_articles(tmp_path / "in")
    code, out, err = invoke(
        "extract", str(inputs), "-m", "fake-model", "--base-url", server.base_url, "-o", str(tmp_path / "run"),
        "--cache-dir", str(tmp_path / "cache"), "--json",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["articles"] == 3 and summary["failed"] == 0
    lines = (tmp_path / "run" / "extractions.jsonl").read_text().splitlines()
    assert [json.loads(line)["article_id"] for line in lines] == ["art0", "art1", "art2"]
    record = json.loads(lines[0])
    text = (inputs / "art0.txt").read_text()
    for claim in record["claims"]:
        assert claim["grounding"] == "exact"
        assert text[claim["evidence_span"]["start"] : claim["evidence_span"]["end"]] == claim["evidence"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["prompt"]["ref"] == "claims@v4" and len(manifest["prompt"]["sha256"]) == 64
    assert manifest["model"]["model"] == "fake-model"
    assert manifest["usage"]["calls"] == len(server.requests)
    assert manifest["counts"]["articles"] == 3
    # the request carried the schema as a JSON-schema response format
    body = server.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["model"] == "fake-model"


def test_rerun_is_served_from_the_cache(tmp_path: Path, fake_server) -> None:
    server = fake_server()
    inputs = write_articles(tmp_path / "in")
    common = ["-m", "fake-model", "--base-url", server.base_url, "--cache-dir", str(tmp_path / "cache"), "--json"]
    assert invoke("extract", str(inputs), "-o", str(tmp_path / "r1"), *common)[0] == 0
    calls = len(server.requests)
    code, out, _ = invoke("extract", str(inputs), "-o", str(tmp_path / "r2"), *common)
    assert code == 0
    assert len(server.requests) == calls, "a rerun must not call the model"
    assert json.loads(out)["cached_calls"] == calls
    assert (tmp_path / "r1" / "extractions.jsonl").read_bytes() == (tmp_path / "r2" / "extractions.jsonl").read_bytes()


def test_recorded_run_replays_to_identical_extractions(tmp_path: Path, fake_server) -> None:
    server = fake_server()
    inputs = write_articles(tmp_path / "in", n=4)
    code, _, err = invoke(
        "extract", str(inputs), "-m", "fake-model", "--base-url", server.base_url, "-o", str(tmp_path / "live"),
        "--no-cache", "--record", str(tmp_path / "rec"), "--concurrency", "4",
    )
    assert code == 0, err
    server_calls = len(server.requests)
    code, _, err = invoke(
        "extract", str(inputs), "-m", "replay", "--replay-from", str(tmp_path / "rec"), "--no-cache",
        "-o", str(tmp_path / "replayed"), "--concurrency", "2",
    )
    assert code == 0, err
    assert len(server.requests) == server_calls
    assert (tmp_path / "live" / "extractions.jsonl").read_bytes() == (tmp_path / "replayed" / "extractions.jsonl").read_bytes()


def test_replay_miss_is_a_clear_failure(tmp_path: Path) -> None:
    inputs = write_articles(tmp_path / "in", n=1)
    (tmp_path / "rec").mkdir()
    code, _, err = invoke(
        "extract", str(inputs), "-m", "replay/fake-model", "--replay-from", str(tmp_path / "rec"), "--no-cache",
        "-o", str(tmp_path / "run"),
    )
    assert code == 1
    assert "no recorded response" not in err, "per-article failures go to failures.jsonl, not stderr"
    failures = [json.loads(x) for x in (tmp_path / "run" / "failures.jsonl").read_text().splitlines()]
    assert failures[0]["article_id"] == "art0"
    assert "no recorded response" in failures[0]["reason"]


def test_replay_without_a_model_lists_what_was_recorded(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    code, _, err = invoke("extract", "seeds", "-m", "replay", "--replay-from", str(tmp_path / "rec"), "--no-cache", "-o", str(tmp_path / "r"))
    assert (tmp_path / "r").exists() is False
    assert code == 2
    assert err.startswith("Error: replay: say which recorded model")


def test_openai_model_without_key_explains_how_to_fix(tmp_path: Path) -> None:
    code, _, err = invoke("extract", "seeds", "-m", "openai/gpt-4o-mini", "-o", str(tmp_path / "r"))
    assert code == 1
    assert err.strip() == "Error: model 'openai/gpt-4o-mini' needs an API key: set OPENAI_API_KEY or pass --api-key"


def test_existing_run_folder_needs_resume(tmp_path: Path, fake_server) -> None:
    server = fake_server()
    inputs = write_articles(tmp_path / "in", n=1)
    args = ["extract", str(inputs), "-m", "m", "--base-url", server.base_url, "-o", str(tmp_path / "run"), "--no-cache"]
    assert invoke(*args)[0] == 0
    code, _, err = invoke(*args)
    assert code == 2 and "--resume" in err
    code, out, _ = invoke(*args, "--resume", "--json")
    assert code == 0 and json.loads(out)["resumed_skipped"] == 1


def test_unknown_model_and_prompt_are_usage_errors(tmp_path: Path) -> None:
    assert invoke("extract", "seeds", "-m", "nonsense", "-o", str(tmp_path / "a"))[0] == 2
    code, _, err = invoke("extract", "seeds", "-p", "claims@v42", "-o", str(tmp_path / "b"))
    assert code == 2 and "unknown prompt 'claims@v42'" in err


def test_labels_prompt_over_http(tmp_path: Path, fake_server) -> None:
    server = fake_server(lambda body: Reply(content=honest_answer(body)))
    inputs = write_articles(tmp_path / "in", n=1)
    code, _, err = invoke(
        "extract", str(inputs), "-p", "claims@v2", "-m", "m", "--base-url", server.base_url, "--no-cache", "-o", str(tmp_path / "run"),
    )
    assert code == 0, err
    record = json.loads((tmp_path / "run" / "extractions.jsonl").read_text())
    speakers = {c["speaker"] for c in record["claims"]}
    assert speakers == {"Minister Karl Olsen", "Lena Holm"}
