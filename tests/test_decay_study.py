"""The world decay study's machinery (``recsys.experiment.decay_study``, ``benchmarks/decay_world.py``)
on hand-made records; the study itself runs in the slow ``tests/world/test_decay_world.py``."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from recsys.experiment.decay_study import COMPARISONS, flag_rate, pooled_lifts, study_config, summarise


def test_the_null_arms_are_one_frozen_policy_twice():
    cfg = study_config(5, 900, False)
    arms = {a.name: a for a in cfg.arms}
    control, treatment = COMPARISONS["aa"]
    assert arms[control].policy == arms[treatment].policy and arms[control].params == arms[treatment].params
    assert arms[control].params["artwork"] == "fixed"
    assert all(cfg.refit_every(a) == 0 for a in cfg.arms)
    # off: no reaction from day 0, the warm-up as with it on
    assert cfg.world.behaviour.change_reaction and cfg.world.behaviour.change_reaction_until == 0
    assert study_config(5, 900, True).world.behaviour.change_reaction_until is None


def test_flag_rate_is_clopper_pearson():
    f = flag_rate(np.array([True] * 7 + [False] * 93))
    low, high = proportion_confint(7, 100, alpha=0.05, method="beta")
    assert (f["n"], f["k"]) == (100, 7) and f["rate"] == 0.07
    assert f["low"] == pytest.approx(low, abs=1e-9) and f["high"] == pytest.approx(high, abs=1e-9)


def _by_k(ctr: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """1,000 impressions per arm and day 1..14; CTR (early days 1-3, other days) per arm."""
    rows = [{"seed": 1, "reaction": r, "arm": arm, "day": d, "impressions": 1000.0,
             "clicks": 1000.0 * (e if d <= 3 else l)}
            for r in (False, True) for arm, (e, l) in ctr.items() for d in range(1, 15)]
    return pd.DataFrame(rows)


def test_pooled_lifts_by_window():
    k = _by_k({"popularity": (0.10, 0.10), "hybrid": (0.15, 0.12), "hybrid_b": (0.15, 0.12)})
    early, late = pooled_lifts(k[~k["reaction"]], "popularity", "hybrid")
    assert early == pytest.approx(0.5) and late == pytest.approx(0.2)


def test_summary_flags_spread_and_steady_state_coverage():
    rng = np.random.default_rng(0)
    recs = []
    for seed in range(40):
        for reaction in (False, True):
            for comp in COMPARISONS:
                lr = rng.normal(0.05 * reaction, 0.1)
                status = "stable" if seed % 10 else ("growing" if comp == "hp" else "decaying")
                late = 0.3 + 0.01 * seed
                recs.append({"seed": seed, "reaction": reaction, "comparison": comp, "early": 0.2, "late": late,
                             "late_low": late - 0.05 + (0.2 if reaction and seed < 4 else 0),
                             "late_high": late + 0.05 + (0.2 if reaction and seed < 4 else 0),
                             "log_ratio": lr, "se": 0.05, "p_value": 0.5, "status": status, "cohort_users": 300})
    recs = pd.DataFrame(recs)
    rows = {(r["reaction"], r["comparison"]): r for r in
            summarise(recs, _by_k({"popularity": (0.1, 0.1), "hybrid": (0.1, 0.1), "hybrid_b": (0.1, 0.1)}))}
    assert len(rows) == 4
    off, on = rows[(False, "aa")], rows[(True, "hp")]
    assert off["flagged"]["k"] == 4 and off["decaying"] == 0.1 and on["growing"] == 0.1
    g = recs[(recs["reaction"] == False) & (recs["comparison"] == "aa")]["log_ratio"]  # noqa: E712
    assert off["spread_over_se"] == pytest.approx(g.std(ddof=1) / 0.05)
    assert off["mean_log_ratio_se"] == pytest.approx(g.std(ddof=1) / np.sqrt(40))
    assert "steady_state_covered" not in off
    assert on["steady_state_covered"]["k"] == 36          # the first 4 seeds' intervals miss the truth
    paired = (recs[(recs["reaction"] == True) & (recs["comparison"] == "hp")]["log_ratio"].to_numpy()  # noqa: E712
              - recs[(recs["reaction"] == False) & (recs["comparison"] == "hp")]["log_ratio"].to_numpy())  # noqa: E712
    assert on["reaction_log_ratio"] == pytest.approx(paired.mean())
