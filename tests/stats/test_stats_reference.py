"""Reference tests: our tests on summary statistics equal scipy / statsmodels on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from recsys.stats.corrections import adjust, benjamini_hochberg, holm
from recsys.stats.heterogeneity import cochran_q
from recsys.stats.inference import delta_test, proportion_test, welch_test
from recsys.stats.srm import srm_test
from recsys.stats.summary import MeanStats, Moments, RatioStats, summarize

DEC = 5  # decimals of agreement required


def mean_stats(x) -> MeanStats:
    x = np.asarray(x, dtype=float)
    return MeanStats(len(x), x.sum(), (x * x).sum())


def ratio_stats(m, d) -> RatioStats:
    m, d = np.asarray(m, float), np.asarray(d, float)
    return RatioStats(len(m), m.sum(), (m * m).sum(), d.sum(), (d * d).sum(), (m * d).sum())


# Written-out cases: small samples whose figures anyone can recompute.
WELCH_CASES = [
    ([12.1, 9.8, 11.4, 10.2, 13.5, 8.9, 10.0], [13.2, 12.8, 14.1, 11.9, 15.0, 13.3]),
    ([0, 0, 3, 5, 0, 12, 1, 0, 2], [4, 0, 7, 1, 9, 0, 3, 8, 2, 6, 0]),
    ([1.5, 2.5, 2.0, 3.5], [2.0, 2.1, 1.9, 2.0, 2.2]),
]


@pytest.mark.parametrize("a,b", WELCH_CASES)
def test_welch_matches_scipy_and_statsmodels(a, b):
    res = welch_test(mean_stats(a), mean_stats(b), alpha=0.05)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert res.p_value == pytest.approx(ref.pvalue, abs=10 ** -DEC)
    assert res.diff / res.se == pytest.approx(ref.statistic, abs=10 ** -DEC)
    cm = CompareMeans(DescrStatsW(np.asarray(b, float)), DescrStatsW(np.asarray(a, float)))
    lo, hi = cm.tconfint_diff(alpha=0.05, usevar="unequal")
    assert (res.ci_low, res.ci_high) == pytest.approx((lo, hi), abs=10 ** -DEC)
    # Welch-Satterthwaite degrees of freedom, by hand
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    assert res.df == pytest.approx(df, abs=10 ** -DEC)


def test_welch_large_sample_case():
    rng = np.random.default_rng(3)
    a, b = rng.gamma(2.0, 3.0, 5000), rng.gamma(2.1, 3.0, 4000)
    res = welch_test(mean_stats(a), mean_stats(b))
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert res.p_value == pytest.approx(ref.pvalue, abs=10 ** -DEC)


# (clicks, impressions) per user, control then treatment
DELTA_CASES = [
    (([1, 0, 3, 2, 0, 5, 1], [10, 4, 12, 9, 3, 20, 8]), ([2, 1, 4, 0, 3, 6, 2, 1], [9, 5, 11, 2, 10, 18, 7, 6])),
    (([0, 1, 0, 2, 1], [5, 6, 2, 7, 4]), ([1, 2, 2, 3, 1, 0], [4, 6, 5, 8, 3, 2])),
]


def linearised(m, d):
    """Per-user linearisation of a ratio of sums: R + (m - R d) / mean(d)."""
    m, d = np.asarray(m, float), np.asarray(d, float)
    r = m.sum() / d.sum()
    return r + (m - r * d) / d.mean()


@pytest.mark.parametrize("c,t", DELTA_CASES)
def test_delta_method_matches_linearised_ztest(c, t):
    res = delta_test(ratio_stats(*c), ratio_stats(*t))
    lc, lt = linearised(*c), linearised(*t)
    # the linearised values average to the ratio; statsmodels' unequal-variance z-test on them
    # is the delta-method test of the difference of ratios
    cm = CompareMeans(DescrStatsW(lt), DescrStatsW(lc))
    z, p = cm.ztest_ind(usevar="unequal")
    lo, hi = cm.zconfint_diff(alpha=0.05, usevar="unequal")
    assert res.diff == pytest.approx(lt.mean() - lc.mean(), abs=10 ** -DEC)
    assert res.p_value == pytest.approx(p, abs=10 ** -DEC)
    assert (res.ci_low, res.ci_high) == pytest.approx((lo, hi), abs=10 ** -DEC)


def test_delta_variance_by_hand():
    m, d = [1, 0, 3, 2, 0, 5, 1], [10, 4, 12, 9, 3, 20, 8]
    s = ratio_stats(m, d)
    m, d = np.asarray(m, float), np.asarray(d, float)
    r, md = m.sum() / d.sum(), d.mean()
    cov = np.cov(m, d)  # n - 1
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / md ** 2 / len(m)
    assert s.mean == pytest.approx(r, abs=1e-12)
    assert s.var_of_mean == pytest.approx(var, rel=1e-10)


def test_relative_lift_fieller_by_hand():
    """rel_se is the delta method's; the interval is Fieller's: the roots of
    (T - r C)^2 = q^2 (v_T + r^2 v_C) for independent arms, minus 1."""
    a, b = WELCH_CASES[0]
    res = welch_test(mean_stats(a), mean_stats(b))
    ma, mb = np.mean(a), np.mean(b)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    rel_var = vb / ma ** 2 + mb ** 2 * va / ma ** 4   # two independent arms: no covariance term
    q = sps.t.ppf(0.975, res.df)
    roots = np.sort(np.roots([ma ** 2 - q * q * va, -2 * ma * mb, mb ** 2 - q * q * vb]).real)
    assert res.rel_lift == pytest.approx(mb / ma - 1, abs=1e-12)
    assert res.rel_se == pytest.approx(np.sqrt(rel_var), abs=10 ** -DEC)
    assert (res.rel_ci_low, res.rel_ci_high) == pytest.approx(tuple(roots - 1), abs=10 ** -DEC)
    assert sps.norm.ppf(0.975) < q  # a t interval is wider than a normal one


@pytest.mark.parametrize("a,b", WELCH_CASES)
def test_relative_interval_agrees_with_the_test(a, b):
    """Fieller's interval excludes 0 exactly when the two-sided test rejects, at any level (when
    the control itself is not distinguishable from 0 at that level the set is unbounded: NaN)."""
    for alpha in (0.01, 0.05, 0.2, 0.5):
        res = welch_test(mean_stats(a), mean_stats(b), alpha)
        if np.isnan(res.rel_ci_low):
            assert res.control / np.sqrt(res.var_control) < sps.t.isf(alpha / 2, res.df)
            continue
        assert (res.p_value <= alpha) == (not res.rel_ci_low <= 0 <= res.rel_ci_high)
        assert (res.p_value <= alpha) == (not res.ci_low <= 0 <= res.ci_high)


PROPORTION_CASES = [(120, 1000, 150, 1000), (9, 80, 21, 95), (512, 5120, 480, 5050), (0, 1000, 3, 150)]


@pytest.mark.parametrize("xc,nc,xt,nt", PROPORTION_CASES)
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_proportion_wald_matches_statsmodels(xc, nc, xt, nt):
    """One method for the p-value and the interval: statsmodels' Wald test and interval."""
    from statsmodels.stats.proportion import test_proportions_2indep

    c, t = MeanStats(nc, xc, xc), MeanStats(nt, xt, xt)
    res = proportion_test(c, t)
    ref = test_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff")
    lo, hi = confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff")
    assert res.p_value == pytest.approx(ref.pvalue, abs=10 ** -DEC)
    assert (res.ci_low, res.ci_high) == pytest.approx((lo, hi), abs=10 ** -DEC)
    assert (res.p_value <= 0.05) == (not lo <= 0 <= hi)


