"""The no-model floor: what rules alone score, so a model must beat it to earn its calls.

Same passages and derived fields as prompt claims@v2, but the "model" is a rule:
the speaker is the nearest capitalised name before a reporting verb (else after
it), the type is "person", the target is empty-ish, and the stance is always
"neutral"; conditions come from if/until/unless clauses.

    python benchmarks/regex_floor.py seeds evals/articles -o runs/regex-floor
    extractor eval runs/regex-floor --gold evals/gold
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from extractor.articles import Article, read_articles
from extractor.derive import (
    conditions_in,
    evidence_in_unit,
    guess_speaker,
    paraphrase,
    speaker_aliases,
)
from extractor.schema import ArticleExtraction, Claim, Span
from extractor.strategies import passage_units


def floor_claims(article: Article) -> list[Claim]:
    claims = []
    for unit in passage_units(article.text):
        speaker = guess_speaker(unit.text)
        if not speaker:
            continue
        evidence = evidence_in_unit(article.text, unit)
        text = article.text[evidence.start : evidence.end]
        claims.append(
            Claim(
                speaker=speaker,
                speaker_aliases=speaker_aliases(article.text, speaker),
                speaker_type="person",
                target="(unknown)",
                claim=paraphrase(speaker, text, evidence.direct),
                stance="neutral",
                conditions=conditions_in(text),
                attribution="direct" if evidence.direct else "indirect",
                evidence=text,
                evidence_span=Span(start=evidence.start, end=evidence.end),
                grounding="exact",
            )
        )
    return claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    with (args.output / "extractions.jsonl").open("w", encoding="utf-8") as out:
        for item in read_articles(args.paths):
            if not isinstance(item, Article):
                continue
            record = ArticleExtraction(
                article_id=item.id, article_sha256=item.sha256, claims=floor_claims(item),
                prompt="regex-floor", model="rules",
            )
            out.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
    (args.output / "failures.jsonl").write_text("")
    (args.output / "manifest.json").write_text(
        json.dumps({"status": "complete", "model": {"model": "rules"}, "inputs": [str(p) for p in args.paths]}, indent=2)
    )
    print(args.output)


if __name__ == "__main__":
    main()
