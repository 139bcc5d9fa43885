"""Closed-loop calibration of the issue-21 statistics: prints the figures the README quotes.

For each method (Bayesian readout, capping, post-stratification, regression adjustment, CUPAC,
quantiles) on skewed synthetic watch minutes: the A/A false-positive rate, the coverage of a
known additive effect, and the variance of the difference against Welch and plain CUPED; for a
14-look group-sequential design: its A/A rejection rate and its power beside a single look, naive
daily peeking and the always-valid mixture test. With ``--table`` (a per-user table, e.g. the
``users.parquet`` of ``recsys ab``) it also reports what capping and post-stratification remove
on that table's watch minutes.

    nice -n 10 python benchmarks/stats_calibration.py --replicates 2000
    python benchmarks/stats_calibration.py --replicates 200 --table OUT/users.parquet --control popularity
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from recsys.stats.calibration import calibrate, calibrate_group_sequential, capped_truth, shift_for_power
from recsys.stats.capping import Cap, cap_table
from recsys.stats.poststrat import poststratify
from recsys.stats.regression import cupac_covariate, regression_test
from recsys.stats.summary import summarize

ALPHA = 0.05


def _mc(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n))


def methods(replicates: int, users: int, seed: int) -> None:
    shift = round(shift_for_power(users, 0.5), 2)
    t0 = time.time()
    aa = calibrate(replicates, users, seed, 0.0, ALPHA)
    truth = capped_truth(shift)
    eff = calibrate(replicates, users, seed + 1, shift, ALPHA, capped_true=truth)
    print(f"\n{replicates} experiments of {users} users per run; effect: +{shift} minutes per treated user "
          f"(capped-mean truth {truth:.3f}); {time.time() - t0:.0f} s")
    print(f"A/A false positives should be {ALPHA:.3f} +- {_mc(ALPHA, replicates):.3f} (1 MC sd); "
          f"coverage 0.950 +- {_mc(0.95, replicates):.3f}")
    print(f"{'method':<20}{'A/A reject':>11}{'coverage':>10}{'power':>8}{'var vs welch':>14}{'var vs cuped':>14}")
    for name in aa:
        a, e = aa[name], eff[name]
        comparable = name not in ("median", "p90", "median-bootstrap", "bayes-informative")
        vr = f"{e['variance_reduction']:>+14.1%}" if comparable else f"{'(other estimand)':>17}"
        vc = f"{e['variance_reduction_vs_cuped']:>+14.1%}" if comparable else ""
        print(f"{name:<20}{a['reject']:>11.4f}{e['coverage']:>10.4f}{e['reject']:>8.3f}{vr}{vc}")
    print("bayes-informative: N(0, 0.05^2) on the relative lift; a prior that doubts the effect shrinks it, so "
          "its credible interval is not meant to cover a large true effect")


def group_sequential(replicates: int, users: int, seed: int) -> None:
    shift = shift_for_power(users, 0.8)
    t0 = time.time()
    for spending in ("obrien-fleming", "pocock"):
        aa = calibrate_group_sequential(replicates, users, 14, seed, 0.0, ALPHA, spending)
        pw = calibrate_group_sequential(replicates, users, 14, seed + 1, shift, ALPHA, spending)
        print(f"\n14 daily looks, {spending} spending, {replicates} experiments of {users} users "
              f"({time.time() - t0:.0f} s); effect +{shift:.2f} minutes (80% power for one look)")
        print(f"  design: inflation factor {aa['design_inflation_at_80']:.4f}, "
              f"power lost at the single look's n {aa['design_power_loss_at_80']:.4f}")
        print(f"  {'test':<18}{'A/A reject':>11}{'power':>8}")
        for name in ("group_sequential", "fixed", "always_valid", "peeking"):
            print(f"  {name:<18}{aa[name]:>11.4f}{pw[name]:>8.4f}")
        print(f"  mean look of a group-sequential rejection under the effect: {pw['mean_first_look']:.2f}")


def table_figures(path: str, control: str) -> None:
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    arms = [a for a in df["arm"].unique() if a != control]
    print(f"\n{path}: {len(df)} users, control {control}")
    res = cap_table(df, [Cap("watch_minutes", percentile=0.99)], control=control)
    c = res.columns[0]
    print(f"  p99 cap ({c.basis} basis) {c.value:.1f} min: capped {c.capped} of {c.n}; "
          f"within-arm variance removed {c.variance_removed:.1%}")
    for arm in arms:
        ps = poststratify(df, control, arm, "watch_minutes", "mean", by="segment",
                          cuped_covariate="pre_watch_minutes" if "pre_watch_minutes" in df else None)
        vc = ps.variance_reduction_vs_cuped
        print(f"  post-stratified by segment ({arm}): variance of the difference {ps.variance_reduction:+.1%} "
              f"vs unstratified" + (f", {vc:+.1%} vs plain CUPED" if vc is not None else ""))
        if "pre_watch_minutes" in df:
            psc = poststratify(df, control, arm, "watch_minutes", "mean", by="segment", covariate="pre_watch_minutes")
            print(f"  post-stratified CUPED ({arm}): {psc.variance_reduction_vs_cuped:+.1%} vs plain CUPED")
            pre = [c for c in df.columns if c.startswith("pre_")]
            two = df[df["arm"].isin([control, arm])].copy()
            two["cupac"] = cupac_covariate(two, "pre_watch_minutes")
            g = summarize(two, ["watch_minutes", *pre, "cupac"], ["arm"])
            reg = regression_test("mean", g[(control,)], g[(arm,)], "watch_minutes", pre)
            cup = regression_test("mean", g[(control,)], g[(arm,)], "watch_minutes", ["pre_watch_minutes", "cupac"])
            print(f"  regression on {len(pre)} pre_* columns ({arm}): {reg.variance_reduction:+.1%} vs unadjusted, "
                  f"{reg.variance_reduction_vs_cuped:+.1%} vs plain CUPED")
            print(f"  CUPED + CUPAC (gradient boosting, 5-fold cross-fit) ({arm}): "
                  f"{cup.variance_reduction_vs_cuped:+.1%} vs plain CUPED")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--users", type=int, default=2000, help="users per experiment for the fixed-horizon methods")
    ap.add_argument("--gs-users", type=int, default=4000, help="users per experiment for the 14-look design")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--table", help="a per-user table (parquet or csv) for capping / post-stratification figures")
    ap.add_argument("--control", default="popularity")
    ap.add_argument("--skip-methods", action="store_true")
    ap.add_argument("--skip-sequential", action="store_true")
    args = ap.parse_args()
    if args.table:
        table_figures(args.table, args.control)
    if not args.skip_methods:
        methods(args.replicates, args.users, args.seed)
    if not args.skip_sequential:
        group_sequential(args.replicates, args.gs_users, args.seed)


if __name__ == "__main__":
    main()
