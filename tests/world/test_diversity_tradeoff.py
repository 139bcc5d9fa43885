"""The diversity trade-off and the feedback loop, as the sweeps measure them (slow: paired sweeps
of a few thousand users; figures quoted in docs/tune.md and docs/world.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from recsys.core.config import read_toml
from recsys.tune import TuneConfig, default_config
from recsys.tune.analysis import analyse_sweep
from recsys.tune.sweep import replicate_tasks, run_replicate

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def sweep(cfg: TuneConfig):
    return analyse_sweep(cfg, [run_replicate(t) for t in replicate_tasks(cfg)])


def test_diversity_costs_clicks_now_pays_in_minutes_and_new_users_want_more_than_power_users():
    """The default sweep's design on four of its worlds of 6,000 users (half the default's
    replicates; about 5 minutes): CTR falls with every step of the weight, watch minutes over the
    28 days peak inside the grid with an interval that excludes both its ends, and new users'
    peak lies beyond power users' (habitual viewers tolerate more of one genre), by the test of
    the difference of the two peaks, significant after Holm over the sweep's pairs."""
    base = default_config()
    cfg = TuneConfig(base.experiment, dataclasses.replace(base.tune, replicates=4)).validate()
    out = sweep(cfg)
    t = out.table[(out.table["segment"] == "all") & (out.table["variant"] == out.main_variant)].set_index(["metric", "arm"])
    ctr = [t.loc[("ctr", a), "mean"] for a in cfg.arm_names]
    assert all(later < earlier for earlier, later in zip(ctr, ctr[1:])), ctr
    peaks = out.summary["peaks"]
    every = peaks["segments"]["all"]
    assert every["peak"] and every["within_grid"], every
    assert 0.0 < every["ci_low"] < every["weight"] < every["ci_high"] < 2.0
    new, power = peaks["segments"]["new"], peaks["segments"]["power"]
    pair = next(d for d in peaks["differences"] if {d["a"], d["b"]} == {"new", "power"})
    print(f"\nall {every['weight']:.2f} [{every['ci_low']:.2f}, {every['ci_high']:.2f}]; new {new['weight']:.2f}, "
          f"power {power['weight']:.2f}; {pair['a']} - {pair['b']} {pair['diff']:+.2f} p {pair['p_value']:.2g} "
          f"Holm {pair['p_holm']:.2g}")
    assert pair["test"] == "peaks" and pair["p_holm"] < 0.05, pair
    assert new["weight"] > power["weight"]
    assert out.summary["optimum_differs_between_segments"] is True


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
