"""Running two prompt versions over the same articles, for `extractor diff --prompts`.

`make_provider` is the provider set-up of `extractor extract` (model id,
`--base-url`, replay stores, response cache, `--record`), factored so both
commands build providers the same way.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..articles import InputProblem
from ..cache import CachedProvider, ResponseStore
from ..errors import UsageError
from ..llm import Provider
from ..pipeline import ArticleResult, ExtractOptions, Extractor
from ..prompts import load_prompt
from ..providers import build_provider, default_replay_stores
from ..runner import RunSummary, execute_run
from ..runs import RunDir


@dataclass(frozen=True)
class ProviderSettings:
    model_id: str
    base_url: str | None = None
    api_key: str | None = None
    cache_dir: Path | None = None  # None: --no-cache
    replay_dirs: tuple[Path, ...] = ()
    record_dir: Path | None = None
    timeout: float = 60.0
    max_attempts: int = 5


def make_provider(settings: ProviderSettings) -> Provider:
    """A provider as `extractor extract` builds it: cached unless replaying, recorded with --record."""
    cache = ResponseStore(settings.cache_dir) if settings.cache_dir is not None else None
    provider = build_provider(
        settings.model_id,
        base_url=settings.base_url,
        api_key=settings.api_key,
        replay_stores=default_replay_stores(list(settings.replay_dirs), cache.root if cache else None),
        timeout=settings.timeout,
        max_attempts=settings.max_attempts,
    )
    record = ResponseStore(settings.record_dir) if settings.record_dir else None
    if not settings.model_id.startswith("replay"):
        read = [cache] if cache else []
        write = [s for s in (cache, record) if s]
        return CachedProvider(provider, read, write)
    if record:
        return CachedProvider(provider, [], [record])
    return provider


def run_folder_name(prompt_ref: str) -> str:
    return prompt_ref.replace("@", "-").replace("/", "-")


def default_output_dir(root: Path = Path("runs")) -> Path:
    """A fresh folder under runs/ for the two runs of a prompt diff."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"diff-{stamp}-", dir=root))


def run_prompt_versions(
    prompt_refs: Sequence[str],
    inputs: Sequence[Path],
    out_dir: Path,
    settings: ProviderSettings,
    options: ExtractOptions,
    on_progress: Callable[[ArticleResult | InputProblem], None] | None = None,
) -> list[tuple[Path, RunSummary]]:
    """Extract `inputs` once per prompt version into `out_dir/<id>-v<N>`.

    A folder that already holds a run of the same prompt and model is resumed
    (finished articles are kept, so a repeated diff costs no model calls); a
    different prompt or model there is a usage error.
    """
    prompts = [load_prompt(ref) for ref in prompt_refs]
    if len({p.ref for p in prompts}) != len(prompts):
        raise UsageError("--prompts: give two different prompt versions")
    results = []
    for prompt in prompts:
        run_dir = out_dir / run_folder_name(prompt.ref)
        extractor = Extractor(prompt, make_provider(settings), options)
        summary = execute_run(extractor, list(inputs), run_dir, resume=RunDir(run_dir).exists(), on_progress=on_progress)
        results.append((run_dir, summary))
    return results
