"""Several OpenAI-compatible endpoints behind one provider (e.g. a few vLLM servers).

`MultiEndpointProvider` wraps one `OpenAICompatibleProvider` per base URL, each
with its own concurrency limit. A call goes to the next endpoint round-robin
among those with a free slot. When an endpoint fails a call with a transient
`ProviderError` (after that endpoint's own retries), or cannot be reached, it
is marked unhealthy for a cool-down and the call is retried on another
endpoint; only when every endpoint has failed the call does the call fail. A
permanent error (4xx, refusal) is the request's fault and is raised at once.

`model_id` is the same whichever endpoint answers, so the response cache and
replay do not depend on the endpoints.

`GuidedJsonProvider` is an `OpenAICompatibleProvider` that also sends
`"guided_json": schema` (vLLM's guided decoding) in the body of every call.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ProviderError, UsageError
from ..llm import Completion, CompletionRequest, Provider
from ..secrets import redact
from .openai_compat import OpenAICompatibleProvider

DEFAULT_COOLDOWN = 30.0


class GuidedJsonProvider(OpenAICompatibleProvider):
    """Sends the answer schema as vLLM `guided_json` too, besides `response_format`."""

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        return {**super().request_body(request), "guided_json": request.json_schema}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "guided_json": True}


def build_openai_provider(
    model: str,
    *,
    model_id: str,
    base_url: str | None,
    api_key: str | None = None,
    timeout: float = 60.0,
    max_attempts: int = 5,
    guided_json: bool = False,
) -> OpenAICompatibleProvider:
    cls = GuidedJsonProvider if guided_json else OpenAICompatibleProvider
    return cls(model, model_id=model_id, base_url=base_url, api_key=api_key, timeout=timeout, max_attempts=max_attempts)


@dataclass
class Endpoint:
    provider: Provider
    url: str
    limit: int
    in_flight: int = 0
    unhealthy_until: float = 0.0
    calls: int = 0
    failures: int = 0

    def healthy(self, now: float) -> bool:
        return now >= self.unhealthy_until


class MultiEndpointProvider(Provider):
    def __init__(
        self,
        endpoints: list[tuple[str, Provider]],
        *,
        model_id: str,
        concurrency_per_endpoint: int = 8,
        cooldown: float = DEFAULT_COOLDOWN,
    ) -> None:
        if not endpoints:
            raise UsageError("multi-endpoint provider needs at least one endpoint")
        if concurrency_per_endpoint < 1:
            raise UsageError("--endpoint-concurrency must be at least 1")
        self.model_id = model_id
        self.endpoints = [Endpoint(provider, url, concurrency_per_endpoint) for url, provider in endpoints]
        self.max_concurrency = sum(e.limit for e in self.endpoints)
        self.cooldown = cooldown
        self._next = 0
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_urls(
        cls,
        model: str,
        base_urls: list[str],
        *,
        model_id: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_attempts: int = 5,
        concurrency_per_endpoint: int = 8,
        cooldown: float = DEFAULT_COOLDOWN,
        guided_json: bool = False,
    ) -> MultiEndpointProvider:
        providers: list[tuple[str, Provider]] = [
            (url, build_openai_provider(model, model_id=model_id, base_url=url, api_key=api_key, timeout=timeout,
                                        max_attempts=max_attempts, guided_json=guided_json))
            for url in base_urls
        ]
        return cls(providers, model_id=model_id, concurrency_per_endpoint=concurrency_per_endpoint, cooldown=cooldown)

    @property
    def changed(self) -> asyncio.Condition:
        """Signalled whenever a slot frees; one per event loop (a run is one `asyncio.run`)."""
        loop = asyncio.get_running_loop()
        if self._changed is None or self._loop is not loop:
            self._changed = asyncio.Condition()
            self._loop = loop
        return self._changed

    def describe(self) -> dict[str, Any]:
        inner = self.endpoints[0].provider.describe()
        info: dict[str, Any] = {
            "model": self.model_id,
            "backend": "openai-compatible (multi-endpoint)",
            "endpoints": [redact(e.url) for e in self.endpoints],
            "endpoint_concurrency": self.endpoints[0].limit,
        }
        if inner.get("guided_json"):
            info["guided_json"] = True
        return info

    def stats(self) -> list[dict[str, Any]]:
        """Calls and failures per endpoint (for tests and benchmarks)."""
        return [{"url": redact(e.url), "calls": e.calls, "failures": e.failures} for e in self.endpoints]

    def _pick(self, tried: set[int]) -> int | None:
        """The next endpoint round-robin with a free slot: healthy ones first; an
        unhealthy one only when no untried healthy endpoint is left. None: wait."""
        now = time.monotonic()
        untried = [i for i in range(len(self.endpoints)) if i not in tried]
        healthy = [i for i in untried if self.endpoints[i].healthy(now)]
        pool = healthy or untried
        count = len(self.endpoints)
        for step in range(count):
            index = (self._next + step) % count
            if index in pool and self.endpoints[index].in_flight < self.endpoints[index].limit:
                self._next = index + 1
                return index
        return None

    async def _acquire(self, tried: set[int]) -> Endpoint:
        changed = self.changed
        async with changed:
            while (index := self._pick(tried)) is None:
                await changed.wait()
            endpoint = self.endpoints[index]
            endpoint.in_flight += 1
            return endpoint

    async def _release(self, endpoint: Endpoint) -> None:
        changed = self.changed
        async with changed:
            endpoint.in_flight -= 1
            changed.notify_all()

    async def complete(self, request: CompletionRequest) -> Completion:
        tried: set[int] = set()
        errors: list[str] = []
        while len(tried) < len(self.endpoints):
            endpoint = await self._acquire(tried)
            tried.add(self.endpoints.index(endpoint))
            endpoint.calls += 1
            try:
                completion = await endpoint.provider.complete(request)
            except ProviderError as exc:
                if not exc.transient:
                    raise
                endpoint.failures += 1
                endpoint.unhealthy_until = time.monotonic() + self.cooldown
                errors.append(f"{redact(endpoint.url)}: {exc}")
                continue
            finally:
                await self._release(endpoint)
            endpoint.unhealthy_until = 0.0
            return completion
        raise ProviderError(
            f"{self.model_id}: all {len(self.endpoints)} endpoints failed: " + "; ".join(errors)[:1000],
            transient=True,
        )

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.provider.aclose()
