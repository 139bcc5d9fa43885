"""Group-sequential designs: alpha spending over planned looks (Lan & DeMets 1983).

A design spends its type I error over K looks at information fractions 0 < t_1 < ... <= 1
(t_k = I_k / I_max, the share of the final information, e.g. users so far / users planned).
The spending function alpha(t) gives the error that may have been spent by t; look k's bound
b_k is the value with P(|Z_j| < b_j for j < k, |Z_k| >= b_k) = alpha(t_k) - alpha(t_{k-1})
under the null, where Z_k are the cumulative z statistics, jointly normal with
corr(Z_j, Z_k) = sqrt(t_j / t_k). Spending functions (per side, alpha_s = alpha / sides):

* ``obrien-fleming``: 2 (1 - Phi(z_{1 - alpha_s / 2} / sqrt(t))) (Lan & DeMets 1983)
* ``pocock``: alpha_s log(1 + (e - 1) t) (Lan & DeMets 1983)
* ``hsd``: alpha_s (1 - exp(-gamma t)) / (1 - exp(-gamma)), gamma = ``param``
  (Hwang, Shih & DeCani 1990; gamma = -4 resembles O'Brien-Fleming, 1 Pocock, 0 is linear)
* ``power``: alpha_s t^rho, rho = ``param`` (Kim & DeMets 1987; Spotify's Confidence uses rho = 2)

Two-sided designs are symmetric (bounds +-b_k, each side spending alpha_s), as gsDesign and
rpact build them. The crossing probabilities come from the recursive numerical integration
of Armitage, McPherson & Rowe (1969), as in Jennison & Turnbull (2000, ch. 19): the
sub-density of the B-value W(t) = Z(t) sqrt(t) on the continuation region is carried from look
to look on a Simpson grid (spacing a fraction of the increment's sd, the kernel evaluated only
within +-9 sd), and each bound is the root of an exact normal tail sum over that grid.
Confidence's solver (``spotify_confidence/analysis/frequentist/sequential_bound_solver.py``, a
port of R's ldbounds) does the same with a trapezoid grid; ``min_spend`` and ``z_max`` reproduce
its rule for looks with almost nothing to spend.

The sample-size inflation factor R = I_max / I_fixed is the ratio of the squared drifts that
give the design and a single look the same power (Jennison & Turnbull 2000, ch. 2-7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import optimize
from scipy import stats as sps

from recsys.core.errors import InputError

SPENDING = ("obrien-fleming", "pocock", "hsd", "power")
_SD_SPAN = 9.0          # the kernel and the densities are cut at +-9 sd (mass beyond: 2e-19)
_MAX_POINTS = 20000     # grid points per look, a guard against pathological spacing


def check_fractions(fractions) -> np.ndarray:
    """Information fractions as an array; InputError unless they are in (0, 1] and in order."""
    t = np.asarray(fractions, dtype=np.float64).ravel()
    if t.size == 0:
        raise InputError("a group-sequential design needs at least one look")
    if not np.all(np.isfinite(t)):
        raise InputError("information fractions must be numbers in (0, 1]")
    bad = np.flatnonzero((t <= 0) | (t > 1 + 1e-12))
    if bad.size:
        k = int(bad[0])
        raise InputError(f"information fraction {t[k]:g} at look {k + 1} is outside (0, 1]")
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        k = int(back[0]) + 1
        raise InputError(f"looks out of order: information fraction {t[k]:g} at look {k + 1} "
                         f"comes after {t[k - 1]:g} at look {k}")
    return np.minimum(t, 1.0)


def _check_design_args(alpha: float, sides: int, spending: str, param: float | None) -> float | None:
    if not (isinstance(alpha, (int, float, np.floating)) and 0 < alpha < 1):
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    if sides not in (1, 2):
        raise InputError(f"sides must be 1 or 2, got {sides}")
    if spending not in SPENDING:
        raise InputError(f"unknown spending function {spending!r} (known: {', '.join(SPENDING)})")
    if spending == "hsd":
        param = -4.0 if param is None else float(param)
        if not np.isfinite(param):
            raise InputError(f"hsd gamma must be a finite number, got {param}")
    elif spending == "power":
        param = 2.0 if param is None else float(param)
        if not (np.isfinite(param) and param > 0):
            raise InputError(f"power spending needs rho > 0, got {param}")
    elif param is not None:
        raise InputError(f"spending function {spending} takes no parameter")
    return param


def alpha_spent(t, alpha: float = 0.05, spending: str = "obrien-fleming", param: float | None = None,
                sides: int = 2) -> np.ndarray:
    """Cumulative type I error spent by information fractions ``t`` (both sides together)."""
    param = _check_design_args(alpha, sides, spending, param)
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    a = alpha / sides
    with np.errstate(divide="ignore"):
        if spending == "obrien-fleming":
            per_side = np.where(t > 0, 2 * sps.norm.sf(sps.norm.isf(a / 2) / np.sqrt(t)), 0.0)
        elif spending == "pocock":
            per_side = a * np.log1p((np.e - 1) * t)
        elif spending == "hsd":
            per_side = a * t if param == 0 else a * (-np.expm1(-param * t)) / (-np.expm1(-param))
        else:
            per_side = a * t ** param
    return per_side * sides


def _simpson(lo: float, hi: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of the composite Simpson rule on [lo, hi] with spacing at most h."""
    m = int(np.ceil((hi - lo) / h)) if hi > lo else 2
    m = min(max(m + (m % 2), 2), _MAX_POINTS)
    x = np.linspace(lo, hi, m + 1)
    w = np.full(m + 1, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * (hi - lo) / (3 * m)


class _BValue:
    """The sub-density of W(t) = Z(t) sqrt(t) (drift ``drift`` per unit t) on the continuation
    region of the looks so far, held as grid points and weight x density values."""

    def __init__(self, drift: float, points_per_sd: float):
        self.drift = drift
        self.ppsd = points_per_sd
        self.t = 0.0
        self.x = np.zeros(1)
        self.g = np.ones(1)     # a point mass at W(0) = 0

    def _shift(self, t: float) -> tuple[float, float]:
        dt = t - self.t
        return self.drift * dt, np.sqrt(dt)

    def upper(self, w_bound: float, t: float) -> float:
        """P(continued so far, W(t) >= w_bound)."""
        mu, sd = self._shift(t)
        return float(self.g @ sps.norm.sf((w_bound - self.x - mu) / sd))

    def lower(self, w_bound: float, t: float) -> float:
        """P(continued so far, W(t) <= w_bound)."""
        mu, sd = self._shift(t)
        return float(self.g @ sps.norm.cdf((w_bound - self.x - mu) / sd))

    def advance(self, lo: float, hi: float, t: float, next_sd: float | None) -> None:
        """Move to look t, keeping only the paths with lo < W(t) < hi."""
        mu, sd = self._shift(t)
        centre = self.drift * t
        lo = max(lo, centre - _SD_SPAN * np.sqrt(t))
        hi = min(hi, centre + _SD_SPAN * np.sqrt(t))
        h = min(sd, next_sd if next_sd else sd) / self.ppsd
        y, wy = _simpson(lo, hi, h)
        if hi <= lo:
            self.t, self.x, self.g = t, y, np.zeros_like(y)
            return
        # f(y) = sum_j g_j phi((y - x_j - mu) / sd) / sd, over the x_j within +-9 sd of y only
        start = np.searchsorted(self.x, y - mu - _SD_SPAN * sd, side="left")
        stop = np.searchsorted(self.x, y - mu + _SD_SPAN * sd, side="right")
        band = int(np.max(stop - start)) if y.size else 0
        f = np.zeros_like(y)
        if band > 0:
            chunk = max(1, (1 << 22) // band)
            for s in range(0, y.size, chunk):
                sl = slice(s, s + chunk)
                idx = start[sl, None] + np.arange(band)[None, :]
                valid = idx < stop[sl, None]
                idx = np.minimum(idx, self.x.size - 1)
                u = (y[sl, None] - self.x[idx] - mu) / sd
                f[sl] = np.sum(np.where(valid, self.g[idx] * np.exp(-0.5 * u * u), 0.0), axis=1)
        self.t, self.x, self.g = t, y, wy * f / (sd * np.sqrt(2 * np.pi))


def _solve_bounds(t: np.ndarray, increments: np.ndarray, sides: int, z_max: float, min_spend: float,
                  points_per_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the z scale spending ``increments`` at fractions ``t``; returns (bounds, spent
    per look), the latter the crossing probabilities actually spent (less where z_max binds)."""
    proc = _BValue(0.0, points_per_sd)
    k_looks = t.size
    bounds = np.empty(k_looks)
    spent = np.zeros(k_looks)
    carry = 0.0               # error a look could not spend (a z_max cap) goes to the next look
    for k in range(k_looks):
        if k > 0 and t[k] - t[k - 1] < 1e-9:     # no new information: the same test again
            bounds[k] = bounds[k - 1]
            carry += increments[k]
            continue
        target = increments[k] + carry
        rt = np.sqrt(t[k])

        def exit_prob(b: float) -> float:
            p = proc.upper(b * rt, t[k])
            return p + proc.lower(-b * rt, t[k]) if sides == 2 else p

        if k > 0 and target < min_spend:
            b, forfeit = z_max, True     # ldbounds: too little to spend; the look's share is lost
        elif target <= 0 or exit_prob(z_max) >= target:
            b, forfeit = z_max, False
        elif exit_prob(0.0) <= target:
            b, forfeit = 0.0, False      # more to spend than the paths still running can use
        else:
            b = optimize.brentq(lambda v: exit_prob(v) - target, 0.0, z_max, xtol=1e-12, rtol=1e-14)
            forfeit = False
        bounds[k] = b
        spent[k] = exit_prob(b)
        carry = 0.0 if forfeit else target - spent[k]
        if k + 1 < k_looks:
            nxt = np.sqrt(t[k + 1] - t[k]) if t[k + 1] - t[k] >= 1e-9 else None
            proc.advance(-b * rt if sides == 2 else -np.inf, b * rt, t[k], nxt)
    return bounds, spent


def exit_probabilities(bounds, fractions, drift: float = 0.0, sides: int = 2,
                       points_per_sd: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Per look, P(first crossing of the upper bound) and of the lower bound (-bound; zero for a
    one-sided design), when E[Z(t)] = drift sqrt(t) (drift = the expected z at t = 1)."""
    t = check_fractions(fractions)
    b = np.asarray(bounds, dtype=np.float64)
    proc = _BValue(float(drift), points_per_sd)
    up, down = np.zeros(t.size), np.zeros(t.size)
    for k in range(t.size):
        if k > 0 and t[k] - t[k - 1] < 1e-9:
            continue
        rt = np.sqrt(t[k])
        up[k] = proc.upper(b[k] * rt, t[k])
        if sides == 2:
            down[k] = proc.lower(-b[k] * rt, t[k])
        if k + 1 < t.size:
            nxt = np.sqrt(t[k + 1] - t[k]) if t[k + 1] - t[k] >= 1e-9 else None
            proc.advance(-b[k] * rt if sides == 2 else -np.inf, b[k] * rt, t[k], nxt)
    return up, down


def _fixed_drift(alpha: float, power: float, sides: int) -> float:
    """The expected z at which a single look at level alpha has the given power."""
    z = sps.norm.isf(alpha / sides)
    if sides == 1:
        return float(z + sps.norm.ppf(power))
    f = lambda d: sps.norm.sf(z - d) + sps.norm.cdf(-z - d) - power  # noqa: E731
    return float(optimize.brentq(f, 0.0, z + sps.norm.ppf(power) + 1, xtol=1e-13))


@dataclass(frozen=True)
class GroupSequentialDesign:
    """Bounds of a group-sequential test (z scale; reject when |Z_k| >= bounds[k])."""

    fractions: tuple[float, ...]
    alpha: float
    sides: int
    spending: str
    param: float | None
    bounds: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]   # the spending function at each look
    spent: tuple[float, ...]              # the crossing probability of each look under the null
    points_per_sd: float = 8.0

    @property
    def nominal_p(self) -> tuple[float, ...]:
        """Each bound as a fixed-horizon p-value threshold."""
        return tuple(float(self.sides * sps.norm.sf(b)) for b in self.bounds)

    def power(self, drift: float) -> float:
        """P(reject at some look) when the expected z at t = 1 is ``drift``."""
        up, down = exit_probabilities(self.bounds, self.fractions, drift, self.sides, self.points_per_sd)
        return float(up.sum() + down.sum())

    def drift_for_power(self, power: float = 0.8) -> float:
        if not 0 < power < 1:
            raise InputError(f"power must be in (0, 1), got {power}")
        start = _fixed_drift(self.alpha, power, self.sides)
        hi = start * 1.5 + 1
        while self.power(hi) < power:
            hi *= 1.5
        return float(optimize.brentq(lambda d: self.power(d) - power, 0.0, hi, xtol=1e-10))

    def inflation_factor(self, power: float = 0.8) -> float:
        """Maximum sample size of this design over that of a single look with the same power
        (multiply ``recsys power``'s users per arm by it)."""
        return (self.drift_for_power(power) / _fixed_drift(self.alpha, power, self.sides)) ** 2

    def power_loss(self, power: float = 0.8) -> float:
        """Power lost at the fixed design's sample size: ``power`` - this design's power there."""
        return float(power - self.power(_fixed_drift(self.alpha, power, self.sides)))

    def to_dict(self) -> dict:
        return {"fractions": list(self.fractions), "alpha": self.alpha, "sides": self.sides,
                "spending": self.spending, "param": self.param, "bounds": list(self.bounds),
                "nominal_p": list(self.nominal_p), "cumulative_alpha": list(self.cumulative_alpha),
                "spent": list(self.spent)}


def design(fractions: Sequence[float], alpha: float = 0.05, spending: str = "obrien-fleming",
           param: float | None = None, sides: int = 2, *, z_max: float = 8.0, min_spend: float = 0.0,
           points_per_sd: float = 8.0) -> GroupSequentialDesign:
    """Bounds for looks at ``fractions`` spending ``alpha`` with the named spending function.

    ``z_max`` caps every bound; a look after the first with less than ``min_spend`` to spend
    gets ``z_max`` (ldbounds' rule, which Confidence keeps with 8 and 1e-7); what a capped look
    does not spend carries to the next.
    """
    t = check_fractions(fractions)
    param = _check_design_args(alpha, sides, spending, param)
    if not (np.isfinite(z_max) and z_max > 0):
        raise InputError(f"z_max must be a positive number, got {z_max}")
    cum = alpha_spent(t, alpha, spending, param, sides)
    inc = np.diff(np.concatenate([[0.0], cum]))
    bounds, spent = _solve_bounds(t, inc, sides, float(z_max), float(min_spend), float(points_per_sd))
    return GroupSequentialDesign(tuple(map(float, t)), float(alpha), int(sides), spending, param,
                                 tuple(map(float, bounds)), tuple(map(float, cum)), tuple(map(float, spent)),
                                 float(points_per_sd))


def equally_spaced(looks: int) -> np.ndarray:
    """Fractions k / K of K equally spaced looks."""
    if not (isinstance(looks, (int, np.integer)) and looks >= 1):
        raise InputError(f"looks must be a positive whole number, got {looks}")
    return np.arange(1, looks + 1) / looks


def classic_constant(shape: str, looks: int, alpha: float = 0.05, sides: int = 2) -> float:
    """The constant C of Pocock's (1977) bounds C at every look, or O'Brien & Fleming's (1979)
    C sqrt(K / k), for K equally spaced looks (Jennison & Turnbull 2000, tables 2.1 and 2.3)."""
    if shape not in ("pocock", "obrien-fleming"):
        raise InputError(f"unknown classic design {shape!r} (pocock or obrien-fleming)")
    t = equally_spaced(looks)
    scale = np.ones(looks) if shape == "pocock" else np.sqrt(looks / np.arange(1, looks + 1))

    def excess(c: float) -> float:
        up, down = exit_probabilities(c * scale, t, 0.0, sides)
        return up.sum() + down.sum() - alpha

    z = sps.norm.isf(alpha / sides)
    if looks == 1:
        return float(z)
    return float(optimize.brentq(excess, z, z + 3, xtol=1e-12))


@dataclass(frozen=True)
class SequentialLook:
    look: int
    fraction: float
    z: float
    bound: float
    nominal_p: float
    reject: bool


@dataclass(frozen=True)
class GroupSequentialResult:
    design: GroupSequentialDesign
    looks: tuple[SequentialLook, ...]

    @property
    def first_rejection(self) -> int | None:
        return next((lk.look for lk in self.looks if lk.reject), None)

    def to_dict(self) -> dict:
        return {"design": self.design.to_dict(), "first_rejection": self.first_rejection,
                "looks": [lk.__dict__ for lk in self.looks]}


def group_sequential_test(z, fractions: Sequence[float], alpha: float = 0.05, spending: str = "obrien-fleming",
                          param: float | None = None, sides: int = 2, **design_kwargs) -> GroupSequentialResult:
    """Each look's bound (computed at the observed fractions, as Lan-DeMets allows), its z and
    whether it rejects; a two-sided design rejects when |z| >= bound, a one-sided one when
    z >= bound. The experiment stops at ``first_rejection``."""
    z = np.asarray(z, dtype=np.float64).ravel()
    d = design(fractions, alpha, spending, param, sides, **design_kwargs)
    if z.size != len(d.bounds):
        raise InputError(f"{z.size} z statistics for {len(d.bounds)} looks")
    stat = np.abs(z) if sides == 2 else z
    looks = tuple(SequentialLook(k + 1, d.fractions[k], float(z[k]), d.bounds[k], d.nominal_p[k],
                                 bool(np.isfinite(stat[k]) and stat[k] >= d.bounds[k]))
                  for k in range(z.size))
    return GroupSequentialResult(d, looks)


def information_fractions(variances, final_variance: float) -> np.ndarray:
    """t_k = final_variance / var_k: the information so far over the planned final information
    (``final_variance``: the variance of the estimate the design was planned for)."""
    v = np.asarray(variances, dtype=np.float64)
    if not (np.isfinite(final_variance) and final_variance > 0):
        raise InputError(f"final variance must be positive, got {final_variance}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(final_variance / v, 1.0)


def sample_size_inflation(looks: int | Sequence[float], alpha: float = 0.05, power: float = 0.8,
                          spending: str = "obrien-fleming", param: float | None = None, sides: int = 2) -> float:
    """The factor by which a design with ``looks`` (a count of equally spaced looks, or their
    fractions) multiplies a single look's users per arm for the same power (``recsys power``)."""
    t = equally_spaced(looks) if isinstance(looks, (int, np.integer)) else looks
    return design(t, alpha, spending, param, sides).inflation_factor(power)


def group_sequential_from_effects(effects, fractions: Sequence[float] | None = None, *, n_planned: int | None = None,
                                  alpha: float = 0.05, spending: str = "obrien-fleming", param: float | None = None,
                                  sides: int = 2, **design_kwargs) -> GroupSequentialResult:
    """The test over looks given cumulative :class:`~recsys.stats.estimate.Effect` s (one per
    look, e.g. per day). Fractions are given, or users so far / ``n_planned`` (both arms)."""
    effects = list(effects)
    if fractions is None:
        if not n_planned or n_planned <= 0:
            raise InputError("give the looks' information fractions or the planned number of users")
        fractions = [min((e.n_control + e.n_treatment) / n_planned, 1.0) for e in effects]
    return group_sequential_test([e.z for e in effects], fractions, alpha, spending, param, sides, **design_kwargs)
