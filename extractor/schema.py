"""Versioned pydantic models for claims, and their JSON Schema export.

Version 1 of the schema. A change to any model here is a new schema version
(new models, new exported files), never an edit in place: `tests/test_schema.py`
fails when `schemas/*.json` drifts from these models.

Three layers:
- `ClaimDraft`: what a model (or an annotator) says about one claim.
- `Claim`: a draft plus what the tool adds: `evidence_span` and `grounding`.
- `ArticleExtraction`: one article's claims plus run metadata; one JSONL line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Stance = Literal["support", "oppose", "neutral", "mixed"]
SpeakerType = Literal["person", "organization", "government", "media", "other"]
Attribution = Literal["direct", "indirect"]
GroundingStatus = Literal["exact", "fuzzy", "unaligned"]

STANCES: tuple[Stance, ...] = ("support", "oppose", "neutral", "mixed")


class ClaimDraft(BaseModel):
    """One claim as a model or an annotator states it, before grounding."""

    model_config = ConfigDict(extra="forbid")

    speaker: str = Field(description="Canonical name, as the article gives it at its fullest.")
    speaker_aliases: list[str] = Field(
        default_factory=list, description="Other names the article uses for the speaker."
    )
    speaker_type: SpeakerType = Field(description="person, organization, government, media or other.")
    target: str = Field(description="What the stance is about: a short noun phrase.")
    claim: str = Field(description="A self-contained one-sentence paraphrase.")
    stance: Stance = Field(description="The speaker's stance toward the target.")
    conditions: list[str] = Field(
        default_factory=list,
        description="Conditions the speaker attaches (until / once / if / unless / only after).",
    )
    attribution: Attribution = Field(description="direct (quoted) or indirect (reported).")
    evidence: str = Field(description="Verbatim supporting text copied from the article.")


class ClaimList(BaseModel):
    """The response a model must return for one article, chunk or passage."""

    model_config = ConfigDict(extra="forbid")

    claims: list[ClaimDraft]


class PassageLabel(BaseModel):
    """The compact response of the `labels` response kind: the model judges one
    passage; evidence, attribution and the paraphrase are derived by the tool."""

    model_config = ConfigDict(extra="forbid")

    speaker: str = Field(description='Who makes the claim, as fully named as the article allows; "none" if nobody identifiable.')
    speaker_type: SpeakerType
    target: str = Field(description="What the stance is about: a short noun phrase.")
    stance: Stance
    conditions: list[str] = Field(default_factory=list, description="Conditions the speaker attaches, or [].")


class Span(BaseModel):
    """Half-open character interval `[start, end)` into the article text."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Claim(ClaimDraft):
    """A claim with the grounding the tool computed (never the model)."""

    evidence_span: Span | None = Field(
        default=None, description="Offsets of the evidence in the article; null when unaligned."
    )
    grounding: GroundingStatus = Field(description="exact, fuzzy or unaligned.")


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls


class ArticleExtraction(BaseModel):
    """One article's extraction: a line of `extractions.jsonl`.

    Deterministic for a given article, prompt and set of responses (no timings,
    no cache flags), so a replayed run reproduces the recorded file byte for byte.
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    article_id: str
    article_sha256: str = Field(description="sha256 of the article text the offsets refer to.")
    claims: list[Claim]
    prompt: str = Field(description="Prompt reference, e.g. claims@v1.")
    model: str
    usage: Usage = Field(default_factory=Usage)
    dropped: dict[str, int] = Field(
        default_factory=dict, description="Claims dropped after re-asking, by reason."
    )


class GoldFile(BaseModel):
    """A hand-labelled gold file: `evals/gold/<article_id>.json`."""

    model_config = ConfigDict(extra="forbid")

    article_id: str
    annotator: str
    claims: list[ClaimDraft]


EXPORTED_MODELS: dict[str, type[BaseModel]] = {
    "article_extraction": ArticleExtraction,
    "claim_list": ClaimList,
    "passage_label": PassageLabel,
    "gold": GoldFile,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema for every exported model of this schema version."""
    return {
        f"{name}.v{SCHEMA_VERSION}.json": model.model_json_schema()
        for name, model in EXPORTED_MODELS.items()
    }


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_schemas(directory: Path) -> list[Path]:
    """Write the JSON Schemas into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in json_schemas().items():
        path = directory / filename
        path.write_text(render_schema(schema), encoding="utf-8")
        written.append(path)
    return written