def test_the_pooled_p_value_could_disagree_with_the_interval():
    """Why the pooled p-value went: 0/1000 vs 3/150 gave p = 7.5e-6 beside a Wald interval over 0."""
    _, pooled = proportions_ztest([3, 0], [150, 1000])
    assert pooled < 1e-5
    res = proportion_test(MeanStats(1000, 0, 0), MeanStats(150, 3, 3))
    assert res.p_value > 0.05 and res.ci_low < 0 < res.ci_high


@pytest.mark.parametrize("xc,nc,xt,nt", PROPORTION_CASES[:3])
@pytest.mark.parametrize("margin", [0.01, -0.01, 0.03])
def test_absolute_noninferiority_matches_statsmodels(xc, nc, xt, nt, margin):
    from statsmodels.stats.proportion import test_proportions_2indep

    from recsys.stats.inference import noninferiority

    res = proportion_test(MeanStats(nc, xc, xc), MeanStats(nt, xt, xt))
    ni = noninferiority(res, margin, relative=False, alpha=0.05)
    alt = "smaller" if margin > 0 else "larger"       # harm is a rise when the margin is positive
    ref = test_proportions_2indep(xt, nt, xc, nc, value=margin, method="wald", compare="diff", alternative=alt)
    assert ni.p_value == pytest.approx(ref.pvalue, abs=10 ** -DEC)
    assert (ni.p_value <= 0.05) == ((ni.bound < margin) if margin > 0 else (ni.bound > margin))


@pytest.mark.parametrize("a,b", WELCH_CASES)
@pytest.mark.parametrize("margin", [0.1, -0.1, 0.3, -0.3])
def test_relative_noninferiority_is_the_fieller_contrast(a, b, margin):
    """H0: T / C - 1 at least as bad as the margin, tested on T - (1 + margin) C; the p-value is
    below alpha exactly when the one-sided Fieller bound clears the margin."""
    from recsys.stats.inference import noninferiority

    res = welch_test(mean_stats(a), mean_stats(b))
    ni = noninferiority(res, margin, relative=True, alpha=0.05)
    ma, mb = np.mean(a), np.mean(b)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    k = 1 + margin
    z = (k * ma - mb) / np.sqrt(vb + k * k * va)
    z = z if margin > 0 else -z
    assert ni.p_value == pytest.approx(sps.t.sf(z, res.df), abs=10 ** -DEC)
    ok = ni.bound < margin if margin > 0 else ni.bound > margin
    assert (ni.p_value <= 0.05) == ok


