"""Power: users per arm for a minimum detectable effect, or the effect n users per arm detect.

Two-sided tests with equal arms. Means (and ratios, given the per-user standard deviation of
the linearised metric) use the two-sample t-test's noncentral t power, as statsmodels'
TTestIndPower; proportions use Cohen's arcsine effect size h with the normal power, as
NormalIndPower with proportion_effectsize. Both are solved exactly (both tails) by root finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats.metrics import get_metric

_N_MAX = 1e12


def t_power(effect_size: float, n: float, alpha: float = 0.05) -> float:
    """Power of a two-sided two-sample t-test with n per arm and standardised effect d."""
    df = 2 * n - 2
    nc = effect_size * np.sqrt(n / 2)
    crit = sps.t.isf(alpha / 2, df)
    upper = sps.nct.sf(crit, df, nc)
    lower = sps.nct.sf(crit, df, -nc)  # P(T < -crit) by symmetry; scipy's far-tail cdf can be NaN
    return float(np.nan_to_num(upper) + np.nan_to_num(lower))


def z_power(effect_size: float, n: float, alpha: float = 0.05) -> float:
    """Power of a two-sided two-sample z-test with n per arm and standardised effect d."""
    nc = effect_size * np.sqrt(n / 2)
    crit = sps.norm.isf(alpha / 2)
    return float(sps.norm.sf(crit - nc) + sps.norm.cdf(-crit - nc))


def cohen_h(p1: float, p2: float) -> float:
    """Arcsine effect size between two proportions (p2 relative to p1)."""
    return float(2 * np.arcsin(np.sqrt(p2)) - 2 * np.arcsin(np.sqrt(p1)))


def _normal_n(d: float, alpha: float, power: float) -> float:
    """The textbook one-tail approximation, a starting point for the exact solution."""
    return 2 * ((sps.norm.isf(alpha / 2) + sps.norm.ppf(power)) / d) ** 2


def _solve_n(power_fn, effect_size: float, alpha: float, power: float) -> float:
    d = abs(effect_size)
    if d == 0 or not np.isfinite(d):
        return np.inf
    n0 = _normal_n(d, alpha, power)
    if n0 > _N_MAX:
        return np.inf
    f = lambda n: power_fn(d, n, alpha) - power  # noqa: E731
    lo, hi = max(2.0 + 1e-9, 0.5 * n0), 2.0 * n0 + 10
    while lo > 2.0 + 1e-9 and f(lo) > 0:
        lo = max(2.0 + 1e-9, lo / 2)
    if f(lo) > 0:
        return lo  # two users per arm already have the power
    while f(hi) < 0:
        hi *= 2
    return float(optimize.brentq(f, lo, hi, xtol=1e-10, rtol=1e-14, maxiter=500))


def _solve_effect(power_fn, n: float, alpha: float, power: float) -> float:
    d0 = np.sqrt(2 * (sps.norm.isf(alpha / 2) + sps.norm.ppf(power)) ** 2 / n)
    f = lambda d: power_fn(d, n, alpha) - power  # noqa: E731
    lo, hi = 0.25 * d0, 4.0 * d0
    while f(lo) > 0:
        lo /= 4
    while f(hi) < 0:
        hi *= 2
        if hi > 1e6:
            return np.inf
    return float(optimize.brentq(f, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500))


def users_per_arm_mean(sd: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Users per arm to detect an absolute change ``mde`` in a mean with per-user sd ``sd``."""
    return _solve_n(t_power, mde / sd, alpha, power)


