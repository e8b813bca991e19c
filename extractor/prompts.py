"""Versioned prompt files: load, validate, render, hash.

A prompt lives in `prompts/<id>/v<N>.md`: YAML front matter, then sections
headed `# system`, `# user`, and optional pairs of `# example user` /
`# example assistant` (few-shot turns). Templates use `{{name}}` placeholders;
the names a strategy supplies are listed in `STRATEGY_VARIABLES`, and any other
name is an error that names the file and line.

Released versions are immutable: a change is a new file `v<N+1>.md`. The
content hash (sha256 of the file bytes) is recorded in every run.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, UsageError

StrategyName = Literal["whole", "passages"]

STRATEGY_VARIABLES: dict[str, set[str]] = {
    "whole": {"title", "article"},
    "passages": {"title", "context", "passage"},
}
_SECTION = re.compile(r"^#\s+(system|user|example user|example assistant)\s*$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_REF = re.compile(r"^(?P<id>[a-z0-9][a-z0-9_-]*)@v(?P<version>\d+)$")


class PromptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=800, ge=16, le=16384)
    seed: int = 0


class PromptOptions(BaseModel):
    """How the strategy cuts the article and what the model is asked for."""

    model_config = ConfigDict(extra="forbid")

    # "claims": the model returns full claims; "labels": it labels one passage
    # (speaker, type, target, stance, conditions) and the tool derives the rest.
    response: Literal["claims", "labels"] = "claims"
    # Where `labels` conditions come from: the model, clause rules, or both.
    conditions: Literal["model", "rules", "both"] = "model"
    # When the model answers speaker "none" for a passage the detector found
    # attributed: drop it, or keep it with the rule-guessed speaker as neutral.
    no_speaker: Literal["drop", "rules"] = "drop"
    max_claims: int = Field(default=3, ge=1, le=100)
    max_sentences: int = Field(default=3, ge=1, le=20)
    max_chars: int = Field(default=700, ge=50, le=20000)
    context_sentences: int = Field(default=1, ge=0, le=10)
    chunk_chars: int = Field(default=6000, ge=500, le=200000)
    overlap_chars: int = Field(default=600, ge=0, le=20000)


class PromptMeta(BaseModel):
    """The front matter of a prompt file."""

    model_config = ConfigDict(extra="forbid")

    id: str
    version: int = Field(ge=1)
    schema_version: int = Field(ge=1)
    strategy: StrategyName
    changelog: str = Field(min_length=1)
    params: PromptParams = Field(default_factory=PromptParams)
    options: PromptOptions = Field(default_factory=PromptOptions)


@dataclass(frozen=True)
class Prompt:
    meta: PromptMeta
    system: str
    user: str
    examples: tuple[tuple[str, str], ...]
    path: Path
    sha256: str
    text: str = field(repr=False)

    @property
    def ref(self) -> str:
        return f"{self.meta.id}@v{self.meta.version}"

    def messages(self, variables: dict[str, str]) -> list[dict[str, str]]:
        """Chat messages for one call. Article text only ever enters as a variable
        value inside the user turn, never into the system turn."""
        messages = [{"role": "system", "content": self.system}]
        for example_user, example_assistant in self.examples:
            messages.append({"role": "user", "content": example_user})
            messages.append({"role": "assistant", "content": example_assistant})
        messages.append({"role": "user", "content": render(self.user, variables)})
        return messages


def render(template: str, variables: dict[str, str]) -> str:
    # A single pass, so `{{...}}` inside an article is never expanded again.
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), ""), template)


def prompts_dir() -> Path:
    """`$EXTRACTOR_PROMPTS`, else ./prompts, else the prompts beside the package."""
    env = os.environ.get("EXTRACTOR_PROMPTS")
    if env:
        return Path(env)
    here = Path.cwd() / "prompts"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "prompts"


def parse_prompt(path: Path) -> Prompt:
    """Parse and validate a prompt file; `ConfigError` names file, line and field."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read prompt file ({exc})") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ConfigError(f"{path}:1: prompt file must start with '---' front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ConfigError(f"{path}:1: front matter is not closed with '---'") from None
    try:
        front = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 1
        raise ConfigError(f"{path}:{line}: front matter is not valid YAML") from None
    if not isinstance(front, dict):
        raise ConfigError(f"{path}:2: front matter must be a mapping")
    try:
        meta = PromptMeta.model_validate(front)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        line = next(
            (i + 2 for i, ln in enumerate(lines[1:end]) if ln.split(":")[0].strip() == str(first["loc"][0])),
            2,
        )
        raise ConfigError(f"{path}:{line}: field '{name}': {first['msg']}") from None

    sections: list[tuple[str, int, list[str]]] = []
    for number, line in enumerate(lines[end + 1 :], start=end + 2):
        match = _SECTION.match(line)
        if match:
            sections.append((match.group(1).lower(), number, []))
        elif sections:
            sections[-1][2].append(line)
        elif line.strip():
            raise ConfigError(f"{path}:{number}: text before the first '# system' section")
    bodies: dict[str, str] = {}
    examples: list[tuple[str, str]] = []
    pending_user: str | None = None
    allowed = STRATEGY_VARIABLES[meta.strategy]
    for name, number, body_lines in sections:
        body = "\n".join(body_lines).strip()
        if not body:
            raise ConfigError(f"{path}:{number}: section '# {name}' is empty")
        if name in ("system", "user"):
            if name in bodies:
                raise ConfigError(f"{path}:{number}: section '# {name}' appears twice")
            bodies[name] = body
            for offset, body_line in enumerate(body_lines, start=1):
                for var in _PLACEHOLDER.findall(body_line):
                    if name == "system" or var not in allowed:
                        raise ConfigError(
                            f"{path}:{number + offset}: unknown variable '{{{{{var}}}}}' in '# {name}'"
                            f" (strategy '{meta.strategy}' provides: {', '.join(sorted(allowed))})"
                        )
        elif name == "example user":
            if pending_user is not None:
                raise ConfigError(f"{path}:{number}: '# example user' without its '# example assistant'")
            pending_user = body
        else:
            if pending_user is None:
                raise ConfigError(f"{path}:{number}: '# example assistant' without '# example user'")
            examples.append((pending_user, body))
            pending_user = None
    if pending_user is not None:
        raise ConfigError(f"{path}: last '# example user' has no '# example assistant'")
    for required in ("system", "user"):
        if required not in bodies:
            raise ConfigError(f"{path}: missing section '# {required}'")
    expected = f"v{meta.version}.md"
    if path.name != expected or path.parent.name != meta.id:
        raise ConfigError(
            f"{path}: file must be prompts/{meta.id}/{expected} to match its front matter (id, version)"
        )
    return Prompt(
        meta=meta,
        system=bodies["system"],
        user=bodies["user"],
        examples=tuple(examples),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        text=text,
    )


def parse_ref(ref: str) -> tuple[str, int]:
    match = _REF.match(ref.strip())
    if not match:
        raise UsageError(f"bad prompt reference '{ref}': expected ID@vN, e.g. claims@v1")
    return match.group("id"), int(match.group("version"))


def load_prompt(ref: str, directory: Path | None = None) -> Prompt:
    prompt_id, version = parse_ref(ref)
    directory = directory or prompts_dir()
    path = directory / prompt_id / f"v{version}.md"
    if not path.exists():
        known = ", ".join(p.ref for p in list_prompts(directory)) or "none"
        raise UsageError(f"unknown prompt '{ref}' (known: {known})")
    return parse_prompt(path)


def list_prompts(directory: Path | None = None) -> list[Prompt]:
    directory = directory or prompts_dir()
    found = []
    for path in sorted(directory.glob("*/v*.md")):
        found.append(parse_prompt(path))
    return sorted(found, key=lambda p: (p.meta.id, p.meta.version))


DEFAULT_PROMPT = "claims@v4"
