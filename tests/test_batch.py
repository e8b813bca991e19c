"""`extractor batch submit | status | collect` against a fake Files + Batches API on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from extractor.batch import BatchRequest, response_format, split_files
from extractor.providers.openai_compat import OpenAICompatibleProvider

from .fake_openai import Reply, completion_body, honest_answer
from .test_extract_cli import invoke, write_articles

MODEL = "openai/fake-model"


class FakeBatchAPI:
    """POST /v1/files (multipart), POST /v1/batches, GET /v1/batches/{id}, GET /v1/files/{id}/content.

    A batch is processed as soon as it is created (unless `hold` is set): each
    line is answered with `answer(body)`, except those `fails(custom_id)` picks,
    which go to the error file with a 500.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.uploads: list[bytes] = []
        self.fails: Callable[[str], bool] = lambda custom_id: False
        self.answer: Callable[[dict[str, Any]], str] = honest_answer
        self.hold = False
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/files":
                    content_type = self.headers["Content-Type"].encode()
                    message = BytesParser(policy=policy.default).parsebytes(b"Content-Type: " + content_type + b"\r\n\r\n" + body)
                    fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}  # type: ignore[attr-defined]
                    data = fields["file"].get_payload(decode=True)
                    assert fields["purpose"].get_content().strip() == "batch"
                    self._json(fake.add_file(data, str(fields["file"].get_filename()), "batch"))
                elif self.path == "/v1/batches":
                    self._json(fake.create_batch(json.loads(body)))
                else:
                    self._json({"error": {"message": "not found"}}, 404)

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[:2] == ["v1", "batches"] and parts[2] in fake.batches:
                    self._json(fake.batches[parts[2]])
                elif parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[2] in fake.files:
                    self._send(200, fake.files[parts[2]], "application/octet-stream")
                else:
                    self._json({"error": {"message": "not found"}}, 404)

            def _json(self, document: dict[str, Any], status: int = 200) -> None:
                self._send(status, json.dumps(document).encode(), "application/json")

            def _send(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        with self.lock:
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = data
            if purpose == "batch":
                self.uploads.append(data)
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0, "filename": filename,
                "purpose": purpose, "status": "processed"}

    def create_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        assert request["endpoint"] == "/v1/chat/completions" and request["completion_window"] == "24h"
        with self.lock:
            batch_id = f"batch_{next(self._ids)}"
        lines = self.files[request["input_file_id"]].decode().splitlines()
        batch = {
            "id": batch_id, "object": "batch", "endpoint": request["endpoint"], "input_file_id": request["input_file_id"],
            "completion_window": "24h", "status": "validating", "created_at": 0, "output_file_id": None,
            "error_file_id": None, "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }
        self.batches[batch_id] = batch
        if not self.hold:
            self.process(batch_id)
        return batch

    def process(self, batch_id: str) -> None:
        batch = self.batches[batch_id]
        output, errors = [], []
        for raw in self.files[batch["input_file_id"]].decode().splitlines():
            line = json.loads(raw)
            assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
            custom = line["custom_id"]
            if self.fails(custom):
                errors.append({"id": f"req-{custom}", "custom_id": custom, "error": None, "response": {
                    "status_code": 500, "request_id": "r", "body": {"error": {"message": "server error", "type": "server_error"}}}})
            else:
                body = completion_body(Reply(content=self.answer(line["body"])), line["body"]["model"])
                output.append({"id": f"req-{custom}", "custom_id": custom, "error": None,
                               "response": {"status_code": 200, "request_id": "r", "body": body}})
        for kind, records in (("output_file_id", output), ("error_file_id", errors)):
            if records:
                data = "".join(json.dumps(r) + "\n" for r in records).encode()
                batch[kind] = self.add_file(data, f"{kind}.jsonl", "batch_output")["id"]
        batch["status"] = "completed"
        batch["request_counts"] = {"total": len(output) + len(errors), "completed": len(output), "failed": len(errors)}

    def finish_all(self) -> None:
        for batch_id, batch in self.batches.items():
            if batch["status"] != "completed":
                self.process(batch_id)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def batch_api() -> Iterator[FakeBatchAPI]:
    fake = FakeBatchAPI()
    yield fake
    fake.close()


def uploaded_lines(fake: FakeBatchAPI) -> list[dict[str, Any]]:
    return [json.loads(line) for data in fake.uploads for line in data.decode().splitlines()]


def submit(fake: FakeBatchAPI, inputs: Path, run: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("batch", "submit", str(inputs), "-m", MODEL, "--base-url", fake.base_url, "-o", str(run), *extra)


def collect(run: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("batch", "collect", str(run), "--no-cache", "--json", *extra)


def online_run(tmp_path: Path, inputs: Path, fake_server) -> Path:
    """The same articles extracted online against the fake chat server (same answers)."""
    server = fake_server()
    out = tmp_path / "online"
    code, _, err = invoke("extract", str(inputs), "-m", MODEL, "--base-url", server.base_url, "--no-cache", "-o", str(out))
    assert code == 0, err
    online_run.bodies = [r["body"] for r in server.requests]  # type: ignore[attr-defined]
    return out


def test_submit_sends_the_online_requests_and_records_the_batch(tmp_path: Path, batch_api: FakeBatchAPI, fake_server) -> None:
    inputs = write_articles(tmp_path / "in", n=3)
    code, out, err = submit(batch_api, inputs, tmp_path / "run")
    assert code == 0, err
    assert "Submitted" in out
    lines = uploaded_lines(batch_api)
    assert [line["custom_id"] for line in lines][:2] == ["art0::0", "art0::1"]
    assert {line["custom_id"].split("::")[0] for line in lines} == {"art0", "art1", "art2"}
    online_run(tmp_path, inputs, fake_server)
    online = sorted(json.dumps(b, sort_keys=True) for b in online_run.bodies)  # type: ignore[attr-defined]
    assert sorted(json.dumps(line["body"], sort_keys=True) for line in lines) == online
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "batch_submitted"
    assert manifest["model"]["model"] == MODEL
    rounds = manifest["batch"]["rounds"]
    assert len(rounds) == 1 and len(rounds[0]["batches"]) == 1
    assert rounds[0]["batches"][0]["id"] in batch_api.batches
    assert rounds[0]["requests"] == len(lines)


def test_response_format_matches_the_online_provider() -> None:
    provider = OpenAICompatibleProvider("m", model_id="m", base_url="http://127.0.0.1:9/v1")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert response_format(schema) == provider._response_format(schema)


def test_collect_writes_the_same_run_as_online(tmp_path: Path, batch_api: FakeBatchAPI, fake_server) -> None:
    inputs = write_articles(tmp_path / "in", n=3)
    assert submit(batch_api, inputs, tmp_path / "run")[0] == 0
    code, out, err = invoke("batch", "status", str(tmp_path / "run"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["overall"]["status"] == "completed"
    assert report["overall"]["completed"] == report["overall"]["total"] == len(uploaded_lines(batch_api))
    code, out, err = collect(tmp_path / "run")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["articles"] == 3 and summary["failed"] == 0
    online = online_run(tmp_path, inputs, fake_server)
    assert (tmp_path / "run" / "extractions.jsonl").read_bytes() == (online / "extractions.jsonl").read_bytes()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["batch"]["collected"] and manifest["batch"]["rounds"][0]["batches"][0]["status"] == "completed"
    assert manifest["options"]["max_retries"] == 0
    # the eval reads it unchanged
    code, _, err = invoke("runs", "show", str(tmp_path / "run"), "--json")
    assert code == 0, err


def test_pending_batch_is_reported_and_not_collected(tmp_path: Path, batch_api: FakeBatchAPI) -> None:
    batch_api.hold = True
    inputs = write_articles(tmp_path / "in", n=2)
    assert submit(batch_api, inputs, tmp_path / "run")[0] == 0
    code, out, _ = invoke("batch", "status", str(tmp_path / "run"), "--json")
    assert code == 0 and json.loads(out)["overall"]["status"] == "in_progress"
    code, _, err = collect(tmp_path / "run")
    assert code == 1 and "not finished yet" in err
    assert not (tmp_path / "run" / "extractions.jsonl").exists()
    batch_api.finish_all()
    code, out, err = collect(tmp_path / "run")
    assert code == 0, err
    assert json.loads(out)["articles"] == 2


def test_partial_failure_then_resubmit_only_the_failed_items(tmp_path: Path, batch_api: FakeBatchAPI, fake_server) -> None:
    inputs = write_articles(tmp_path / "in", n=3)
    batch_api.fails = lambda custom_id: custom_id == "art1::0"
    assert submit(batch_api, inputs, tmp_path / "run")[0] == 0
    first_upload = len(uploaded_lines(batch_api))
    batch_api.fails = lambda custom_id: False

    code, out, err = collect(tmp_path / "run", "--resubmit-failed")
    assert code == 1
    summary = json.loads(out)
    assert summary["articles"] == 2 and summary["failed"] == 1
    failures = [json.loads(line) for line in (tmp_path / "run" / "failures.jsonl").read_text().splitlines()]
    assert [f["article_id"] for f in failures] == ["art1"]
    assert "batch request failed" in failures[0]["reason"] and "HTTP 500" in failures[0]["reason"]
    assert summary["resubmitted"]["requests"] == 1
    assert [line["custom_id"] for line in uploaded_lines(batch_api)[first_upload:]] == ["art1::0"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [r["reason"] for r in manifest["batch"]["rounds"]] == ["initial", "resubmit-failed"]

    code, out, err = collect(tmp_path / "run")
    assert code == 0, err
    assert json.loads(out)["resumed_skipped"] == 2
    assert not (tmp_path / "run" / "failures.jsonl").read_text().strip()
    online = online_run(tmp_path, inputs, fake_server)
    assert (tmp_path / "run" / "extractions.jsonl").read_bytes() == (online / "extractions.jsonl").read_bytes()


def test_invalid_answer_is_recorded_not_reasked(tmp_path: Path, batch_api: FakeBatchAPI) -> None:
    inputs = write_articles(tmp_path / "in", n=2)
    batch_api.answer = lambda body: "not json" if "year 1" in json.dumps(body) else honest_answer(body)
    assert submit(batch_api, inputs, tmp_path / "run")[0] == 0
    uploads = len(batch_api.uploads)
    code, out, _ = collect(tmp_path / "run")
    summary = json.loads(out)
    assert code == 1 and summary["failed"] == 1
    failure = json.loads((tmp_path / "run" / "failures.jsonl").read_text())
    assert failure["article_id"] == "art1" and "no valid answer" in failure["reason"]
    assert len(batch_api.uploads) == uploads, "collect never asks the model"
    assert summary["usage"]["calls"] == sum(1 for line in uploaded_lines(batch_api) if line["custom_id"].startswith("art0::"))


def test_large_batch_is_split_and_tracked_together(tmp_path: Path, batch_api: FakeBatchAPI, fake_server) -> None:
    inputs = write_articles(tmp_path / "in", n=3)
    code, out, err = submit(batch_api, inputs, tmp_path / "run", "--max-requests-per-file", "2", "--json")
    assert code == 0, err
    batches = json.loads(out)["batches"]
    total = len(uploaded_lines(batch_api))
    assert len(batches) == len(batch_api.uploads) == -(-total // 2) and len(batches) > 1
    assert all(len(data.decode().splitlines()) <= 2 for data in batch_api.uploads)
    code, out, _ = invoke("batch", "status", str(tmp_path / "run"), "--json")
    report = json.loads(out)
    assert len(report["batches"]) == len(batches) and report["overall"]["total"] == total
    code, out, err = collect(tmp_path / "run")
    assert code == 0, err
    online = online_run(tmp_path, inputs, fake_server)
    assert (tmp_path / "run" / "extractions.jsonl").read_bytes() == (online / "extractions.jsonl").read_bytes()


def test_split_files_respects_the_byte_limit() -> None:
    requests = [BatchRequest(f"a::{i}", "a", "k", b"x" * 40 + b"\n") for i in range(5)]
    chunks = list(split_files(requests, max_requests=100, max_bytes=100))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert [r.custom_id for c in chunks for r in c] == [f"a::{i}" for i in range(5)]


def test_submit_refuses_an_existing_run(tmp_path: Path, batch_api: FakeBatchAPI) -> None:
    inputs = write_articles(tmp_path / "in", n=1)
    assert submit(batch_api, inputs, tmp_path / "run")[0] == 0
    code, _, err = submit(batch_api, inputs, tmp_path / "run")
    assert code == 2 and "already holds a run" in err
