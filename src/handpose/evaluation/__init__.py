"""Scoring predictions: file readers (:mod:`.formats`), the depth-benchmark protocol (:mod:`.evaluator`), figures (:mod:`.plots`).

The metrics themselves are pure functions in :mod:`handpose.metrics`; ``docs/evaluation.md`` states every
protocol and convention with its source. Submodules are imported on use, so importing this package is cheap.
"""
