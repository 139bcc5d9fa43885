"""Closed-loop calibration of the issue-21 methods: many small experiments with a known truth.

Each replicate is an experiment of ``users`` users drawn by :func:`skewed_table` (the synthetic
per-user table with a persistent per-user "binge" factor on watch minutes, so the metric is as
skewed as real viewing: skewness ~10, a p99 about 9x the median). Under the null (A/A) every
method's false-positive rate should be alpha; with an additive shift of the treatment's watch
minutes the true difference of means *and of every quantile* is the shift, so interval
coverage can be counted. The slow tests (``pytest -m slow``) and
``benchmarks/stats_calibration.py`` run these functions with >= 1000 replicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.linear_model import LinearRegression

from recsys.stats.bayes import GaussianPrior, bayes_readout
from recsys.stats.capping import Cap, cap_table
from recsys.stats.estimate import Effect, two_arm_effect
from recsys.stats.group_sequential import design, equally_spaced
from recsys.stats.poststrat import poststratify
from recsys.stats.quantiles import quantile_test
from recsys.stats.regression import cupac_covariate, regression_effect
from recsys.stats.sequential import sequential_test
from recsys.stats.summary import MeanStats, summarize
from recsys.stats.synthetic import synthetic_table

ARMS = ("A", "B")
PRE_COVARIATES = ("pre_watch_minutes", "pre_plays", "pre_sessions", "pre_clicks", "pre_active_days")
CAP_LEVEL = 0.99


def skewed_table(n_users: int, seed: int, *, shift: float = 0.0, binge_sd: float = 0.6) -> pd.DataFrame:
    """:func:`~recsys.stats.synthetic.synthetic_table` with arms A and B, a persistent per-user
    lognormal factor (mean 1) on pre- and post-period watch minutes, and ``shift`` minutes added
    to every B user's watch minutes (the true effect on the mean and on every quantile)."""
    df = synthetic_table(n_users, ARMS, seed=seed)
    rng = np.random.default_rng([int(seed), 21])
    binge = rng.lognormal(-binge_sd ** 2 / 2, binge_sd, len(df))
    df["watch_minutes"] *= binge
    df["pre_watch_minutes"] *= binge
    if shift:
        df.loc[df["arm"] == "B", "watch_minutes"] += shift
    return df


def capped_truth(shift: float, level: float = CAP_LEVEL, n_users: int = 2_000_000, seed: int = 999) -> float:
    """The true difference of capped means for an additive shift, on a large table with the cap
    computed as :func:`~recsys.stats.capping.cap_table` does (pooled pre period, control scale)."""
    df = skewed_table(n_users, seed)
    y = df["watch_minutes"].to_numpy()
    capped = cap_table(df, [Cap("watch_minutes", percentile=level)], control="A").columns[0].value
    return float(np.mean(np.minimum(y + shift, capped)) - np.mean(np.minimum(y, capped)))


@dataclass(frozen=True)
class Outcome:
    reject: bool
    covered: bool
    var_diff: float


def _outcome(eff: Effect, truth: float, alpha: float) -> Outcome:
    lo, hi = eff.ci(alpha)
    return Outcome(bool(eff.p_value() < alpha), bool(lo <= truth <= hi), float(eff.var_diff))


def _bayes_outcome(eff: Effect, truth: float, alpha: float, prior: GaussianPrior | None) -> Outcome:
    b = bayes_readout(eff, prior, alpha)
    a = b.absolute
    ctw = a.chance_to_win
    return Outcome(bool(ctw >= 1 - alpha / 2 or ctw <= alpha / 2), bool(a.ci_low <= truth <= a.ci_high),
                   float(a.sd ** 2))


