"""Group-sequential bounds: Confidence's solver, the multivariate normal, published constants.

Confidence cases: ``sequential_bounds`` of spotify-confidence 4.1.0
(``spotify_confidence/analysis/frequentist/confidence_computers/z_test_computer.py``: power
spending rho = 2, one-sided bounds at alpha / sides, z truncated at 8) run on the fractions
below; the package pulls in a plotting and notebook stack, so its outputs are written out
here. Its solver integrates on a trapezoid grid and stops its search when the spend is within
1e-7 of the target, so its bounds carry errors of a few 1e-5 (the multivariate normal test
below shows ours are exact to 1e-7 in probability): agreement is asserted to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats.group_sequential import (GroupSequentialDesign, alpha_spent, classic_constant, design,
                                           equally_spaced, exit_probabilities, group_sequential_test,
                                           information_fractions)

CONFIDENCE = {
    "14 daily looks": (np.arange(1, 15) / 14, 0.05, [
        3.657082753411244, 3.346548601202309, 3.1593966880012574, 3.0144971020174864, 2.8932648782831305,
        2.787621241746987, 2.6931950436928194, 2.6072774284331692, 2.528058893424558, 2.454269699108931,
        2.3849547975748964, 2.3194208885513907, 2.2571005147512184, 2.1975564784531887]),
    "5 looks": (np.arange(1, 6) / 5, 0.05, [
        3.090232306167813, 2.7140784033493683, 2.4727370728911673, 2.2798109461451133, 2.113967900571434]),
    "irregular looks": (np.array([0.1, 0.25, 0.3, 0.55, 0.8, 1.0]), 0.05, [
        3.4807564043462422, 2.9966036435904266, 2.9991494768402327, 2.507029477474703, 2.2576380080057317,
        2.1105838217952106]),
    "7 looks at alpha 0.01": (np.arange(1, 8) / 7, 0.01, [
        3.7139097099001463, 3.408698383028726, 3.225821561532606, 3.0845437770143764, 2.966554226378035,
        2.8639321256447725, 2.7723359263062597]),
}


@pytest.mark.parametrize("name", list(CONFIDENCE))
def test_bounds_match_confidence(name):
    t, alpha, expected = CONFIDENCE[name]
    one_sided = design(t, alpha / 2, "power", 2.0, sides=1)      # Confidence's own construction
    symmetric = design(t, alpha, "power", 2.0, sides=2)          # ours for a two-sided test
    np.testing.assert_allclose(one_sided.bounds, expected, rtol=0, atol=1e-4)
    np.testing.assert_allclose(symmetric.bounds, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("spending, sides", [("obrien-fleming", 2), ("pocock", 2), ("hsd", 1), ("power", 2)])
def test_spent_alpha_is_the_multivariate_normal_rectangle(spending, sides):
    """1 - P(|Z_j| < b_j, j <= k) = alpha(t_k), with corr(Z_i, Z_j) = sqrt(t_i / t_j), by scipy's
    multivariate normal (Genz's algorithm) on three irregular looks."""
    t = np.array([0.3, 0.55, 1.0])
    d = design(t, 0.05, spending, sides=sides)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    b = np.array(d.bounds)
    mvn = sps.multivariate_normal(np.zeros(3), cov, abseps=1e-10, releps=1e-10, maxpts=1_000_000, seed=1)
    inside = mvn.cdf(b, lower_limit=-b if sides == 2 else np.full(3, -np.inf))
    assert 1 - inside == pytest.approx(d.cumulative_alpha[-1], abs=1e-7)


def test_classic_constants_match_jennison_turnbull():
    """Pocock's C_P(K, 0.05) and O'Brien-Fleming's C_B(K, 0.05), two-sided (Jennison & Turnbull
    2000, tables 2.1 and 2.3)."""
    pocock = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413, 10: 2.555}
    obf = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040, 10: 2.087}
    for k, c in pocock.items():
        assert round(classic_constant("pocock", k), 3) == c
    for k, c in obf.items():
        assert round(classic_constant("obrien-fleming", k), 3) == c
    assert classic_constant("pocock", 1) == pytest.approx(1.959964, abs=1e-6)


def test_inflation_factors_match_jennison_turnbull():
    """R(K, 0.05, beta) of the classic designs (Jennison & Turnbull 2000, tables 2.1 and 2.3)."""
    def r(shape, k, power):
        c = classic_constant(shape, k)
        scale = np.ones(k) if shape == "pocock" else np.sqrt(k / np.arange(1, k + 1))
        g = GroupSequentialDesign(tuple(equally_spaced(k)), 0.05, 2, shape, None, tuple(c * scale), (), ())
        return round(g.inflation_factor(power), 3)

    assert [r("pocock", k, 0.8) for k in (2, 3, 4)] == [1.110, 1.166, 1.202]
    assert [r("pocock", k, 0.9) for k in (2, 3, 4)] == [1.100, 1.151, 1.183]
    assert [r("obrien-fleming", k, 0.8) for k in (2, 3, 4, 5)] == [1.008, 1.017, 1.024, 1.028]
    assert [r("obrien-fleming", k, 0.9) for k in (2, 3, 4, 5)] == [1.007, 1.016, 1.022, 1.026]


def test_lan_demets_obrien_fleming_five_looks():
    """The tabulated Lan-DeMets O'Brien-Fleming bounds for 5 equally spaced looks, two-sided 0.05
    (as gsDesign's sfLDOF gives them): 4.877, 3.357, 2.680, 2.290, 2.031."""
    d = design(equally_spaced(5), 0.05, "obrien-fleming")
    assert [round(b, 3) for b in d.bounds] == [4.877, 3.357, 2.680, 2.290, 2.031]
    assert d.cumulative_alpha[-1] == pytest.approx(0.05)
    assert sum(d.spent) == pytest.approx(0.05, abs=1e-9)


