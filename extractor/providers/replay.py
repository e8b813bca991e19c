"""`replay`: recorded responses only; a miss is an error, so CI never calls a model."""

from __future__ import annotations

from typing import Any

from ..cache import ResponseStore
from ..errors import ReplayMiss
from ..llm import Completion, CompletionRequest, Provider


class ReplayProvider(Provider):
    def __init__(self, model_id: str, stores: list[ResponseStore]) -> None:
        self.model_id = model_id
        self.stores = stores

    async def complete(self, request: CompletionRequest) -> Completion:
        key = request.cache_key(self.model_id)
        for store in self.stores:
            hit = store.get(key)
            if hit is not None:
                return hit
        where = ", ".join(str(s.root) for s in self.stores)
        raise ReplayMiss(
            f"replay: no recorded response for this request (model {self.model_id}, key {key[:12]}) in {where};"
            " record it first with --record"
        )

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_id, "replay": [str(s.root) for s in self.stores]}