def _replicate_methods(rep: pd.DataFrame, truth: float, capped_true: float, alpha: float,
                       quantile_boot: int) -> dict[str, Outcome]:
    """Every method's outcome on one experiment (one replicate's users)."""
    out: dict[str, Outcome] = {}
    cols = ["watch_minutes", *PRE_COVARIATES, "cupac"]
    g = summarize(rep, cols, ["arm"])
    mc, mt = g[("A",)], g[("B",)]
    welch = two_arm_effect("mean", MeanStats.from_moments(mc, "watch_minutes"),
                           MeanStats.from_moments(mt, "watch_minutes"))
    out["welch"] = _outcome(welch, truth, alpha)
    cuped = regression_effect("mean", mc, mt, "watch_minutes", ["pre_watch_minutes"])[0]
    out["cuped"] = _outcome(cuped, truth, alpha)
    out["bayes-flat"] = _bayes_outcome(welch, truth, alpha, None)
    out["bayes-informative"] = _bayes_outcome(welch, truth, alpha, GaussianPrior(0.0, 0.05 ** 2, proper=True))
    out["regression"] = _outcome(regression_effect("mean", mc, mt, "watch_minutes", PRE_COVARIATES)[0], truth, alpha)
    out["cupac"] = _outcome(regression_effect("mean", mc, mt, "watch_minutes",
                                              ["pre_watch_minutes", "cupac"])[0], truth, alpha)
    ps = poststratify(rep, "A", "B", "watch_minutes", "mean", by="segment")
    out["poststrat"] = _outcome(ps.effect, truth, alpha)
    psc = poststratify(rep, "A", "B", "watch_minutes", "mean", by="segment", covariate="pre_watch_minutes")
    out["poststrat+cuped"] = _outcome(psc.effect, truth, alpha)
    capped = cap_table(rep, [Cap("watch_minutes", percentile=CAP_LEVEL)], control="A", cap_pre=False).table
    gc = summarize(capped, ["watch_minutes"], ["arm"])
    cap_eff = two_arm_effect("mean", MeanStats.from_moments(gc[("A",)], "watch_minutes"),
                             MeanStats.from_moments(gc[("B",)], "watch_minutes"))
    out["capping-p99"] = _outcome(cap_eff, capped_true, alpha)
    a = rep.loc[rep["arm"] == "A", "watch_minutes"].to_numpy()
    b = rep.loc[rep["arm"] == "B", "watch_minutes"].to_numpy()
    for q, name in ((0.5, "median"), (0.9, "p90")):
        out[name] = _outcome(quantile_test(a, b, q).effect, truth, alpha)
    if quantile_boot:
        out["median-bootstrap"] = _outcome(
            quantile_test(a, b, 0.5, method="bootstrap", n_boot=quantile_boot, seed=int(rep["user_id"].iloc[0])).effect,
            truth, alpha)
    return out


def calibrate(n_rep: int = 2000, users: int = 2000, seed: int = 0, shift: float = 0.0, alpha: float = 0.05,
              quantile_boot: int = 200, batch: int = 100, capped_true: float | None = None,
              progress: Callable[[int], None] | None = None) -> dict[str, dict]:
    """Per method: rejection rate, coverage of the truth and mean variance of the difference
    over ``n_rep`` experiments of ``users`` users (A/A when ``shift`` is 0)."""
    if capped_true is None:
        capped_true = capped_truth(shift) if shift else 0.0
    rows: list[dict[str, Outcome]] = []
    for start in range(0, n_rep, batch):
        k = min(batch, n_rep - start)
        df = skewed_table(users * k, seed * 1_000_003 + start, shift=shift)
        df["rep"] = df["user_id"] // users
        df["cupac"] = np.zeros(len(df))
        for r, rep in df.groupby("rep", sort=True):
            rep = rep.copy()
            rep["cupac"] = cupac_covariate(rep, "pre_watch_minutes", estimator=LinearRegression(), n_splits=5,
                                           seed=int(r))
            rows.append(_replicate_methods(rep, shift, capped_true, alpha, quantile_boot))
        if progress:
            progress(len(rows))
    out = {}
    for name in rows[0]:
        rej = np.array([r[name].reject for r in rows])
        cov = np.array([r[name].covered for r in rows])
        var = np.array([r[name].var_diff for r in rows])
        out[name] = {"reject": float(rej.mean()), "coverage": float(cov.mean()), "mean_var": float(np.nanmean(var)),
                     "n": len(rows)}
    base = out["welch"]["mean_var"]
    cuped = out["cuped"]["mean_var"]
    for name, d in out.items():
        d["variance_reduction"] = 1 - d["mean_var"] / base
        d["variance_reduction_vs_cuped"] = 1 - d["mean_var"] / cuped
    return out


