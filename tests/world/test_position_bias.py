"""Position bias is real and recoverable from randomised logs, as click-model papers recover it from swap data.

Under a policy that places random titles at random slots, what a title is worth does not depend
on its slot. The configured examination curve is row_examination x position_examination (the
first slot is always examined) under both examination models of the world:

* ``position`` (slot by slot): first clicks per session that *reached* a slot (no click
  earlier) fall with the slot exactly as the examination probability does, so CTR(slot) /
  CTR(first slot) estimates it from clicks alone;
* ``cascade`` (the default: rows top to bottom, cards left to right): what is seen is a block,
  so that estimator is biased (a session that saw far had more chances to click early), and the
  curve is recovered from the impression log (examined cards) instead, as the product of the
  steps of going on: down from row r to r+1, and along a row from card p to p+1, each among
  sessions with no click so far.
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


def cascade_examination(impressions, rows: int, row_length: int):
    """Relative examination per slot from the impression log of a cascade: (estimate, standard error).

    Going down from row r to r+1 is estimated among sessions that saw row r's first card and
    clicked nothing in rows 0..r; going along row r from card p to p+1 among sessions that saw
    card p and clicked nothing up to it. Both steps are independent of what came before in the
    world's cascade, so the product of the steps is the examination probability; its standard
    error is the delta method's on the log scale (binomial steps)."""
    S = rows * row_length
    imp = impressions.assign(slot=impressions["row"].astype(int) * row_length + impressions["position"].astype(int))
    key = imp.groupby(KEY, sort=False).ngroup().to_numpy()
    m = key.max() + 1
    seen = np.zeros((m, S), bool)
    seen[key, imp["slot"].to_numpy()] = True
    first = np.full(m, S)
    c = imp["clicked"].to_numpy()
    np.minimum.at(first, key[c], imp["slot"].to_numpy()[c])
    seen = seen.reshape(m, rows, row_length)
    slot = np.arange(S).reshape(rows, row_length)
    log_est = np.zeros((rows, row_length))
    log_var = np.zeros((rows, row_length))
    for r in range(rows):
        if r:
            base = seen[:, r - 1, 0] & (first > slot[r - 1, -1])       # no click in rows 0..r-1
            k, n = seen[base, r, 0].sum(), base.sum()
            log_est[r, 0] = log_est[r - 1, 0] + np.log(k / n)
            log_var[r, 0] = log_var[r - 1, 0] + (1 - k / n) / k
        for p in range(1, row_length):
            base = seen[:, r, p - 1] & (first > slot[r, p - 1])        # no click up to card p-1
            k, n = seen[base, r, p].sum(), base.sum()
            log_est[r, p] = log_est[r, p - 1] + np.log(k / n)
            log_var[r, p] = log_var[r, p - 1] + (1 - k / n) / k
    est = np.exp(log_est).ravel()
    return est, est * np.sqrt(log_var.ravel())


def _randomised_run(examination: str):
    cfg = ExperimentConfig()
    n = 6000
    cfg = dataclasses.replace(cfg, users=n, days=7, warmup_days=7, seed=5,
                              world=dataclasses.replace(cfg.world, users=n, titles=1000, examination=examination),
                              arms=(ArmConfig("random", "random", 0.5), ArmConfig("random-b", "random", 0.5)),
                              control="random").validate()
    return run_experiment(cfg)


def test_cascade_examination_curve_is_recovered_from_the_impression_log():
    res = _randomised_run("cascade")
    w = res.world.config
    truth = np.outer(w.row_examination, w.position_examination).ravel()
    est, se = cascade_examination(res.logs.impressions, w.rows, w.row_length)
    z = stats.norm.ppf(1 - 0.05 / (2 * len(truth)))
    low, high = est - z * se, est + z * se
    outside = np.flatnonzero((truth < low) | (truth > high))
    assert len(outside) == 0, [(int(s), truth[s], est[s], se[s]) for s in outside]
    assert (z * se < 0.12).all()
    assert ((np.ones_like(truth) < low) | (np.ones_like(truth) > high)).sum() >= 30
    # the slot-by-slot estimator from clicks does not fit a cascade: it falls too fast
    naive, naive_se = examination_from_clicks(res.logs.impressions, w.rows, w.row_length)
    assert ((truth < naive - z * naive_se) | (truth > naive + z * naive_se)).sum() >= 5


def test_clicks_per_position_recover_the_configured_examination_curve():
    res = _randomised_run("position")
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