def mde_mean(sd: float, n: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest absolute change in a mean that n users per arm detect with the given power."""
    return _solve_effect(t_power, n, alpha, power) * sd


def users_per_arm_proportion(baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Users per arm to detect a change from ``baseline`` to ``baseline + mde`` in a rate."""
    return _solve_n(z_power, cohen_h(baseline, baseline + mde), alpha, power)


def mde_proportion(baseline: float, n: float, alpha: float = 0.05, power: float = 0.8,
                   decrease: bool = False) -> float:
    """Smallest change in a rate (an increase, or a decrease) that n users per arm detect."""
    h = _solve_effect(z_power, n, alpha, power)
    a = np.arcsin(np.sqrt(baseline)) + (-h / 2 if decrease else h / 2)
    if not 0 <= a <= np.pi / 2:
        return np.nan  # no change within [0, 1] is detectable with so few users
    return float(np.sin(a) ** 2 - baseline)


@dataclass(frozen=True)
class PowerResult:
    metric: str
    kind: str
    baseline: float
    sd: float | None
    alpha: float
    power: float
    mde: float                 # absolute change
    mde_relative: float        # change / baseline
    users_per_arm: int
    users_per_arm_exact: float
    total_users: int
    effect_size: float         # d = mde / sd for means, Cohen's h for proportions
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def plan(metric: str, baseline: float, *, sd: float | None = None, mde: float | None = None,
         users: int | None = None, alpha: float = 0.05, power: float = 0.8, relative: bool = False,
         arms: int = 2) -> PowerResult:
    """Users per arm for ``mde`` (absolute, or relative to the baseline), or with ``users`` per
    arm the detectable effect; InputError on inconsistent arguments."""
    m = get_metric(metric)
    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise InputError(f"--power must be in (0, 1), got {power}")
    if (mde is None) == (users is None):
        raise InputError("give exactly one of --mde and --users")
    if not np.isfinite(baseline):
        raise InputError(f"--baseline must be a number, got {baseline}")
    if m.kind == "composite":
        raise InputError(f"{metric} is a composite metric; power is available for means, ratios and proportions")
    proportion = m.kind == "proportion"
    if proportion:
        if not 0 < baseline < 1:
            raise InputError(f"--baseline of proportion {metric} must be in (0, 1), got {baseline}")
        sd = None
    else:
        if sd is None:
            what = ("the per-user standard deviation" if m.kind == "mean" else
                    "it is a ratio of per-user sums, so its variance depends on how clicks cluster by user: the "
                    "per-user standard deviation of the linearised ratio (sd_control in recsys analyze's JSON)")
            raise InputError(f"--sd is required for {metric}: {what}; or plan from a previous run with "
                             "--from users.parquet")
        if not (np.isfinite(sd) and sd > 0):
            raise InputError(f"--sd must be positive, got {sd}")
    if relative and baseline == 0:
        raise InputError("--relative needs a non-zero --baseline")
    if mde is not None:
        d_abs = mde * baseline if relative else mde
        if d_abs == 0 or not np.isfinite(d_abs):
            raise InputError(f"--mde must be a non-zero number, got {mde}")
        if proportion:
            if not 0 < baseline + d_abs < 1:
                raise InputError(f"baseline {baseline} + mde {d_abs:g} leaves (0, 1)")
            n = users_per_arm_proportion(baseline, d_abs, alpha, power)
            es = cohen_h(baseline, baseline + d_abs)
        else:
            n = users_per_arm_mean(sd, d_abs, alpha, power)
            es = d_abs / sd
    else:
        if users < 3:
            raise InputError(f"--users must be at least 3 per arm, got {users}")
        n = float(users)
        if proportion:
            d_abs = mde_proportion(baseline, n, alpha, power, decrease=m.lower_is_better)
            es = cohen_h(baseline, baseline + d_abs) if np.isfinite(d_abs) else np.nan
        else:
            d_abs = mde_mean(sd, n, alpha, power)
            if m.lower_is_better:
                d_abs = -d_abs
            es = d_abs / sd
    n_int = int(np.ceil(n - 1e-9)) if np.isfinite(n) else -1
    if n_int < 0:
        raise InputError("no finite number of users reaches that power")
    return PowerResult(metric=metric, kind=m.kind, baseline=float(baseline), sd=None if sd is None else float(sd),
                       alpha=float(alpha), power=float(power), mde=float(d_abs),
                       mde_relative=float(d_abs / baseline) if baseline else float("nan"),
                       users_per_arm=n_int, users_per_arm_exact=float(n), total_users=n_int * arms,
                       effect_size=float(es),
                       method="arcsine (Cohen's h) z-test" if proportion else "two-sample t-test")
