"""Interleaving against A/B in one world (recsys.experiment.sensitivity): both designs run from the
same post-warm-up state on the same users, and each equals the run its command would make."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.experiment.config import ExperimentConfig
from recsys.experiment.interleave import run_interleaving
from recsys.experiment.runner import run_experiment
from recsys.experiment.sensitivity import paired_designs
from recsys.stats.analysis import analyze
from recsys.stats.interleaving import preference_test

RANKERS = {"popularity": ("popularity", {}), "random": ("random", {})}
WORLD = {"experiment": {"users": 400, "days": 2, "warmup_days": 7}, "world": {"titles": 300, "cast": 150}}


def test_paired_designs_equal_the_ab_and_the_interleaving_run_on_their_own():
    cfg = ExperimentConfig.from_dict(WORLD)
    # the same pair twice: the second must start from the same state as the first
    rows = paired_designs(cfg, RANKERS, [("popularity", "random"), ("popularity", "random")])
    assert list(rows["design"]) == ["ab", "interleaving", "interleaving_diff"] * 2
    first, again = rows.iloc[:3].reset_index(drop=True), rows.iloc[3:].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again)
    assert rows["users"].nunique() == 1                    # both designs on the same users

    alone = ExperimentConfig.from_dict({**WORLD, "arms": [
        {"name": "popularity", "policy": "popularity", "share": 0.5},
        {"name": "random", "policy": "random", "share": 0.5}]})
    ab = analyze(run_experiment(alone).table, "popularity", metrics=["ctr"], cuped=alone.cuped,
                 seed=alone.seed).row("ctr", "random")
    assert first.loc[0, "effect"] == pytest.approx(ab["diff"]) and first.loc[0, "se"] == pytest.approx(ab["se"])
    il = run_interleaving(alone).table
    p = preference_test(il["clicks_a"], il["clicks_b"])
    assert first.loc[1, "effect"] == pytest.approx(-p.delta) and first.loc[1, "se"] == pytest.approx(p.se)
    assert first.loc[2, "effect"] == pytest.approx(-p.diff)
    assert first.loc[0, "users"] == len(il) and np.isfinite(first["p_value"]).all()