def calibrate_group_sequential(n_rep: int = 2000, users: int = 4000, looks: int = 14, seed: int = 0,
                               shift: float = 0.0, alpha: float = 0.05, spending: str = "obrien-fleming",
                               batch: int = 250) -> dict[str, float]:
    """Rejection rates over ``looks`` daily looks (users arrive in equal daily cohorts) of: the
    group-sequential design, a single look at the end, naive peeking at a fixed 1.96 every day,
    and the always-valid mixture test (:mod:`recsys.stats.sequential`)."""
    t = equally_spaced(looks)
    d = design(t, alpha, spending)
    bounds = np.array(d.bounds)
    z_fixed = float(sps.norm.isf(alpha / 2))
    hits = {"group_sequential": 0, "fixed": 0, "peeking": 0, "always_valid": 0}
    first_looks = []
    n_done = 0
    cohort = users // looks
    for start in range(0, n_rep, batch):
        k = min(batch, n_rep - start)
        df = skewed_table(cohort * looks * k, seed * 1_000_003 + start, shift=shift)
        rep = df["user_id"].to_numpy() // (cohort * looks)
        day = (df["user_id"].to_numpy() % (cohort * looks)) // cohort
        arm_b = (df["arm"] == "B").to_numpy()
        y = df["watch_minutes"].to_numpy()
        # per (replicate, day, arm): n, sum, sum of squares; cumulated over days
        key = (rep * looks + day) * 2 + arm_b
        size = k * looks * 2
        n = np.bincount(key, minlength=size).reshape(k, looks, 2).cumsum(axis=1)
        s = np.bincount(key, weights=y, minlength=size).reshape(k, looks, 2).cumsum(axis=1)
        ss = np.bincount(key, weights=y * y, minlength=size).reshape(k, looks, 2).cumsum(axis=1)
        mean = s / n
        var = (ss - s * mean) / (n - 1) / n
        diff = mean[..., 1] - mean[..., 0]
        v = var[..., 0] + var[..., 1]
        z = diff / np.sqrt(v)
        gs = np.abs(z) >= bounds
        hits["group_sequential"] += int(gs.any(axis=1).sum())
        hits["fixed"] += int((np.abs(z[:, -1]) >= z_fixed).sum())
        hits["peeking"] += int((np.abs(z) >= z_fixed).any(axis=1).sum())
        for i in range(k):
            seq = sequential_test(diff[i], v[i], alpha)
            hits["always_valid"] += int(seq.first_rejection is not None)
        first_looks.extend(int(np.argmax(row)) + 1 for row in gs if row.any())
        n_done += k
    out = {name: h / n_done for name, h in hits.items()}
    out["n"] = n_done
    out["mean_first_look"] = float(np.mean(first_looks)) if first_looks else float("nan")
    out["design_power_loss_at_80"] = d.power_loss(0.8)
    out["design_inflation_at_80"] = d.inflation_factor(0.8)
    return out


def shift_for_power(users: int, power: float = 0.8, alpha: float = 0.05, n: int = 400_000, seed: int = 77) -> float:
    """The additive shift a single look at ``users`` users (two arms) detects with ``power``."""
    sd = float(skewed_table(n, seed)["watch_minutes"].std())
    return float((sps.norm.isf(alpha / 2) + sps.norm.ppf(power)) * sd * np.sqrt(4.0 / users))