def test_single_look_is_the_fixed_test():
    d = design([1.0], 0.05, "pocock")
    assert d.bounds[0] == pytest.approx(sps.norm.isf(0.025), abs=1e-9)
    assert d.inflation_factor(0.8) == pytest.approx(1.0, abs=1e-7)


def test_spending_shapes():
    t = np.array([0.25, 0.5, 1.0])
    assert alpha_spent(t, 0.05, "hsd", 0.0) == pytest.approx(0.05 * t)
    assert alpha_spent(t, 0.05, "power", 1.0) == pytest.approx(0.05 * t)
    for name in ("obrien-fleming", "pocock", "hsd", "power"):
        a = alpha_spent(t, 0.05, name)
        assert np.all(np.diff(a) > 0) and a[-1] == pytest.approx(0.05)
    # O'Brien-Fleming spends least early, Pocock most
    assert alpha_spent([0.25], 0.05, "obrien-fleming")[0] < alpha_spent([0.25], 0.05, "pocock")[0]


def test_inflation_orders_the_designs():
    t = equally_spaced(14)
    obf, poc = design(t, 0.05, "obrien-fleming"), design(t, 0.05, "pocock")
    assert 1.0 < obf.inflation_factor(0.8) < poc.inflation_factor(0.8)
    assert 0 < obf.power_loss(0.8) < poc.power_loss(0.8)


def test_power_under_drift_matches_simulation():
    """Exit probabilities under a drift against 200,000 simulated paths (4.5 binomial sd)."""
    t = np.array([0.2, 0.5, 0.75, 1.0])
    d = design(t, 0.05, "pocock")
    up, down = exit_probabilities(d.bounds, t, drift=2.5)
    rng = np.random.default_rng(3)
    inc = rng.standard_normal((200_000, t.size)) * np.sqrt(np.diff(np.r_[0, t])) + 2.5 * np.diff(np.r_[0, t])
    z = np.cumsum(inc, axis=1) / np.sqrt(t)
    sim = (np.abs(z) >= np.array(d.bounds)).any(axis=1).mean()
    assert abs(sim - (up.sum() + down.sum())) < 4.5 * np.sqrt(0.25 / 200_000)


def test_group_sequential_test_over_looks():
    res = group_sequential_test([1.0, 2.0, 3.5, 2.5], [0.25, 0.5, 0.75, 1.0], 0.05, "obrien-fleming")
    assert [lk.reject for lk in res.looks] == [False, False, True, True]
    assert res.first_rejection == 3
    assert res.to_dict()["looks"][2]["bound"] == pytest.approx(res.design.bounds[2])
    one = group_sequential_test([-5.0], [1.0], sides=1)
    assert not one.looks[0].reject


def test_repeated_fraction_reuses_the_bound():
    d = design([0.5, 0.5, 1.0], 0.05)
    assert d.bounds[0] == d.bounds[1]
    assert d.cumulative_alpha[-1] == pytest.approx(sum(d.spent), abs=1e-9)


def test_information_fractions():
    np.testing.assert_allclose(information_fractions([4.0, 2.0, 1.0, 0.9], 1.0), [0.25, 0.5, 1.0, 1.0])


@pytest.mark.parametrize("kwargs, message", [
    ({"fractions": [0.5, 0.3, 1.0]},
     "looks out of order: information fraction 0.3 at look 2 comes after 0.5 at look 1"),
    ({"fractions": [0.0, 1.0]}, "information fraction 0 at look 1 is outside (0, 1]"),
    ({"fractions": [0.5, 1.2]}, "information fraction 1.2 at look 2 is outside (0, 1]"),
    ({"fractions": []}, "a group-sequential design needs at least one look"),
    ({"fractions": [1.0], "alpha": 0.0}, "alpha must be in (0, 1), got 0.0"),
    ({"fractions": [1.0], "spending": "haybittle"},
     "unknown spending function 'haybittle' (known: obrien-fleming, pocock, hsd, power)"),
    ({"fractions": [1.0], "spending": "power", "param": -1.0}, "power spending needs rho > 0, got -1.0"),
    ({"fractions": [1.0], "spending": "pocock", "param": 2.0}, "spending function pocock takes no parameter"),
    ({"fractions": [1.0], "sides": 3}, "sides must be 1 or 2, got 3"),
])
def test_bad_design_is_one_line(kwargs, message):
    with pytest.raises(InputError) as err:
        design(**kwargs)
    assert str(err.value) == message


def test_bad_test_inputs():
    with pytest.raises(InputError, match="2 z statistics for 3 looks"):
        group_sequential_test([1.0, 2.0], [0.3, 0.6, 1.0])
    with pytest.raises(InputError, match="looks must be a positive whole number"):
        equally_spaced(0)


def test_helpers_for_power_and_the_daily_monitor():
    from recsys.stats.estimate import Effect
    from recsys.stats.group_sequential import group_sequential_from_effects, sample_size_inflation
    assert sample_size_inflation(5, spending="obrien-fleming") == pytest.approx(
        design(equally_spaced(5)).inflation_factor(0.8))
    effects = [Effect(50 * k, 50 * k, 10.0, 10.0 + d, d, 1.0 / k, 0.5 / k, -0.5 / k) for k, d in ((1, 0.5), (2, 3.0))]
    res = group_sequential_from_effects(effects, n_planned=200)
    assert res.design.fractions == (0.5, 1.0)
    assert res.looks[1].z == pytest.approx(3.0 * np.sqrt(2)) and res.first_rejection == 2
    with pytest.raises(InputError, match="planned number of users"):
        group_sequential_from_effects(effects)
