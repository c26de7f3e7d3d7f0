"""Synthetic PMU days with a known truth: a persistent world of horses and people, races drawn
from known win probabilities, a noisy pari-mutuel market, written in the replay layout.

`generate(start, end, out, seed=0, meetings_per_day=...)` is the entry point (see synth.days).
"""

from synth.days import generate
from synth.truth import read_truth
from synth.world import SynthConfig

__all__ = ["SynthConfig", "generate", "read_truth"]
