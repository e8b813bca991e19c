"""Comparing two runs claim by claim: alignment, classification, reports.

- `align`: match run B's claims to run A's per article (the eval matcher) and
  classify each row unchanged / changed (which fields) / added / removed.
- `document`: the stable JSON document, with metric deltas against gold.
- `render`: terminal summary, JSON and Markdown; `html`: the review page.
- `execute`: run two prompt versions for `extractor diff --prompts`.
"""

from __future__ import annotations

from .align import (
    CHANGE_FIELDS,
    STATUSES,
    ArticleDiff,
    ClaimRow,
    align_claims,
    changed_fields,
    diff_article,
    diff_predictions,
)
from .document import DIFF_VERSION, build_diff

__all__ = [
    "CHANGE_FIELDS",
    "DIFF_VERSION",
    "STATUSES",
    "ArticleDiff",
    "ClaimRow",
    "align_claims",
    "build_diff",
    "changed_fields",
    "diff_article",
    "diff_predictions",
]
