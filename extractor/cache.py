"""Content-addressed response store, used as a cache and for record/replay.

Each response is one readable JSON file `<root>/<key[:2]>/<key>.json`, keyed on
model, parameters, messages and schema (`CompletionRequest.cache_key`). Writes
go through a temporary file and a rename, so a killed run never leaves a torn
entry. The same layout is committed under `evals/recordings/` for CI replay.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .llm import Completion, CompletionRequest, Provider, schema_id
from .secrets import redact

DEFAULT_CACHE_DIR = Path(os.environ.get("EXTRACTOR_CACHE", Path.home() / ".cache" / "extractor" / "responses"))


class ResponseStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = os.fspath(root)

    def _path(self, key: str) -> str:
        # A plain string: a replay reads one entry per call, and pathlib's
        # joining and parsing cost more than the read itself.
        return os.path.join(self._root, key[:2], f"{key}.json")

    def get(self, key: str) -> Completion | None:
        try:
            with open(self._path(key), encoding="utf-8") as file:
                entry = json.loads(file.read())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        response = entry.get("response") if isinstance(entry, dict) else None
        return Completion.from_record(response) if isinstance(response, dict) else None

    def put(self, key: str, model_id: str, request: CompletionRequest, completion: Completion) -> None:
        entry: dict[str, Any] = {
            "key": key,
            "model": model_id,
            "request": {
                "params": request.params(),
                "schema": schema_id(request.json_schema),
                "messages": request.message_dicts(),
            },
            "response": completion.to_record(),
        }
        path = Path(self._path(key))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(redact(json.dumps(entry, indent=1, ensure_ascii=False)) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def models(self) -> set[str]:
        """Model ids with at least one recorded response (reads every entry)."""
        found = set()
        for path in self.root.glob("*/*.json"):
            try:
                found.add(json.loads(path.read_text(encoding="utf-8"))["model"])
            except (OSError, json.JSONDecodeError, KeyError, TypeError):
                continue
        return found


class CachedProvider(Provider):
    """Serves from the stores first; calls `inner` on a miss and records the answer.

    `read` stores are consulted in order; every fresh response is written to each
    `write` store (the user cache, and a recording folder with `--record`).
    Only complete answers are stored: a truncated (`length`) or refused answer is
    not, so a rerun asks again.
    """

    def __init__(self, inner: Provider, read: list[ResponseStore], write: list[ResponseStore]) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.max_concurrency = inner.max_concurrency
        self.read = read
        self.write = write

    async def complete(self, request: CompletionRequest) -> Completion:
        key = request.cache_key(self.model_id)
        for store in self.read:
            hit = store.get(key)
            if hit is not None:
                for other in self.write:
                    if other is not store and other.get(key) is None:
                        other.put(key, self.model_id, request, hit)
                return hit
        completion = await self.inner.complete(request)
        if completion.finish_reason == "stop" and completion.refusal is None:
            for store in self.write:
                store.put(key, self.model_id, request, completion)
        return completion

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    async def aclose(self) -> None:
        await self.inner.aclose()
