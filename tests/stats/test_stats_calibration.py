"""Calibration: false-positive rate of A/A tests and interval coverage of a known effect.

Many small experiments are drawn at once as one synthetic table with a replicate column and
reduced in one grouping (replicate x arm), exactly the summaries ``analyze`` uses; each
replicate's tests then run on its summaries. The fast versions keep a binomial tolerance of
about 3.3 standard errors; the slow ones (``-m slow``) run >= 2000 replicates and hold the
issue's bounds: false positives in [4%, 6%], coverage in [93.5%, 96.5%].
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.stats.bootstrap import bootstrap_metric, bootstrap_test, bootstrap_columns, user_keys
from recsys.stats.cuped import cuped_test
from recsys.stats.inference import two_arm_test
from recsys.stats.metrics import METRICS
from recsys.stats.summary import CupedStats, stats_from_moments, summarize
from recsys.stats.synthetic import synthetic_table

USERS = 1000          # per replicate (both arms)
CTR_LIFT = 1.06       # click probability x 1.06 in the treatment: true CTR 2/11 = 0.182 -> 0.193
MINUTES_SHIFT = 12.0  # added to every treatment user's watch minutes


def _cases():
    """(metric, post columns, covariate columns or None)."""
    return [("ctr", ("clicks", "impressions"), None),
            ("ctr", ("clicks", "impressions"), ("pre_clicks", "pre_impressions")),
            ("watch_minutes", ("watch_minutes",), None),
            ("watch_minutes", ("watch_minutes",), ("pre_watch_minutes",)),
            ("churn_rate", ("churned",), None),
            ("completion_rate", ("completions", "plays"), ("pre_completions", "pre_plays"))]


def _replicates(n_rep: int, seed: int, effect: str | None, users: int = USERS):
    """Per replicate and case: the test result, over ``n_rep`` experiments of USERS users.

    ``effect`` "ctr" lifts the treatment's click probability (which also brings more plays and
    minutes); "minutes" adds a constant to its watch minutes and changes nothing else."""
    out = []
    batch = 250
    for start in range(0, n_rep, batch):
        k = min(batch, n_rep - start)
        df = synthetic_table(users * k, ("A", "B"), seed=seed + start,
                             effects={"B": {"ctr": CTR_LIFT}} if effect == "ctr" else None)
        if effect == "minutes":
            df.loc[df.arm == "B", "watch_minutes"] += MINUTES_SHIFT
        df["rep"] = df.user_id // users
        cols = sorted({c for _, post, cov in _cases() for c in post + (cov or ())})
        g = summarize(df, cols, ["rep", "arm"])
        for r in range(k):
            row = {}
            for metric, post, cov in _cases():
                kind = METRICS[metric].kind
                mc, mt = g[(r, "A")], g[(r, "B")]
                if cov:
                    res = cuped_test(kind, CupedStats.from_moments(mc, post, cov), CupedStats.from_moments(mt, post, cov))
                else:
                    res = two_arm_test(kind, stats_from_moments(mc, post), stats_from_moments(mt, post))
                row[(metric, res.method)] = res
            out.append(row)
    return out


def _check_rate(rate: float, target: float, n: int, bounds=None):
    if bounds is None:
        tol = 3.3 * np.sqrt(target * (1 - target) / n)
        bounds = (target - tol, target + tol)
    assert bounds[0] <= rate <= bounds[1], f"rate {rate:.4f} outside [{bounds[0]:.4f}, {bounds[1]:.4f}]"


def _false_positive_rates(n_rep: int, seed: int) -> dict:
    reps = _replicates(n_rep, seed, effect=None)
    return {key: np.mean([r[key].p_value < 0.05 for r in reps]) for key in reps[0]}


def _coverage(n_rep: int, seed: int, users: int = USERS) -> dict:
    """Coverage of the true difference: CTR E[propensity] x (lift - 1), the synthetic table's
    click propensity being Beta(2, 9) (mean 2 / 11) independent of impressions, and the constant
    minutes shift."""
    out = {}
    for effect, metric, truth in (("ctr", "ctr", 2 / 11 * (CTR_LIFT - 1)), ("minutes", "watch_minutes", MINUTES_SHIFT)):
        reps = _replicates(n_rep, seed, effect=effect, users=users)
        out.update({key: np.mean([r[key].ci_low <= truth <= r[key].ci_high for r in reps])
                    for key in reps[0] if key[0] == metric})
    return out


def test_aa_false_positive_rate_is_alpha():
    n = 500
    for key, rate in _false_positive_rates(n, seed=100).items():
        _check_rate(rate, 0.05, n)


def test_ci_coverage_of_a_known_effect():
    n = 300
    for key, cov in _coverage(n, seed=200).items():
        _check_rate(cov, 0.95, n)


def _bootstrap_false_positive_rate(n: int) -> float:
    """The composite's bootstrap on ``n`` A/A tables of 600 users."""
    hits = 0
    m = METRICS["engagement_efficiency"]
    cols = bootstrap_columns(m)
    for r in range(n):
        df = synthetic_table(600, ("A", "B"), seed=5000 + r)
        parts = []
        for arm in ("A", "B"):
            part = df[df.arm == arm]
            vals = np.column_stack([part[c].fillna(0).to_numpy(float) if not c.startswith("__has__")
                                    else part.time_to_first_play_s.notna().to_numpy(float) for c in cols])
            parts.append((*bootstrap_metric(m, vals, cols, user_keys(part.user_id.to_numpy()), 300, seed=r), len(part)))
        (pc, rc, nc), (pt, rt, nt) = parts
        hits += bootstrap_test(pc, rc, pt, rt, n_c=nc, n_t=nt).p_value < 0.05
    return hits / n


def test_bootstrap_aa_false_positive_rate():
    """Fewer replicates: each is its own resampling."""
    _check_rate(_bootstrap_false_positive_rate(150), 0.05, 150)


@pytest.mark.slow
def test_bootstrap_aa_false_positive_rate_2000_replicates():
    rate = _bootstrap_false_positive_rate(2000)
    print({"engagement_efficiency bootstrap": rate})
    _check_rate(rate, 0.05, 2000, bounds=(0.04, 0.06))


@pytest.mark.slow
def test_aa_false_positive_rate_2000_replicates():
    rates = _false_positive_rates(2000, seed=1000)
    print({k: round(v, 4) for k, v in rates.items()})
    for key, rate in rates.items():
        _check_rate(rate, 0.05, 2000, bounds=(0.04, 0.06))


@pytest.mark.slow
def test_ci_coverage_2000_replicates():
    """At 2,000 users per arm. With 500 per arm the table's gamma-Poisson activity makes CTR's
    delta-method CUPED interval cover 93.4% (the plain delta method 94.4%): a small-sample
    shortfall of the ratio's linearisation under heavy skew, gone at 2,000 per arm (94.7%)."""
    cov = _coverage(2000, seed=3000, users=4000)
    print({k: round(v, 4) for k, v in cov.items()})
    for key, c in cov.items():
        _check_rate(c, 0.95, 2000, bounds=(0.935, 0.965))
