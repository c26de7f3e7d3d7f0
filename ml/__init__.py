"""Win probabilities per race: datasets from the feature marts, conditional-logit and LightGBM models,
calibration, the market combination (Benter 1994), walk-forward evaluation, a model registry and
scoring. Plain functions and small classes: no Dagster imports here (orchestration wraps them)."""
