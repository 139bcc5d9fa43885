"""Position bias is real and recoverable from clicks, as click-model papers recover it from swap data.

Under a policy that places random titles at random slots, what a title is worth does not depend
on its slot, so first clicks per session that *reached* a slot (no click earlier) fall with the
slot exactly as the configured examination probability does. The estimate is CTR(slot) / CTR(first slot), whose configured value is
row_examination x position_examination (the first slot is always examined).
"""

import dataclasses

import numpy as np
from scipy import stats

from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.runner import run_experiment

KEY = ["user_id", "day", "session"]


def examination_from_clicks(impressions, rows: int, row_length: int):
    """Relative examination per slot from the impression log alone: (estimate, standard error).

    Cascade-model estimator: a session *reaches* slot s with no click before it; the first
    click's slot then has P(first click at s | reached s) = examination(s) x mean click
    probability, the latter the same at every slot under random placement. (A click may end the
    browsing, so later clicks are not counted.)
    """
    S = rows * row_length
    imp = impressions.assign(slot=impressions["row"].astype(int) * row_length + impressions["position"].astype(int))
    first = imp[imp["clicked"]].groupby(KEY)["slot"].min().rename("first").reset_index()
    sessions = imp[KEY].drop_duplicates().merge(first, on=KEY, how="left")
    stop = sessions["first"].fillna(S).to_numpy().astype(np.int64)
    reached = np.cumsum(np.bincount(stop, minlength=S + 1)[::-1])[::-1][:S]  # sessions with first click >= slot
    clicks = np.bincount(stop[stop < S], minlength=S)
    ctr = clicks / reached
    est = ctr / ctr[0]
    se = est * np.sqrt((1 - ctr) / clicks + (1 - ctr[0]) / clicks[0])
    return est, se


def test_clicks_per_position_recover_the_configured_examination_curve():
    cfg = ExperimentConfig()
    n = 6000
    cfg = dataclasses.replace(cfg, users=n, days=7, warmup_days=7, seed=5,
                              world=dataclasses.replace(cfg.world, users=n, titles=1000),
                              arms=(ArmConfig("random", "random", 0.5), ArmConfig("random-b", "random", 0.5)),
                              control="random").validate()
    res = run_experiment(cfg)
    w = res.world.config
    est, se = examination_from_clicks(res.logs.impressions, w.rows, w.row_length)
    truth = np.outer(w.row_examination, w.position_examination).ravel()
    z = stats.norm.ppf(1 - 0.05 / (2 * len(truth)))          # Bonferroni over the slots
    low, high = est - z * se, est + z * se
    outside = np.flatnonzero((truth < low) | (truth > high))
    assert len(outside) == 0, [(int(s), truth[s], est[s], se[s]) for s in outside]
    assert (z * se < 0.12).all()                              # the intervals are tight enough to mean something
    flat = np.ones_like(truth)                                # no position bias would be rejected
    assert ((flat < low) | (flat > high)).sum() >= 30
