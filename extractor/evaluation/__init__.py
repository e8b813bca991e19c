"""Evaluation of extraction runs against hand-labelled gold.

- `matching`: one-to-one claim matching (reused by run-vs-run `diff`).
- `metrics`: claim, speaker, stance, condition and grounding scores.
- `report`: table, JSON and Markdown renderings of a report document.
- `baseline`: the regression gate against a stored baseline.
"""

from __future__ import annotations

from .matching import LENIENT, STRICT, MatchPair, MatchThreshold, match_claims, speakers_agree
from .metrics import evaluate

__all__ = ["LENIENT", "STRICT", "MatchPair", "MatchThreshold", "evaluate", "match_claims", "speakers_agree"]
