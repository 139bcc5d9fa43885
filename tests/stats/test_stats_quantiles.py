"""Quantile metrics: the outer-CI variance, the bootstrap, and bad quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats.bayes import bayes_readout
from recsys.stats.quantiles import QuantileStats, quantile_metric, quantile_stats, quantile_test
from recsys.stats.synthetic import synthetic_table


def test_outer_ci_variance_is_gbstats_formula():
    """gbstats' QuantileStatistic.variance / n with n_star = n, on its published p90 case
    (tests/bayesian/test_tests.py, TestEffectBayesianABTest): the flat-prior interval half-width
    is 0.0792564786464353."""
    c = QuantileStats(11054, 0.9, 7.157987489967789, 7.098780136176828, 7.217194843758751)
    t = QuantileStats(10861, 0.9, 7.694499927525767, 7.64180598628119, 7.747193868770344)
    half = sps.norm.isf(0.025) * np.sqrt(c.var_of_quantile + t.var_of_quantile)
    assert half == pytest.approx(0.6157689162044128 - 0.5365124375579775, abs=1e-12)


def test_outer_ci_is_about_the_asymptotic_variance():
    """For a smooth density the estimate approaches q (1 - q) / (n f(Q)^2)."""
    rng = np.random.default_rng(1)
    x = rng.exponential(10.0, 40000)
    s = quantile_stats(x, 0.9)
    q = -10 * np.log(0.1)
    asymptotic = 0.9 * 0.1 / (x.size * (np.exp(-q / 10) / 10) ** 2)
    assert s.value == pytest.approx(q, rel=0.02)
    assert s.var_of_quantile == pytest.approx(asymptotic, rel=0.1)


def test_bootstrap_agrees_with_the_normal_approximation():
    rng = np.random.default_rng(2)
    a, b = rng.gamma(2.0, 20.0, 3000), rng.gamma(2.0, 22.0, 3000)
    normal = quantile_test(a, b, 0.5)
    boot = quantile_test(a, b, 0.5, method="bootstrap", n_boot=400, seed=5)
    assert boot.effect.diff == normal.effect.diff
    assert boot.effect.se == pytest.approx(normal.effect.se, rel=0.15)
    again = quantile_test(a, b, 0.5, method="bootstrap", n_boot=400, seed=5)
    assert again.effect.se == boot.effect.se                 # seeded


def test_table_metric_median_and_p90():
    df = synthetic_table(6000, ("A", "B"), seed=4, effects={"B": {"watch_minutes": 1.2}})
    med = quantile_metric(df, "watch_minutes", 0.5, "A", "B")
    p90 = quantile_metric(df, "time_to_first_play_s", 0.9, "A", "B")
    assert med.effect.diff > 0 and med.effect.ci(0.05)[0] > 0        # a 20% lift in minutes per play
    assert p90.effect.n_control == df.time_to_first_play_s[df.arm == "A"].notna().sum()
    d = med.to_dict()
    assert d["quantile"] == 0.5 and d["method"] == "quantile-normal"
    assert np.isfinite(bayes_readout(med.effect).chance_to_win)


@pytest.mark.parametrize("q", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_quantile_outside_the_unit_interval(q):
    with pytest.raises(InputError) as err:
        quantile_test([1.0, 2.0], [1.0, 2.0], q)
    assert str(err.value) == f"quantile must be in (0, 1), got {q}"


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown quantile method 'exact'"):
        quantile_test([1.0], [2.0], 0.5, method="exact")
    df = synthetic_table(100, ("A", "B"), seed=1)
    with pytest.raises(InputError, match="column 'minutes' is not in the table"):
        quantile_metric(df, "minutes", 0.5, "A", "B")
    with pytest.raises(InputError, match="arm 'C' is not in the table"):
        quantile_metric(df, "watch_minutes", 0.5, "A", "C")
