"""An effect estimate as moments: the seam between the estimators and the readouts.

Every estimator of issue 21 (post-stratification, regression adjustment, CUPAC, quantiles)
returns an :class:`Effect`: the control and treatment estimates, the (possibly adjusted)
difference, its variance, the control estimate's variance and the covariance of the two. That
is all a frequentist interval, a p-value, the relative lift by the delta method or a Bayesian
posterior (:mod:`recsys.stats.bayes`) needs, so each readout is written once and every
estimator feeds all of them. ``Effect.to_compare_args()`` gives the arguments of
:func:`recsys.stats.inference.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from recsys.core.errors import InputError
from recsys.stats.inference import welch_df


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float in (0, 1), else InputError."""
    if not (isinstance(alpha, (int, float, np.floating)) and 0 < alpha < 1):
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    return float(alpha)


@dataclass(frozen=True)
class Effect:
    """A treatment-minus-control estimate and its second moments.

    ``var_control`` is the variance of the control estimate and ``cov_diff_control`` the
    covariance of the difference with it (-var_control for two independent, unadjusted arms);
    they give the relative lift diff / control its delta-method variance.
    """

    n_control: int
    n_treatment: int
    control: float
    treatment: float
    diff: float
    var_diff: float
    var_control: float
    cov_diff_control: float
    df: float = np.inf
    method: str = ""

    @property
    def se(self) -> float:
        return float(np.sqrt(self.var_diff)) if self.var_diff >= 0 else float("nan")

    @property
    def rel_lift(self) -> float:
        return float(self.diff / self.control) if self.control != 0 else float("nan")

    @property
    def var_rel(self) -> float:
        """Delta-method variance of diff / control (treating both as estimates)."""
        c, d = self.control, self.diff
        if c == 0:
            return float("nan")
        v = self.var_diff / c ** 2 + d * d * self.var_control / c ** 4 - 2 * d * self.cov_diff_control / c ** 3
        return float(max(v, 0.0))

    @property
    def rel_se(self) -> float:
        return float(np.sqrt(self.var_rel))

    @property
    def z(self) -> float:
        with np.errstate(all="ignore"):
            return float(self.diff / self.se) if self.se > 0 else float("nan")

    def readout(self, alpha: float = 0.05):
        """The frequentist readout (:func:`recsys.stats.inference.compare`): intervals (Fieller's
        for the relative lift), p-value, as for every other row of an analysis."""
        from recsys.stats.inference import compare

        return compare(**self.to_compare_args(), alpha=alpha)

    def ci(self, alpha: float = 0.05) -> tuple[float, float]:
        r = self.readout(alpha)
        return r.ci_low, r.ci_high

    def rel_ci(self, alpha: float = 0.05) -> tuple[float, float]:
        r = self.readout(alpha)
        return r.rel_ci_low, r.rel_ci_high

    def p_value(self) -> float:
        return self.readout().p_value

    @classmethod
    def of(cls, res) -> "Effect":
        """The moments behind a :class:`~recsys.stats.inference.TestResult`."""
        return cls(res.n_control, res.n_treatment, res.control, res.treatment, res.diff, res.se ** 2,
                   res.var_control, res.cov_diff_control, res.df, res.method)

    def to_compare_args(self) -> dict:
        """Keyword arguments for :func:`recsys.stats.inference.compare` (add ``alpha``)."""
        return dict(c_value=self.control, t_value=self.treatment, diff=self.diff, var_diff=self.var_diff,
                    var_c=self.var_control, cov_diff_c=self.cov_diff_control, n_c=self.n_control,
                    n_t=self.n_treatment, df=self.df, method=self.method)

    def to_dict(self, alpha: float = 0.05) -> dict:
        r = self.readout(alpha)
        return {"n_control": int(self.n_control), "n_treatment": int(self.n_treatment),
                "control": float(self.control), "treatment": float(self.treatment), "diff": float(self.diff),
                "ci_low": r.ci_low, "ci_high": r.ci_high, "rel_lift": self.rel_lift, "rel_ci_low": r.rel_ci_low,
                "rel_ci_high": r.rel_ci_high, "p_value": r.p_value, "se": self.se, "rel_se": self.rel_se,
                "df": float(self.df), "method": self.method}


class VarianceReduction:
    """What an adjusted effect saves: ``effect`` beside the ``baseline`` it improves on and, where
    there is one, plain CUPED (``cuped``). Mixed into the adjusted-result dataclasses."""

    @property
    def variance_reduction(self) -> float:
        """1 - var(adjusted difference) / var(baseline difference)."""
        return float(1 - self.effect.var_diff / self.baseline.var_diff)

    @property
    def variance_reduction_vs_cuped(self) -> float | None:
        """1 - var(adjusted difference) / var(plain CUPED difference): what the adjustment adds to it."""
        if self.cuped is None:
            return None
        return float(1 - self.effect.var_diff / self.cuped.var_diff)


def independent_effect(control: float, var_control: float, n_control: int, treatment: float,
                       var_treatment: float, n_treatment: int, *, df: float = np.inf, method: str = "") -> Effect:
    """The effect of two independent estimates (variances of the estimates, not of a unit)."""
    return Effect(int(n_control), int(n_treatment), float(control), float(treatment), float(treatment - control),
                  float(var_control + var_treatment), float(var_control), float(-var_control), float(df), method)


def two_arm_effect(kind: str, c, t) -> Effect:
    """The unadjusted effect of a metric kind from each arm's summary statistics.

    A mean uses s^2 / n and Welch's degrees of freedom; a ratio of sums the delta-method
    variance of :class:`~recsys.stats.summary.RatioStats` (normal); a proportion p (1 - p) / n
    (normal), as gbstats' ``ProportionStatistic``.
    """
    if kind == "proportion":
        with np.errstate(all="ignore"):
            v_c = float(c.mean * (1 - c.mean) / c.n) if c.n else float("nan")
            v_t = float(t.mean * (1 - t.mean) / t.n) if t.n else float("nan")
        return independent_effect(c.mean, v_c, c.n, t.mean, v_t, t.n, method="proportion-z")
    if kind == "ratio":
        return independent_effect(c.mean, c.var_of_mean, c.n, t.mean, t.var_of_mean, t.n, method="delta")
    if kind == "mean":
        v_c, v_t = float(c.var_of_mean), float(t.var_of_mean)
        return independent_effect(c.mean, v_c, c.n, t.mean, v_t, t.n, df=welch_df(v_c, c.n, v_t, t.n),
                                  method="welch")
    raise InputError(f"unknown metric kind {kind!r} (mean, ratio or proportion)")



