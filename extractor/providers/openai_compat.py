"""OpenAI and any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio).

The answer is constrained with `response_format={"type": "json_schema", ...}`
(vLLM and llama.cpp server turn it into guided decoding). Servers that ignore it
still see the schema; validation and re-asking happen in the pipeline either
way, the same for every backend, so recorded responses replay identically.

Transport faults are retried here with tenacity: 429, 5xx, timeouts and
connection errors, with exponential backoff and jitter, honouring Retry-After.
The SDK's own retries are switched off so there is one retry policy.
"""

from __future__ import annotations

import os
import random
from typing import Any

import httpx
import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ..errors import ProviderError
from ..llm import Completion, CompletionRequest, Provider
from ..secrets import redact, register_secret

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in TRANSIENT_STATUS
    return isinstance(exc, openai.APIConnectionError | openai.APITimeoutError | httpx.TransportError)


def _retry_after(exc: BaseException | None) -> float | None:
    if isinstance(exc, openai.APIStatusError):
        value = exc.response.headers.get("retry-after")
        if value:
            try:
                return min(MAX_RETRY_AFTER, max(0.0, float(value)))
            except ValueError:
                return None
    return None


class _Backoff:
    """Exponential backoff with full jitter; a Retry-After header wins when present."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = _retry_after(exc)
        if after is not None:
            return after
        return random.uniform(0, min(self.cap, self.base * 2 ** (state.attempt_number - 1)))


class OpenAICompatibleProvider(Provider):
    def __init__(
        self,
        model: str,
        *,
        model_id: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        strict_schema: bool = True,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.base_url = base_url
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if base_url is None:
                raise ProviderError(
                    f"model '{model_id}' needs an API key: set OPENAI_API_KEY or pass --api-key"
                )
            key = "not-needed"  # local servers accept any key
        register_secret(key)
        self.client = openai.AsyncOpenAI(
            api_key=key, base_url=base_url, timeout=timeout, max_retries=0
        )
        self.max_attempts = max_attempts
        self.backoff = _Backoff(backoff_base, backoff_cap)
        self.strict_schema = strict_schema

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"model": self.model_id, "backend": "openai-compatible"}
        if self.base_url:
            info["base_url"] = redact(self.base_url)
        return info

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "json_schema",
            "json_schema": {"name": "claims", "schema": schema, "strict": False},
        }

    async def _once(self, request: CompletionRequest) -> Completion:
        create: Any = self.client.chat.completions.create
        response = await create(
            model=self.model,
            messages=request.message_dicts(),
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            seed=request.seed,
            response_format=self._response_format(request.json_schema),
        )
        if not response.choices:
            raise ProviderError("server returned no choices", transient=True)
        choice = response.choices[0]
        message = choice.message
        usage = response.usage
        return Completion(
            text=message.content or "",
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            refusal=getattr(message, "refusal", None),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_attempts),
                wait=self.backoff,
                retry=retry_if_exception(_is_transient),
                reraise=True,
            ):
                with attempt:
                    return await self._once(request)
        except openai.APIStatusError as exc:
            transient = exc.status_code in TRANSIENT_STATUS
            raise ProviderError(
                f"{self.model_id}: HTTP {exc.status_code} after {self.max_attempts if transient else 1} attempt(s): {redact(_short(exc))}",
                transient=transient,
            ) from None
        except (openai.APIConnectionError, openai.APITimeoutError, httpx.TransportError) as exc:
            raise ProviderError(
                f"{self.model_id}: {type(exc).__name__} after {self.max_attempts} attempts: {redact(_short(exc))}",
                transient=True,
            ) from None
        except openai.OpenAIError as exc:
            raise ProviderError(f"{self.model_id}: {redact(_short(exc))}") from None
        raise ProviderError(f"{self.model_id}: no attempt was made")  # pragma: no cover

    async def aclose(self) -> None:
        await self.client.close()


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
