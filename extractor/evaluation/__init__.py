"""Evaluation of extraction runs against hand-labelled gold.

Import the submodules directly; this package imports nothing, so commands
that only need speaker-name matching (the run store) do not load numpy.

- `matching`: one-to-one claim matching (reused by run-vs-run `diff`).
- `metrics`: claim, speaker, stance, condition and grounding scores.
- `report`: table, JSON and Markdown renderings of a report document.
- `baseline`: the regression gate against a stored baseline.
"""
