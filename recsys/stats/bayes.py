"""Bayesian readout of an A/B comparison, as GrowthBook's gbstats does it.

gbstats (``packages/stats/gbstats/bayesian/tests.py``, ``EffectBayesianABTest``) puts a
Gaussian prior on the *effect* and treats the frequentist estimate as a Gaussian likelihood:
with data mean d and variance v (the estimate of the lift and its delta-method variance) and a
prior N(m, s^2), the posterior is normal with precision 1/v + 1/s^2 and mean
(d/v + m/s^2) / (1/v + 1/s^2). gbstats' default prior is improper (flat), so the posterior is
N(d, v). From the posterior N(mu, sigma^2) of the lift:

* credible interval: the equal-tailed normal quantiles at alpha/2 and 1 - alpha/2;
* chance to beat control: P(lift > 0) (P(lift < 0) for a metric where lower is better);
* risk (expected loss) of choosing an arm: choosing control loses E[max(lift, 0)], choosing
  the treatment loses E[max(-lift, 0)] (swapped when lower is better), in closed form
  E[max(X, 0)] = mu Phi(mu/sigma) + sigma phi(mu/sigma).

Both scales are reported: the absolute lift (treatment - control) and the relative lift
(treatment / control - 1, with the delta-method variance). A prior is stated on one scale and
moved to the other by the control mean (mean x |control|, variance x control^2), as gbstats
does. Any estimator's :class:`~recsys.stats.estimate.Effect` (plain, CUPED, regression,
post-stratified, quantile) can be read out this way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats.estimate import Effect, check_alpha, two_arm_effect

SCALES = ("relative", "absolute")


@dataclass(frozen=True)
class GaussianPrior:
    """A normal prior on the lift: N(mean, variance) on ``scale`` ("relative" or "absolute").

    ``proper=False`` (gbstats' default) is the flat prior: mean and variance are then unused.
    """

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False
    scale: str = "relative"

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise InputError(f"prior scale must be relative or absolute, got {self.scale!r}")
        if not np.isfinite(self.mean):
            raise InputError(f"prior mean must be a finite number, got {self.mean}")
        if not (np.isfinite(self.variance) and self.variance >= 0):
            raise InputError(f"prior variance must be a non-negative number, got {self.variance}")
        if self.proper and self.variance == 0:
            raise InputError("an informative prior needs a positive variance, got 0")

    @classmethod
    def flat(cls) -> "GaussianPrior":
        return cls()

    @classmethod
    def from_config(cls, cfg: dict | None) -> "GaussianPrior":
        """From a mapping such as {"mean": 0, "sd": 0.1, "scale": "relative"} (``sd`` or
        ``variance``); an empty or missing mapping is the flat prior."""
        if not cfg:
            return cls()
        unknown = set(cfg) - {"mean", "sd", "variance", "scale"}
        if unknown:
            raise InputError(f"unknown prior key(s): {', '.join(sorted(unknown))}")
        if "sd" in cfg and "variance" in cfg:
            raise InputError("give the prior's sd or its variance, not both")
        if "sd" in cfg:
            sd = float(cfg["sd"])
            if not sd >= 0:
                raise InputError(f"prior sd must be non-negative, got {sd}")
            variance = sd * sd
        else:
            variance = float(cfg.get("variance", 1.0))
        return cls(float(cfg.get("mean", 0.0)), variance, True, str(cfg.get("scale", "relative")))

    def on_scale(self, scale: str, control: float) -> tuple[float, float]:
        """(mean, variance) of this prior on ``scale``, moved by |control| where the scales differ."""
        if scale == self.scale:
            return self.mean, self.variance
        c = abs(control)
        if scale == "absolute":
            return self.mean * c, self.variance * c * c
        with np.errstate(all="ignore"):
            return self.mean / c, self.variance / (c * c)


def normal_posterior(data_mean: float, data_var: float, prior_mean: float = 0.0, prior_var: float = 1.0,
                     proper: bool = False) -> tuple[float, float]:
    """(mean, sd) of the posterior of an effect with a Gaussian likelihood and a Gaussian prior."""
    if not proper:
        return float(data_mean), float(np.sqrt(data_var)) if data_var >= 0 else float("nan")
    precision = 1.0 / data_var + 1.0 / prior_var
    mean = (data_mean / data_var + prior_mean / prior_var) / precision
    return float(mean), float(np.sqrt(1.0 / precision))


def expected_loss(mu: float, sigma: float) -> tuple[float, float]:
    """(E[max(X, 0)], E[max(-X, 0)]) for X ~ N(mu, sigma^2): the risks of choosing control and
    of choosing the treatment when X is the lift."""
    if sigma == 0:
        return max(mu, 0.0), max(-mu, 0.0)
    r = mu / sigma
    pdf = sps.norm.pdf(r)
    return float(mu * sps.norm.cdf(r) + sigma * pdf), float(-mu * sps.norm.cdf(-r) + sigma * pdf)


@dataclass(frozen=True)
class Posterior:
    """The posterior of the lift on one scale."""

    mean: float
    sd: float
    ci_low: float
    ci_high: float
    chance_to_win: float     # P(the treatment is better)
    risk_control: float      # expected loss of choosing control
    risk_treatment: float    # expected loss of choosing the treatment


def _posterior(data_mean: float, data_var: float, prior: GaussianPrior, scale: str, control: float, alpha: float,
               lower_is_better: bool) -> Posterior:
    nan = float("nan")
    if not (np.isfinite(data_mean) and np.isfinite(data_var) and data_var > 0):
        return Posterior(nan, nan, nan, nan, nan, nan, nan)
    m, v = prior.on_scale(scale, control)
    if prior.proper and not (np.isfinite(v) and v > 0):
        return Posterior(nan, nan, nan, nan, nan, nan, nan)
    mu, sigma = normal_posterior(data_mean, data_var, m, v, prior.proper)
    q = sps.norm.isf(alpha / 2)
    up = float(sps.norm.sf(0.0, mu, sigma))
    gain, loss = expected_loss(mu, sigma)
    if lower_is_better:   # a negative lift is the win: swap the chance and the risks
        return Posterior(mu, sigma, mu - q * sigma, mu + q * sigma, 1.0 - up, loss, gain)
    return Posterior(mu, sigma, mu - q * sigma, mu + q * sigma, up, gain, loss)


@dataclass(frozen=True)
class BayesResult:
    """A Bayesian readout of one treatment against control, on both scales."""

    n_control: int
    n_treatment: int
    control: float
    treatment: float
    absolute: Posterior
    relative: Posterior
    prior: GaussianPrior = field(default_factory=GaussianPrior)
    alpha: float = 0.05
    lower_is_better: bool = False
    method: str = "bayes"

    @property
    def chance_to_win(self) -> float:
        """P(treatment better than control), from the relative posterior (gbstats' default scale)."""
        return self.relative.chance_to_win

    def to_dict(self) -> dict:
        a, r = self.absolute, self.relative
        return {"n_control": self.n_control, "n_treatment": self.n_treatment,
                "control": self.control, "treatment": self.treatment,
                "diff": a.mean, "diff_sd": a.sd, "ci_low": a.ci_low, "ci_high": a.ci_high,
                "rel_lift": r.mean, "rel_sd": r.sd, "rel_ci_low": r.ci_low, "rel_ci_high": r.ci_high,
                "chance_to_win": r.chance_to_win, "chance_to_win_abs": a.chance_to_win,
                "risk_control": r.risk_control, "risk_treatment": r.risk_treatment,
                "risk_control_abs": a.risk_control, "risk_treatment_abs": a.risk_treatment,
                "prior": asdict(self.prior), "credible_level": 1 - self.alpha,
                "lower_is_better": self.lower_is_better, "method": self.method}


def bayes_readout(effect: Effect, prior: GaussianPrior | None = None, alpha: float = 0.05,
                  lower_is_better: bool = False) -> BayesResult:
    """Posterior of the absolute and relative lift of ``effect`` under ``prior`` (flat by default).

    The relative lift's data are diff / |control| and its delta-method variance, as gbstats'
    ``frequentist_diff`` / ``frequentist_variance``.
    """
    alpha = check_alpha(alpha)
    prior = prior or GaussianPrior()
    c = float(effect.control)
    rel_mean = effect.diff / abs(c) if c != 0 else float("nan")
    rel_var = effect.var_rel if c != 0 else float("nan")
    return BayesResult(
        n_control=int(effect.n_control), n_treatment=int(effect.n_treatment), control=c,
        treatment=float(effect.treatment),
        absolute=_posterior(effect.diff, effect.var_diff, prior, "absolute", c, alpha, lower_is_better),
        relative=_posterior(rel_mean, rel_var, prior, "relative", c, alpha, lower_is_better),
        prior=prior, alpha=alpha, lower_is_better=bool(lower_is_better),
        method=f"bayes({effect.method})" if effect.method else "bayes")


def bayes_test(kind: str, c, t, prior: GaussianPrior | None = None, alpha: float = 0.05,
               lower_is_better: bool = False) -> BayesResult:
    """Bayesian readout of a mean, ratio or proportion from each arm's summary statistics
    (:class:`~recsys.stats.summary.MeanStats` or :class:`~recsys.stats.summary.RatioStats`)."""
    return bayes_readout(two_arm_effect(kind, c, t), prior, alpha, lower_is_better)
