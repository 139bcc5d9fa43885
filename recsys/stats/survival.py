"""Retention as survival: each user's time to churn, right-censored at the end of observation.

A user contributes ``days_observed`` (days from assignment to the day the account lapsed,
counted inclusively, or to the end of the experiment) and ``churned`` (1: the event happened
at that time; 0: censored). Time comes in whole days, so every estimator here reduces to a life
table per (group, day): the users at risk and the events. Kaplan-Meier, Greenwood's variance,
the log-rank test and the Cox model with Efron's handling of ties are all computed on those
counts, which keeps them vectorised whatever the number of users and lets a thousand A/A
replicates run in seconds. The figures agree with statsmodels' ``SurvfuncRight``, ``survdiff``
and ``PHReg(ties="efron")`` on the same data (tests/stats/test_stats_survival.py).

The hazard ratio (treatment / control) from the Cox model is the effect a ``survival`` metric
(``churn_hazard``) reports: :func:`hazard_test` gives it with its Wald interval, the log-rank
p-value beside it, and the churned share by the end of follow-up per arm (Kaplan-Meier).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys.core.errors import InputError

#: the per-user columns of a survival metric: time observed (days) and the event indicator
TIME_COLUMN, EVENT_COLUMN = "days_observed", "churned"


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=False)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _check(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.float64)
    if t.shape != e.shape or t.ndim != 1:
        raise InputError("survival: time and event must be 1-d arrays of the same length")
    if len(t) and (not np.isfinite(t).all() or (t <= 0).any()):
        raise InputError(f"column '{TIME_COLUMN}': times must be positive and finite")
    if len(e) and not np.isin(e, (0.0, 1.0)).all():
        raise InputError(f"column '{EVENT_COLUMN}': the event indicator must be 0 or 1")
    return t, e


@dataclass(frozen=True)
class LifeTable:
    """Users at risk and events per (stratum, group, distinct time): arrays of shape
    (strata, groups, times). ``times`` are the distinct observed times, ascending."""

    times: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray

    @classmethod
    def build(cls, time, event, group=None, strata=None, n_groups: int | None = None) -> "LifeTable":
        """``group`` and ``strata`` are integer codes (0..k-1) aligned with ``time``."""
        t, e = _check(time, event)
        g = np.zeros(len(t), np.int64) if group is None else np.asarray(group, np.int64)
        s = np.zeros(len(t), np.int64) if strata is None else np.asarray(strata, np.int64)
        times, j = np.unique(t, return_inverse=True)
        n_g = int(n_groups if n_groups is not None else (g.max() + 1 if len(g) else 1))
        n_s = int(s.max() + 1) if len(s) else 1
        shape = (n_s, n_g, len(times))
        key = (s * n_g + g) * len(times) + j
        size = n_s * n_g * len(times)
        leaving = np.bincount(key, minlength=size).reshape(shape)
        events = np.bincount(key, weights=e, minlength=size).reshape(shape)
        at_risk = np.cumsum(leaving[..., ::-1], axis=-1)[..., ::-1]      # time >= t
        return cls(times, at_risk.astype(np.float64), events)


def kaplan_meier(time, event, alpha: float = 0.05, *, grid: Sequence[float] | None = None) -> pd.DataFrame:
    """The Kaplan-Meier survival curve with Greenwood's standard error and pointwise
    log-log ("cloglog") intervals, which stay inside [0, 1].

    One row per distinct time with an event (as statsmodels' ``SurvfuncRight``), or, with
    ``grid``, per grid time (the curve is a step function: its value at t is the estimate after
    the events at t). Columns: time, at_risk, events, survival, se, ci_low, ci_high.
    """
    lt = LifeTable.build(time, event)
    n, d = lt.at_risk[0, 0], lt.events[0, 0]
    keep = d > 0
    times, n, d = lt.times[keep], n[keep], d[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n)
        gw = np.cumsum(np.where(n > d, d / (n * (n - d)), np.nan))
    se = surv * np.sqrt(gw)
    out = pd.DataFrame({"time": times, "at_risk": n, "events": d, "survival": surv, "se": se})
    if grid is not None:
        t = np.sort(np.asarray(time, dtype=np.float64))
        ev = np.sort(np.asarray(time, dtype=np.float64)[np.asarray(event, dtype=np.float64) > 0])
        g = np.asarray(grid, dtype=np.float64)
        pos = np.searchsorted(times, g, side="right") - 1          # last event time <= g
        before = pos < 0
        pos = np.maximum(pos, 0)
        upto = np.searchsorted(ev, g, side="right")
        out = pd.DataFrame({
            "time": g,
            "at_risk": (len(t) - np.searchsorted(t, g, side="left")).astype(np.float64),
            "events": np.diff(np.concatenate([[0], upto])).astype(np.float64),
            "survival": np.where(before, 1.0, surv[pos]) if len(surv) else np.ones(len(g)),
            "se": np.where(before, 0.0, se[pos]) if len(se) else np.zeros(len(g)),
        })
    lo, hi = loglog_interval(out["survival"].to_numpy(), out["se"].to_numpy(), alpha)
    out["ci_low"], out["ci_high"] = lo, hi
    return out


def loglog_interval(surv: np.ndarray, se: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval for S(t) on the log(-log S) scale: S^exp(+-z se / (S log S))."""
    z = float(sps.norm.isf(alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        w = z * se / (surv * np.log(surv))
        lo, hi = surv ** np.exp(-w), surv ** np.exp(w)
    exact = (surv >= 1.0) | (se == 0)
    lo = np.where(exact, surv, lo)
    hi = np.where(exact, surv, hi)
    return lo, hi


@dataclass(frozen=True)
class LogRank:
    chi2: float
    df: int
    p_value: float
    observed: tuple[float, ...]      # events per group
    expected: tuple[float, ...]      # expected events per group under equal hazards

    def to_dict(self) -> dict:
        return asdict(self)


def logrank(time, event, group, strata=None) -> LogRank:
    """The log-rank test that the groups share one hazard (stratified when ``strata`` is
    given: observed-minus-expected and its covariance summed over strata). ``group``: any
    labels; the statistic is chi-squared with (groups - 1) degrees of freedom."""
    g, labels = _codes(group)
    s = None if strata is None else _codes(strata)[0]
    lt = LifeTable.build(time, event, g, s, n_groups=len(labels))
    n, d = lt.at_risk, lt.events                            # (S, G, T)
    N, D = n.sum(axis=1), d.sum(axis=1)                     # (S, T)
    ok = N > 1
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(ok[:, None, :], n / N[:, None, :], 0.0)
        expected = share * D[:, None, :]
        factor = np.where(ok, D * (N - D) / (N - 1), 0.0)   # hypergeometric variance factor
    obs_minus = (np.where(ok[:, None, :], d, 0.0) - expected).sum(axis=(0, 2))
    k = len(labels)
    cov = np.einsum("st,sgt->g", factor, share)[:, None] * np.eye(k) - np.einsum("st,sgt,sht->gh", factor, share, share)
    o, v = obs_minus[:-1], cov[:-1, :-1]
    try:
        chi2 = float(o @ np.linalg.solve(v, o)) if k > 1 else float("nan")
    except np.linalg.LinAlgError:
        chi2 = float("nan")
    df = k - 1
    p = float(sps.chi2.sf(chi2, df)) if np.isfinite(chi2) else float("nan")
    return LogRank(chi2, df, p, tuple(map(float, d.sum(axis=(0, 2)))), tuple(map(float, expected.sum(axis=(0, 2)))))


@dataclass(frozen=True)
class CoxFit:
    """A Cox proportional-hazards fit of one 0/1 covariate (treatment vs control), Efron ties."""

    log_hr: float
    se: float              # from the inverse of the observed information at the estimate
    loglik: float
    iterations: int

    @property
    def hr(self) -> float:
        return float(np.exp(self.log_hr))

    def interval(self, alpha: float = 0.05) -> tuple[float, float]:
        z = float(sps.norm.isf(alpha / 2))
        return float(np.exp(self.log_hr - z * self.se)), float(np.exp(self.log_hr + z * self.se))

    @property
    def p_value(self) -> float:
        if not (np.isfinite(self.log_hr) and np.isfinite(self.se) and self.se > 0):
            return float("nan")
        return float(2 * sps.norm.sf(abs(self.log_hr / self.se)))


def cox_binary(time, event, treated, strata=None, *, tol: float = 1e-10, max_iter: int = 50) -> CoxFit:
    """Maximum partial likelihood for the log hazard ratio of ``treated`` (0/1), ties by
    Efron's method (statsmodels' ``PHReg(ties="efron")``; R's default), stratified when
    ``strata`` is given (a baseline hazard per stratum). Newton-Raphson from 0 with step
    halving. NaN when one group has no events (the ratio is 0 or infinite)."""
    x = np.asarray(treated, dtype=np.int64)
    s = None if strata is None else _codes(strata)[0]
    lt = LifeTable.build(time, event, x, s, n_groups=2)
    n0, n1 = lt.at_risk[:, 0, :].ravel(), lt.at_risk[:, 1, :].ravel()
    d0, d1 = lt.events[:, 0, :].ravel(), lt.events[:, 1, :].ravel()
    d = (d0 + d1).astype(np.int64)
    if d1.sum() == 0 or d0.sum() == 0:
        return CoxFit(float("nan"), float("nan"), float("nan"), 0)
    at = np.repeat(np.arange(len(d)), d)                        # one entry per event
    frac = (np.arange(len(at)) - np.repeat(np.cumsum(d) - d, d)) / d[at]
    E = (d0[at], d1[at], n0[at], n1[at], frac)
    total_d1 = float(d1.sum())

    def parts(beta: float) -> tuple[float, float, float]:
        eb = np.exp(beta)
        s0 = E[2] + E[3] * eb - E[4] * (E[0] + E[1] * eb)
        s1 = (E[3] - E[4] * E[1]) * eb
        ratio = s1 / s0
        return (beta * total_d1 - float(np.log(s0).sum()), total_d1 - float(ratio.sum()),
                float((ratio - ratio * ratio).sum()))

    beta, (ll, score, info) = 0.0, parts(0.0)
    it = 0
    for it in range(1, max_iter + 1):
        if info <= 0:
            break
        step = score / info
        new = beta + step
        new_ll, new_score, new_info = parts(new)
        halvings = 0
        while new_ll < ll - 1e-12 and halvings < 30:
            step /= 2
            new = beta + step
            new_ll, new_score, new_info = parts(new)
            halvings += 1
        beta, ll, score, info = new, new_ll, new_score, new_info
        if abs(step) < tol:
            break
    se = float(1.0 / np.sqrt(info)) if info > 0 else float("nan")
    return CoxFit(float(beta), se, float(ll), it)


@dataclass(frozen=True)
class HazardTest:
    """One treatment arm against the control on time to churn.

    ``hr`` and its interval come from the Cox model (Wald; ``p_value`` is the Wald test's, so the
    interval excludes 1 exactly when p <= alpha); ``logrank_p`` is the log-rank test of the same
    null (the Cox model's score test). ``churn_*`` are the Kaplan-Meier churned shares by the
    end of follow-up (1 - S(t_max)), with the Greenwood standard errors of S.
    """

    n_control: int
    n_treatment: int
    events_control: int
    events_treatment: int
    horizon: float
    churn_control: float
    churn_treatment: float
    se_control: float
    se_treatment: float
    hr: float
    hr_ci_low: float
    hr_ci_high: float
    log_hr: float
    se_log_hr: float
    p_value: float
    logrank_chi2: float
    logrank_p: float

    def to_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in asdict(self).items()}


def _end_of(time, event) -> tuple[float, float, float]:
    """Horizon, survival at it and Greenwood's se (S=1, se=0 when nobody churned)."""
    t = np.asarray(time, dtype=np.float64)
    km = kaplan_meier(t, event)
    horizon = float(t.max()) if len(t) else float("nan")
    if km.empty:
        return horizon, 1.0, 0.0
    return horizon, float(km["survival"].iloc[-1]), float(km["se"].iloc[-1])


def hazard_test(time_c, event_c, time_t, event_t, alpha: float = 0.05) -> HazardTest:
    """Cox hazard ratio (treatment / control) with its Wald interval, the log-rank test, and
    each arm's Kaplan-Meier churn by the end of follow-up."""
    tc, ec = _check(time_c, event_c)
    tt, et = _check(time_t, event_t)
    time = np.concatenate([tc, tt])
    event = np.concatenate([ec, et])
    treated = np.concatenate([np.zeros(len(tc), np.int64), np.ones(len(tt), np.int64)])
    fit = cox_binary(time, event, treated) if len(tc) and len(tt) else CoxFit(np.nan, np.nan, np.nan, 0)
    lr = logrank(time, event, treated) if len(tc) and len(tt) else LogRank(np.nan, 1, np.nan, (), ())
    lo, hi = fit.interval(alpha)
    _, s_c, se_c = _end_of(tc, ec) if len(tc) else (np.nan, np.nan, np.nan)
    horizon, s_t, se_t = _end_of(tt, et) if len(tt) else (np.nan, np.nan, np.nan)
    return HazardTest(int(len(tc)), int(len(tt)), int(ec.sum()), int(et.sum()),
                      float(max(tc.max(initial=0), tt.max(initial=0))), 1 - s_c, 1 - s_t, se_c, se_t,
                      fit.hr, lo, hi, fit.log_hr, fit.se, fit.p_value, lr.chi2, lr.p_value)


def survival_curves(table: pd.DataFrame, arms: Sequence[str], segments: Sequence[str] = (), alpha: float = 0.05,
                    time_col: str = TIME_COLUMN, event_col: str = EVENT_COLUMN) -> list[dict]:
    """Kaplan-Meier curves per arm, for all users and per segment, on the whole-day grid
    0..max(days_observed): records {segment, arm, day, at_risk, events, survival, ci_low, ci_high}
    (day 0: everyone, survival 1)."""
    t_all = table[time_col].to_numpy(np.float64)
    if not len(t_all):
        return []
    grid = np.arange(0, int(np.ceil(t_all.max())) + 1, dtype=np.float64)
    arm_col = table["arm"].astype(str).to_numpy()
    seg_col = table["segment"].astype(str).to_numpy() if segments else None
    out = []
    for seg in ["all", *segments]:
        in_seg = np.ones(len(table), bool) if seg == "all" else seg_col == seg
        for arm in arms:
            m = in_seg & (arm_col == arm)
            if not m.any():
                continue
            km = kaplan_meier(t_all[m], table[event_col].to_numpy(np.float64)[m], alpha, grid=grid)
            for r in km.itertuples(index=False):
                out.append({"segment": seg, "arm": arm, "day": int(r.time), "at_risk": int(r.at_risk),
                            "events": int(r.events), "survival": float(r.survival),
                            "ci_low": float(r.ci_low), "ci_high": float(r.ci_high)})
    return out


def users_needed(se_log_hr: float, n_total: int, margin: float, alpha: float, power: float = 0.8) -> float | None:
    """Users (same split, same churn) for a non-inferiority test of the hazard ratio against
    1 + ``margin`` to rule the margin out with ``power`` if the hazard did not change: the
    variance of log HR scales as 1 / users."""
    gap = abs(np.log1p(margin))
    if not (np.isfinite(se_log_hr) and se_log_hr > 0 and gap > 0):
        return None
    z = sps.norm.isf(alpha) + sps.norm.ppf(power)
    return float(np.ceil(n_total * se_log_hr ** 2 * z * z / (gap * gap)))
