// Declarative rule evaluation (thresholds, combinations, time windows). See docs/compositions.md.
