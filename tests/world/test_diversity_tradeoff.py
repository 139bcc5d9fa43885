"""The diversity trade-off and the feedback loop, as the sweeps measure them (slow: paired sweeps
of a few thousand users; figures quoted in docs/tune.md and docs/world.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from recsys.core.config import read_toml
from recsys.tune import Grid, TuneConfig, default_config
from recsys.tune.analysis import analyse_sweep
from recsys.tune.sweep import replicate_tasks, run_replicate

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def sweep(cfg: TuneConfig):
    return analyse_sweep(cfg, [run_replicate(t) for t in replicate_tasks(cfg)])


def test_diversity_costs_clicks_now_and_pays_in_minutes_with_an_interior_peak():
    """The default sweep's design on one world of its 6,000 users: CTR falls with every step of the
    weight, and watch minutes over the 28 days peak inside the grid with an interval that
    excludes both its ends."""
    base = default_config()
    tune = dataclasses.replace(base.tune, replicates=1, static_baseline=False, grid=Grid(diversity=(0.0, 0.5, 1.0, 1.5, 2.0)))
    cfg = TuneConfig(base.experiment, tune).validate()
    out = sweep(cfg)
    t = out.table[(out.table["segment"] == "all") & (out.table["variant"] == out.main_variant)].set_index(["metric", "arm"])
    ctr = [t.loc[("ctr", a), "mean"] for a in cfg.arm_names]
    assert all(later < earlier for earlier, later in zip(ctr, ctr[1:])), ctr
    peak = out.summary["peaks"]["segments"]["all"]
    assert peak["peak"] and peak["within_grid"], peak
    assert 0.0 < peak["ci_low"] < peak["weight"] < peak["ci_high"] < 2.0


def test_retraining_homogenises_and_audience_diversity_counters_it():
    """Chaney et al.'s loop, as `experiments/tune_feedback_loop.toml` runs it (random start-up,
    audience MMR, paired): retraining on the arm's own logs raises homogenisation at weight 0,
    and the weight lowers it, each with an interval that excludes 0."""
    cfg = TuneConfig.from_dict(read_toml(ROOT / "experiments" / "tune_feedback_loop.toml"))
    h = sweep(cfg).summary["homogenization"]
    effect = h["retrain_effect"][cfg.control]
    assert effect["ci_low"] > 0, effect
    slope = h["slope_interval"]["retrained"]
    assert slope["ci_high"] < 0, slope