SRM_CASES = [
    ({"a": 5000, "b": 5000}, None),
    ({"a": 50112, "b": 49888}, None),
    ({"a": 5100, "b": 4900}, None),
    ({"a": 700, "b": 310}, {"a": 0.7, "b": 0.3}),
    ({"a": 1000, "b": 980, "c": 1090}, None),
]


@pytest.mark.parametrize("counts,shares", SRM_CASES)
def test_srm_matches_scipy_chisquare(counts, shares):
    res = srm_test(counts, shares)
    obs = np.array(list(counts.values()), float)
    p = np.full(len(obs), 1 / len(obs)) if shares is None else np.array([shares[k] for k in counts])
    ref = sps.chisquare(obs, obs.sum() * p)
    assert res.p_value == pytest.approx(ref.pvalue, abs=10 ** -DEC)
    assert res.ok == (ref.pvalue >= 0.001)


def test_srm_flags_a_real_mismatch():
    assert not srm_test({"a": 5300, "b": 4700}).ok


@pytest.mark.parametrize("p", [
    [0.01, 0.04, 0.03, 0.2, 0.0001, 0.5, 0.049],
    [0.001, 0.002, 0.003, 0.004],
    [0.9, 0.5, 0.02, 0.02, 0.3],
])
def test_corrections_match_statsmodels(p):
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-12)
    assert benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1], abs=1e-12)


def test_corrections_skip_missing_p_values():
    p = [0.01, np.nan, 0.04]
    out = adjust(p, "holm")
    assert np.isnan(out[1])
    assert out[[0, 2]] == pytest.approx(multipletests([0.01, 0.04], method="holm")[1])


def test_cochran_q_matches_statsmodels_meta_analysis():
    from statsmodels.stats.meta_analysis import combine_effects

    eff = np.array([0.05, 0.12, 0.02, 0.09])
    var = np.array([0.001, 0.002, 0.0015, 0.003])
    res = cochran_q(eff, var)
    ref = combine_effects(eff, var)
    assert res.q == pytest.approx(ref.q, abs=10 ** -DEC)
    assert res.i2 == pytest.approx(ref.i2, abs=10 ** -DEC)
    assert res.p_value == pytest.approx(sps.chi2.sf(ref.q, 3), abs=10 ** -DEC)
    assert res.pooled == pytest.approx(ref.mean_effect_fe, abs=10 ** -DEC)


def test_summarize_matches_pandas_groupby():
    rng = np.random.default_rng(0)
    import pandas as pd

    df = pd.DataFrame({"arm": rng.choice(["a", "b"], 500), "segment": rng.choice(["x", "y", "z"], 500),
                       "u": rng.poisson(3, 500).astype(float), "v": rng.normal(size=500)})
    got = summarize(df, ["u", "v"], ["arm", "segment"])
    df["uv"] = df.u * df.v
    df["uu"] = df.u * df.u
    ref = df.groupby(["arm", "segment"])[["u", "v", "uv", "uu"]].sum()
    assert set(got) == set(ref.index)
    for key, m in got.items():
        assert isinstance(m, Moments)
        assert m.n == (df.arm.eq(key[0]) & df.segment.eq(key[1])).sum()
        assert m.sum("u") == pytest.approx(ref.loc[key, "u"])
        assert m.cross_sum("u", "v") == pytest.approx(ref.loc[key, "uv"])
        assert m.cross_sum("u", "u") == pytest.approx(ref.loc[key, "uu"])


def test_noninferiority_against_confidences_z_test():
    """Spotify Confidence (spotify_confidence/analysis/frequentist/confidence_computers/
    z_test_computer.py, ``p_value``) tests a non-inferiority margin as a shifted null on the
    difference: z = (diff - null) / se, the null being the margin times the control's mean, one
    sided. With that null given as an absolute margin our test is the same to 1e-9. Our relative
    margin also carries the randomness of the control's mean inside the null, (1 + margin) C
    (Fieller's contrast), so its z is smaller by exactly the square root of the variances' ratio."""
    from statsmodels.stats.weightstats import _zstat_generic

    from recsys.stats.inference import noninferiority

    def case(n):
        c = MeanStats(n, 0.04 * n, 0.04 * n)             # churn 4.0% vs 3.9%
        t = MeanStats(n, 0.039 * n, 0.039 * n)
        return proportion_test(c, t)

    for n in (20_000, 200_000):
        res = case(n)
        null = 0.10 * res.control                            # a +10% margin on churn, as Confidence states it
        _, p_conf = _zstat_generic(res.treatment, res.control, res.se, "smaller", null)
        ours_abs = noninferiority(res, null, relative=False, alpha=0.05)
        assert ours_abs.p_value == pytest.approx(p_conf, abs=1e-9)
        ours_rel = noninferiority(res, 0.10, relative=True, alpha=0.05)
        assert ours_rel.p_value >= p_conf
        z_conf = (null - res.diff) / res.se
        var_t = res.se ** 2 - res.var_control
        ratio = np.sqrt((var_t + res.var_control) / (var_t + 1.1 ** 2 * res.var_control))
        assert ours_rel.z == pytest.approx(z_conf * ratio, rel=1e-9)
