"""Weight verification for packaged GGUF models, on small stand-in files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from extractor.errors import ProviderError
from extractor.providers.local import PackagedModel, assemble_packaged_model, resolve_model_path


def _model(sha256: str, files: tuple[tuple[str, str], ...], size: int) -> PackagedModel:
    return PackagedModel("stand-in", "stand-in.gguf", files, size, sha256, "pip install stand-in")


def test_chunks_are_concatenated_in_order_and_verified(tmp_path: Path) -> None:
    parts = (("json", "__init__.py"), ("json", "decoder.py"))
    root = Path(__import__("json").__file__).parent
    data = (root / "__init__.py").read_bytes() + (root / "decoder.py").read_bytes()
    model = _model(hashlib.sha256(data).hexdigest(), parts, len(data))
    path = assemble_packaged_model(model, tmp_path)
    assert path.read_bytes() == data
    assert (tmp_path / "stand-in.gguf.verified").exists()
    assert assemble_packaged_model(model, tmp_path) == path  # second load trusts the stamp


def test_a_wrong_hash_is_refused_and_the_bad_file_removed(tmp_path: Path) -> None:
    parts = (("json", "__init__.py"), ("json", "decoder.py"))
    model = _model("0" * 64, parts, 1)
    with pytest.raises(ProviderError, match="sha256 mismatch"):
        assemble_packaged_model(model, tmp_path)
    assert not (tmp_path / "stand-in.gguf").exists()


def test_missing_package_says_how_to_install(tmp_path: Path) -> None:
    model = _model("0" * 64, (("no_such_package_xyz", "a.bin"), ("json", "x")), 1)
    with pytest.raises(ProviderError, match=r"missing package no-such-package-xyz\); install it with: pip install stand-in"):
        assemble_packaged_model(model, tmp_path)


def test_unknown_local_model_lists_the_known_ones() -> None:
    with pytest.raises(ProviderError, match=r"local/qwen2\.5-coder-1\.5b"):
        resolve_model_path("gpt-17")
