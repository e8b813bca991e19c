"""The model registry: a model id chooses a backend.

| id                         | backend                                       | key            |
|----------------------------|-----------------------------------------------|----------------|
| `local/qwen2.5-coder-1.5b` | in-process llama-cpp-python (default)         | none           |
| `local/<path>.gguf`        | any GGUF file, in process                     | none           |
| `openai/<model>`           | OpenAI, or any compatible server `--base-url` | OPENAI_API_KEY |
| `<model>` + `--base-url`   | an OpenAI-compatible server (Ollama, vLLM...) | optional       |
| `replay[/<model id>]`      | recorded responses only                       | none           |

Only the CLI and the benchmark scripts import this package; the core receives a
`Provider` instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..cache import ResponseStore
from ..errors import UsageError
from ..llm import Provider
from .local import DEFAULT_LOCAL_MODEL, PACKAGED_MODELS

DEFAULT_MODEL = DEFAULT_LOCAL_MODEL


@dataclass(frozen=True)
class ModelInfo:
    id: str
    backend: str
    needs_key: str | None
    note: str


def known_models() -> list[ModelInfo]:
    models = [
        ModelInfo(f"local/{name}", "llama-cpp-python", None, "embedded default" if f"local/{name}" == DEFAULT_MODEL else "")
        for name in PACKAGED_MODELS
    ]
    models.append(ModelInfo("local/<path>.gguf", "llama-cpp-python", None, "any GGUF file"))
    models.append(ModelInfo("openai/<model>", "openai", "OPENAI_API_KEY", "or --api-key; --base-url for compatible servers"))
    models.append(ModelInfo("<model> --base-url URL", "openai-compatible", None, "Ollama, vLLM, llama.cpp server, LM Studio"))
    models.append(ModelInfo("replay[/<model id>]", "recorded responses", None, "fails on a cache miss"))
    return models


def build_provider(
    model_id: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    replay_stores: list[ResponseStore] | None = None,
    timeout: float = 60.0,
    max_attempts: int = 5,
) -> Provider:
    """A provider for `model_id`; raises `UsageError` for an unknown id."""
    model_id = model_id.strip()
    if model_id == "replay" or model_id.startswith("replay/"):
        from .replay import ReplayProvider

        stores = replay_stores or []
        recorded = model_id.removeprefix("replay").removeprefix("/")
        if not recorded:
            found = sorted(set().union(*(s.models() for s in stores))) if stores else []
            if len(found) != 1:
                listing = ", ".join(found) or "none"
                raise UsageError(
                    f"replay: say which recorded model to replay with -m replay/<model> (recorded: {listing})"
                )
            recorded = found[0]
        return ReplayProvider(recorded, stores)
    if model_id.startswith("local/"):
        from .local import LocalProvider

        return LocalProvider(model_id.removeprefix("local/"))
    if model_id.startswith("openai/") or base_url:
        from .openai_compat import OpenAICompatibleProvider

        name = model_id.removeprefix("openai/")
        if not name:
            raise UsageError("give a model name, e.g. -m openai/gpt-4o-mini")
        return OpenAICompatibleProvider(
            name,
            model_id=model_id,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_attempts=max_attempts,
        )
    raise UsageError(
        f"unknown model '{model_id}': use local/<name>, openai/<model>, replay, or pass --base-url"
    )


def default_replay_stores(extra: list[Path], cache_dir: Path | None) -> list[ResponseStore]:
    dirs = list(extra)
    if not dirs and Path("evals/recordings").is_dir():
        dirs.append(Path("evals/recordings"))
    if cache_dir is not None and cache_dir not in dirs:
        dirs.append(cache_dir)
    return [ResponseStore(d) for d in dirs]
