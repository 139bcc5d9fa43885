"""Regression adjustment with several covariates, and CUPAC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LinearRegression

from recsys.core.errors import InputError
from recsys.stats.cuped import cuped_test
from recsys.stats.regression import cupac_covariate, estimator_cov, regression_effect, regression_test
from recsys.stats.summary import CupedStats, summarize
from recsys.stats.synthetic import synthetic_table

COLS = ["watch_minutes", "pre_watch_minutes", "pre_plays", "pre_sessions", "pre_clicks", "pre_impressions",
        "clicks", "impressions", "churned", "pre_active_days", "completions", "plays", "pre_completions"]


@pytest.fixture(scope="module")
def table():
    return synthetic_table(6000, ("A", "B"), seed=21, effects={"B": {"ctr": 1.05}})


@pytest.fixture(scope="module")
def moments(table):
    g = summarize(table, COLS, ["arm"])
    return g[("A",)], g[("B",)]


@pytest.mark.parametrize("kind, post, pre", [
    ("mean", ("watch_minutes",), ("pre_watch_minutes",)),
    ("ratio", ("clicks", "impressions"), ("pre_clicks", "pre_impressions")),
    ("ratio", ("completions", "plays"), ("pre_completions", "pre_plays")),
    ("proportion", ("churned",), ("pre_active_days",)),
])
def test_one_covariate_is_plain_cuped(moments, kind, post, pre):
    mc, mt = moments
    eff, theta = regression_effect(kind, mc, mt, post, [pre])
    ref = cuped_test(kind, CupedStats.from_moments(mc, post, pre), CupedStats.from_moments(mt, post, pre))
    assert eff.diff == pytest.approx(ref.diff, rel=1e-10, abs=1e-14)
    assert eff.se == pytest.approx(ref.se, rel=1e-10)
    assert eff.rel_se == pytest.approx(ref.rel_se, rel=1e-9)
    assert eff.df == pytest.approx(ref.df, rel=1e-10)


def test_estimator_cov_matches_numpy(table):
    """The delta-method covariance of a mean and a ratio from sums equals the one from user rows."""
    a = table[table.arm == "A"]
    m = summarize(a, COLS, ["arm"])[("A",)]
    v = estimator_cov(m, [("watch_minutes",), ("clicks", "impressions")])
    n = len(a)
    r = a.clicks.sum() / a.impressions.sum()
    lin = (a.clicks - r * a.impressions) / a.impressions.mean()    # the ratio's linearisation
    ref = np.cov(np.vstack([a.watch_minutes, lin])) / n
    np.testing.assert_allclose(v, ref, rtol=1e-9)


def test_pooled_coefficients_equal_ols_with_equal_arms():
    """With equal arms the pooled theta is the OLS slope of y on (1, treatment, covariates) and
    the adjusted difference is OLS's treatment coefficient (statsmodels)."""
    df = synthetic_table(4000, ("A", "B"), seed=8)
    df["arm"] = np.where(np.arange(len(df)) % 2 == 0, "A", "B")
    covs = ["pre_watch_minutes", "pre_plays", "pre_sessions"]
    g = summarize(df, ["watch_minutes", *covs], ["arm"])
    eff, theta = regression_effect("mean", g[("A",)], g[("B",)], "watch_minutes", covs)
    x = sm.add_constant(np.column_stack([(df.arm == "B").astype(float), df[covs].to_numpy()]))
    fit = sm.OLS(df.watch_minutes.to_numpy(), x).fit()
    assert eff.diff == pytest.approx(fit.params[1], rel=1e-9)
    np.testing.assert_allclose(theta, fit.params[2:], rtol=1e-9)
    # and the variance is close to OLS's heteroscedasticity-robust one
    assert eff.se == pytest.approx(fit.get_robustcov_results("HC2").bse[1], rel=0.02)


def test_more_covariates_beat_plain_cuped(moments):
    mc, mt = moments
    res = regression_test("mean", mc, mt, "watch_minutes",
                          ["pre_watch_minutes", "pre_plays", "pre_sessions", "pre_clicks"])
    assert res.cuped_covariate == ("pre_watch_minutes",)
    assert res.variance_reduction_vs_cuped > 0.05      # plays carry signal that pre-period minutes do not
    assert res.variance_reduction > 0.3
    d = res.to_dict()
    assert d["method"] == "welch+regression(4)" and len(d["theta"]) == 4


def test_ratio_with_ratio_and_mean_covariates(moments):
    mc, mt = moments
    res = regression_test("ratio", mc, mt, ("clicks", "impressions"),
                          [("pre_clicks", "pre_impressions"), ("pre_sessions",)])
    assert np.isfinite(res.effect.se) and res.effect.var_diff <= res.cuped.var_diff * (1 + 1e-9)


def test_bad_estimators(moments):
    mc, mt = moments
    with pytest.raises(InputError, match="needs at least one covariate"):
        regression_test("mean", mc, mt, "watch_minutes", [])
    with pytest.raises(InputError, match="column 'pre_nothing' is not among the summarised columns"):
        regression_effect("mean", mc, mt, "watch_minutes", ["pre_nothing"])
    with pytest.raises(InputError, match="one column .a mean. or two .a ratio."):
        regression_effect("mean", mc, mt, "watch_minutes", [("a", "b", "c")])


def test_cupac_is_cross_fitted(table):
    """A user's covariate comes from a model fitted without that user: changing the user's own
    target leaves its prediction unchanged (and changes users in other folds)."""
    df = table.head(600).copy()
    before = cupac_covariate(df, "pre_watch_minutes", estimator=LinearRegression(), n_splits=3)
    df.loc[df.index[0], "pre_watch_minutes"] += 5000.0
    after = cupac_covariate(df, "pre_watch_minutes", estimator=LinearRegression(), n_splits=3)
    assert after[0] == pytest.approx(before[0], abs=1e-9)
    assert np.sum(np.abs(after - before) > 1e-6) > 300


def test_cupac_ignores_row_order_and_helps(table):
    df = table.head(3000)
    a = cupac_covariate(df, "pre_watch_minutes", estimator=LinearRegression())
    shuffled = df.sample(frac=1.0, random_state=1)
    b = pd.Series(cupac_covariate(shuffled, "pre_watch_minutes", estimator=LinearRegression()),
                  index=shuffled.index).reindex(df.index).to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-8)
    d = df.assign(cupac=a)
    g = summarize(d, ["watch_minutes", "pre_watch_minutes", "cupac"], ["arm"])
    res = regression_test("mean", g[("A",)], g[("B",)], "watch_minutes", ["pre_watch_minutes", "cupac"])
    assert res.variance_reduction_vs_cuped > 0.05


@pytest.mark.parametrize("kwargs, message", [
    ({"target": "watch_minutes"}, "CUPAC target 'watch_minutes' must be a pre-period (pre_*) column"),
    ({"target": "pre_watch_minutes", "features": ["plays"]},
     "CUPAC feature 'plays' is not a pre-period (pre_*) column or a label"),
    ({"target": "pre_watch_minutes", "features": ["pre_watch_minutes"]},
     "CUPAC feature 'pre_watch_minutes' is the target itself"),
    ({"target": "pre_nope"}, "CUPAC target column 'pre_nope' is not in the table"),
    ({"target": "pre_watch_minutes", "n_splits": 1},
     "n_splits must be a whole number from 2 to the number of users, got 1"),
])
def test_cupac_refuses_the_outcome_period(table, kwargs, message):
    with pytest.raises(InputError) as err:
        cupac_covariate(table.head(100), **kwargs)
    assert str(err.value) == message
