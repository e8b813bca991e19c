"""OpenAI and any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio).

The answer is constrained with `response_format={"type": "json_schema", ...}`
(vLLM and llama.cpp server turn it into guided decoding). Servers that ignore it
still see the schema; validation and re-asking happen in the pipeline either
way, the same for every backend, so recorded responses replay identically.

Transport faults are retried here with tenacity: 429, 5xx, timeouts,
connection errors and a 200 whose body is not a chat completion (truncated or
garbled JSON), with exponential backoff and full jitter, honouring Retry-After
(seconds or an HTTP date) and `retry-after-ms`. The SDK's own retries are
switched off so there is one retry policy. `timeout` bounds each attempt as a
whole, so a server that drips bytes slowly cannot hold a worker forever.

Backoff defaults (base 1 s, cap 30 s) can be changed with the environment
variables EXTRACTOR_BACKOFF_BASE and EXTRACTOR_BACKOFF_CAP (seconds); tests set
them small.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import random
import time
from typing import Any

import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ..errors import ProviderError, UsageError
from ..llm import Completion, CompletionRequest, Provider
from ..secrets import redact, register_secret

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0


class _BadResponse(Exception):
    """HTTP 200, but the body is not a chat completion (truncated or garbled JSON)."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in TRANSIENT_STATUS
    if isinstance(exc, ProviderError):
        return exc.transient
    return isinstance(
        exc,
        openai.APIConnectionError | openai.APITimeoutError | TimeoutError | _BadResponse,
    )


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or Retry-After in seconds or as an HTTP date."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    seconds: float | None = None
    millis = headers.get("retry-after-ms")
    value = headers.get("retry-after")
    if millis:
        try:
            seconds = float(millis) / 1000
        except ValueError:
            seconds = None
    if seconds is None and value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            seconds = when.timestamp() - time.time()
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{name}={raw!r}: expected a number of seconds >= 0")
    return value


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
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        strict_schema: bool = True,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.base_url = base_url
        register_secret(api_key)
        register_secret(os.environ.get("OPENAI_API_KEY"))
        # A key pasted with a trailing newline would be an illegal header value.
        key = (api_key or os.environ.get("OPENAI_API_KEY") or "").strip()
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
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        if backoff_base is None:
            backoff_base = _env_seconds("EXTRACTOR_BACKOFF_BASE", 1.0)
        if backoff_cap is None:
            backoff_cap = _env_seconds("EXTRACTOR_BACKOFF_CAP", 30.0)
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

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """The JSON body of a chat completion call (subclasses add fields)."""
        return {
            "model": self.model,
            "messages": request.message_dicts(),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "seed": request.seed,
            "response_format": self._response_format(request.json_schema),
        }

    async def _once(self, request: CompletionRequest) -> Completion:
        # The SDK's low-level `post` (the same in openai 1.x and later), with
        # the raw bytes back: it still sends the key and maps HTTP errors to its
        # exceptions, but skips `create`'s per-call walk over the messages and
        # schema and the pydantic model of the reply, which cost ~1 ms of CPU
        # per call (a quarter of the client's time at 32 calls in flight).
        try:
            # The SDK's timeout is per read; this bounds the whole attempt.
            async with asyncio.timeout(self.timeout):
                raw = await self.client.post("/chat/completions", cast_to=bytes, body=self.request_body(request))
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _BadResponse(f"response body is not valid JSON ({getattr(exc, 'msg', exc)})") from None
        return _completion(payload)

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
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise ProviderError(
                f"{self.model_id}: {type(exc).__name__} after {self.max_attempts} attempts: {redact(_short(exc))}",
                transient=True,
            ) from None
        except TimeoutError:
            raise ProviderError(
                f"{self.model_id}: timed out ({self.timeout:g} s per call) after {self.max_attempts} attempts",
                transient=True,
            ) from None
        except _BadResponse as exc:
            raise ProviderError(
                f"{self.model_id}: bad response after {self.max_attempts} attempts: {redact(_short(exc))}",
                transient=True,
            ) from None
        except openai.OpenAIError as exc:
            raise ProviderError(f"{self.model_id}: {redact(_short(exc))}") from None
        raise ProviderError(f"{self.model_id}: no attempt was made")  # pragma: no cover

    async def aclose(self) -> None:
        await self.client.close()


def _completion(payload: Any) -> Completion:
    """The first choice of a chat completion body, or `_BadResponse`."""
    try:
        choices = payload["choices"]
        if not choices:
            raise _BadResponse("server returned no choices")
        choice = choices[0]
        message = choice["message"]
        usage = payload.get("usage") or {}
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise TypeError("content is not a string")
        refusal = message.get("refusal")
        return Completion(
            text=content or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            refusal=str(refusal) if refusal else None,
        )
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        raise _BadResponse("response is not a chat completion") from None


def _short(exc: BaseException) -> str:
    """One line; for a connection error, with its cause ("Connection error." alone says little)."""
    text = " ".join(str(exc).split())
    cause = exc.__cause__
    if isinstance(exc, openai.APIConnectionError) and cause is not None:
        detail = " ".join(str(cause).split())
        text += f" ({type(cause).__name__}{': ' + detail if detail else ''})"
    return text[:300]
