"""The one small interface between the core and every model backend.

Core code (pipeline, cache, CLI extract logic) depends only on this module;
backends live in `extractor.providers` and are chosen by the registry there.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_SCHEMA_IDS: dict[int, tuple[dict[str, Any], str]] = {}


def schema_id(schema: dict[str, Any]) -> str:
    """A short stable id for a JSON Schema (hash of its canonical JSON).

    Memoised per schema object (a run sends the same dict on every call); the
    stored reference keeps the id from being reused by another object.
    """
    hit = _SCHEMA_IDS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    value = hashlib.sha256(canonical_json(schema).encode("utf-8")).hexdigest()[:16]
    if len(_SCHEMA_IDS) < 64:
        _SCHEMA_IDS[id(schema)] = (schema, value)
    return value


@dataclass(frozen=True)
class CompletionRequest:
    """One chat completion with a JSON-Schema-constrained answer."""

    messages: tuple[tuple[str, str], ...]  # (role, content)
    json_schema: dict[str, Any] = field(hash=False)
    temperature: float = 0.0
    max_tokens: int = 800
    seed: int = 0

    @classmethod
    def build(
        cls,
        messages: list[dict[str, str]],
        json_schema: dict[str, Any],
        *,
        temperature: float = 0.0,
        max_tokens: int = 800,
        seed: int = 0,
    ) -> CompletionRequest:
        return cls(
            messages=tuple((m["role"], m["content"]) for m in messages),
            json_schema=json_schema,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
        )

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def params(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed}

    def cache_key(self, model_id: str) -> str:
        """Content address: model, parameters, messages and schema.

        The sha256 of `canonical_json({"model", "params", "messages",
        "schema"})`, built in pieces so that the messages every call of a
        prompt shares (system prompt, few-shot examples) are encoded once.
        """
        rest = canonical_json({"model": model_id, "params": self.params(), "schema": schema_id(self.json_schema)})
        messages = ",".join(_message_json(role, content) for role, content in self.messages)
        # Keys sort as messages < model < params < schema, so the whole
        # document is the messages, then `rest` without its opening brace.
        document = '{"messages":[' + messages + "]," + rest[1:]
        return hashlib.sha256(document.encode("utf-8")).hexdigest()


@lru_cache(maxsize=256)
def _message_json(role: str, content: str) -> str:
    return canonical_json({"role": role, "content": content})


@dataclass
class Completion:
    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    refusal: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "refusal": self.refusal,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], *, cached: bool = True) -> Completion:
        return cls(
            text=str(record.get("text", "")),
            finish_reason=str(record.get("finish_reason", "stop")),
            prompt_tokens=int(record.get("prompt_tokens", 0)),
            completion_tokens=int(record.get("completion_tokens", 0)),
            refusal=record.get("refusal"),
            cached=cached,
        )


class Provider(ABC):
    """A model backend. `model_id` is the full id the user chose, e.g. `local/qwen2.5-coder-1.5b`."""

    model_id: str
    #: Upper bound on useful concurrent calls (an in-process model serialises).
    max_concurrency: int | None = None

    @abstractmethod
    async def complete(self, request: CompletionRequest) -> Completion:
        """One completion. Raises `ProviderError` (transient or not) after its own retries."""

    def describe(self) -> dict[str, Any]:
        """What goes into the run manifest. Never includes a key."""
        return {"model": self.model_id}

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or model memory."""
