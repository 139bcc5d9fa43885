"""Planning the decision, not one test: users needed for the whole rule to say "ship" with a
given power when the success metrics move by their minimum detectable effects and the
guardrails do not move.

The rule ships only when at least one success metric is significantly better (Holm across
success metrics and arms), every guardrail is shown non-inferior, nothing is harmed and the
quality checks pass (:mod:`recsys.stats.roles`). Its power is therefore not any single test's:
each guardrail's non-inferiority test and each deterioration test can stop a real win.
Schultzberg, Ankargren and Frånberg (2024) bound it by splitting beta across the tests
(Bonferroni on the type II error: each test planned at power 1 - beta / (guardrails + 1)),
which is safe but spends users. Here the decision's power is computed directly: the arms'
estimates are jointly normal, with the per-user covariance of every metric's influence values
(raw and CUPED-adjusted) read from a pilot table (a previous run's ``users.parquet``), so
correlated metrics (clicks and watch time, churn and sessions) are accounted for; the rule is
applied to Monte Carlo draws of the estimates with common random numbers, and the total number
of users is found by bisection. The paper's conservative figure is reported beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats.corrections import adjust_rows
from recsys.stats.metrics import Metric, get_metric
from recsys.stats.roles import Levels, Roles

DRAWS = 200_000
_N_MAX = 1e10


@dataclass(frozen=True)
class Pilot:
    """Per-metric baselines and the per-user covariance of their influence values.

    ``sigma`` is the (2k x 2k) covariance of (raw influence of metric 1..k, CUPED-adjusted
    influence of metric 1..k) per user; without a covariate the adjusted one equals the raw one.
    """

    metrics: tuple[str, ...]
    baseline: np.ndarray
    lower_is_better: np.ndarray
    sigma: np.ndarray
    users: int
    cuped: tuple[bool, ...]

    def sd(self, metric: str, adjusted: bool = True) -> float:
        j = self.metrics.index(metric)
        k = len(self.metrics)
        return float(np.sqrt(self.sigma[k + j, k + j] if adjusted else self.sigma[j, j]))


def _influence(m: Metric, t: pd.DataFrame, cols: tuple[str, ...]) -> tuple[float, np.ndarray]:
    """(estimate, per-user influence values) of a mean, proportion or ratio of sums over ``cols``."""
    if len(cols) == 1 and not m.subset:
        y = t[cols[0]].to_numpy(np.float64)
        return float(y.mean()), y - y.mean()
    if m.subset and len(cols) == 1:
        raw = t[cols[0]].to_numpy(np.float64)
        has = ~np.isnan(raw)
        num, den = np.where(has, raw, 0.0), has.astype(np.float64)
    else:
        num, den = t[cols[0]].to_numpy(np.float64), t[cols[1]].to_numpy(np.float64)
    mean_den = den.mean()
    if mean_den <= 0:
        raise InputError(f"{m.name}: its denominator is zero in the pilot table")
    r = num.sum() / den.sum()
    return float(r), (num - r * den) / mean_den


def pilot_from_table(table: pd.DataFrame, metrics: Sequence[str], *, control: str | None = None,
                     cuped: bool = True) -> Pilot:
    """Baselines and influence covariances of ``metrics`` from a per-user table (the control
    arm's users when ``control`` is given, else every user: an A/A or pre-launch table)."""
    mets = [get_metric(name, table.columns) for name in metrics]
    if any(m.kind in ("composite", "survival") for m in mets):
        raise InputError("composite and survival metrics cannot be planned: choose means, ratios or proportions")
    cols = [c for m in mets for c in m.columns]
    covs = {m.name: m.covariate(table.columns) if cuped and not m.subset else None for m in mets}
    cols += [c for cov in covs.values() if cov for c in cov]
    if control is not None:
        if "arm" not in table.columns:
            raise InputError("the pilot table has no arm column; leave out --control to use every user")
        if control not in set(table["arm"].astype(str)):
            raise InputError(f"unknown control arm {control!r} in the pilot table")
        table = table[table["arm"].astype(str) == control]
    missing = [c for c in dict.fromkeys(cols) if c not in table.columns]
    if missing:
        raise InputError(f"the pilot table lacks column(s) {', '.join(missing)}")
    t = table
    if len(t) < 100:
        raise InputError(f"the pilot table has {len(t)} users; plan from at least 100")
    base, raw, adj = [], [], []
    for m in mets:
        est, phi = _influence(m, t, m.columns)
        psi = phi
        if covs[m.name]:
            _, xi = _influence(get_metric(m.name), t, covs[m.name])
            v = xi.var()
            if v > 0:
                psi = phi - (np.cov(phi, xi)[0, 1] / np.cov(xi)) * xi
        base.append(est)
        raw.append(phi)
        adj.append(psi)
    stack = np.vstack(raw + adj)
    sigma = np.atleast_2d(np.cov(stack))
    return Pilot(tuple(m.name for m in mets), np.array(base), np.array([m.lower_is_better for m in mets]), sigma,
                 int(len(t)), tuple(bool(covs[m.name]) for m in mets))


@dataclass(frozen=True)
class DecisionPower:
    """The rule's power at ``users`` in total, and each component's probability."""

    users: int
    users_per_arm: dict[str, int]
    power: float
    p_success: float                         # at least one success metric significantly better
    p_non_inferior: dict[str, float]         # each guardrail shown non-inferior
    p_not_harmed: float                      # no success metric or guardrail harmed
    p_quality: float                         # the quality checks pass (their false-alarm rate)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DecisionPlan:
    """Users needed for the decision's target power; the paper's Bonferroni-beta figure beside."""

    target_power: float
    mde: dict[str, float]                     # relative, per success metric
    shares: dict[str, float]
    at_plan: DecisionPower
    users_bonferroni: int                     # the paper's design: each test at 1 - beta / (guardrails + 1)
    sd: dict[str, float]                      # per-user sd of each metric's influence (CUPED-adjusted)
    baseline: dict[str, float]
    cuped: dict[str, bool]
    pilot_users: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["at_plan"] = self.at_plan.to_dict()
        return d


class _Simulator:
    """Monte Carlo draws of every arm's estimates at a given size, and the rule applied to them."""

    def __init__(self, pilot: Pilot, roles: Roles, levels: Levels, mde: Mapping[str, float], arms: int,
                 seed: int, draws: int):
        self.p, self.roles, self.levels, self.arms = pilot, roles, levels, arms
        k = len(pilot.metrics)
        self.k = k
        self.effect = np.array([mde.get(m, 0.0) for m in pilot.metrics]) * pilot.baseline
        rng = np.random.default_rng(seed)
        jitter = 1e-12 * np.eye(2 * k) * max(np.abs(np.diag(pilot.sigma)).max(), 1.0)
        self.lc = np.linalg.cholesky(pilot.sigma + jitter)
        self.lt = np.linalg.cholesky(pilot.sigma[k:, k:] + jitter[k:, k:])
        # common random numbers: the same standard normals at every size
        self.zc = rng.standard_normal((draws, arms, 2 * k))
        self.zt = rng.standard_normal((draws, arms, k))

    def power(self, n_c: float, n_t: float) -> DecisionPower:
        p, k = self.p, self.k
        sig = p.sigma
        mc = (self.zc @ self.lc.T) / np.sqrt(n_c)           # (draws, arms, 2k): control means of (raw, adjusted)
        mt = (self.zt @ self.lt.T) / np.sqrt(n_t)           # (draws, arms, k)
        c_hat = p.baseline + mc[..., :k]
        diff = self.effect + mt - mc[..., k:]
        psi_var = np.diag(sig)[k:]
        var_diff = psi_var * (1 / n_c + 1 / n_t)
        var_c = np.diag(sig)[:k] / n_c
        cov_dc = -np.diag(sig[k:, :k]) / n_c
        se = np.sqrt(var_diff)
        z = diff / se
        harm_up = p.lower_is_better
        idx = {m: j for j, m in enumerate(p.metrics)}
        lv = self.levels
        # success: two-sided, corrected across success metrics and arms
        s_idx = [idx[m] for m in self.roles.success]
        zs = z[..., s_idx].reshape(len(z), -1)
        pv = 2 * sps.norm.sf(np.abs(zs))
        adj = adjust_rows(pv, lv.correction)
        good = np.where(np.tile(harm_up[s_idx], self.arms), zs < 0, zs > 0)
        sig_s = adj <= lv.alpha
        better = (sig_s & good).any(axis=1)
        worse = (sig_s & ~good).any(axis=1)
        # deterioration of success metrics and guardrails, one-sided
        d_idx = [idx[m] for m in self.roles.deciding()]
        zd = np.where(harm_up[d_idx], z[..., d_idx], -z[..., d_idx])
        harmed = (zd > sps.norm.isf(lv.deterioration_alpha)).any(axis=(1, 2))
        # guardrails: non-inferiority
        ni = {}
        q = sps.norm.isf(lv.guardrail_alpha)
        all_ni = np.ones(len(z), bool)
        for g in self.roles.guardrails:
            j = idx[g.metric]
            sign = 1.0 if g.margin > 0 else -1.0
            if g.relative:
                contrast = diff[..., j] - g.margin * c_hat[..., j]
                var = var_diff[j] + g.margin ** 2 * var_c[j] - 2 * g.margin * cov_dc[j]
            else:
                contrast = diff[..., j] - g.margin
                var = var_diff[j]
            ok = (-sign * contrast / np.sqrt(var) > q).all(axis=1)
            ni[g.metric] = float(ok.mean())
            all_ni &= ok
        quality = (1 - lv.quality_alpha) ** 2
        ship = better & ~worse & ~harmed & all_ni
        return DecisionPower(users=0, users_per_arm={}, power=float(ship.mean() * quality),
                             p_success=float(better.mean()), p_non_inferior=ni, p_not_harmed=float(1 - harmed.mean()),
                             p_quality=float(quality))


def plan_decision(pilot: Pilot, roles: Roles, mde: Mapping[str, float], *, levels: Levels | None = None,
                  power: float = 0.8, shares: Sequence[float] | None = None, arm_names: Sequence[str] | None = None,
                  users: int | None = None, seed: int = 0, draws: int = DRAWS) -> DecisionPlan:
    """Users in total for the rule to ship with probability ``power`` when each success metric
    moves by its relative ``mde`` and nothing else moves (or, with ``users``, the power there).

    ``shares`` are the arms' traffic shares, control first (default equal, two arms).
    """
    levels = (levels or Levels()).validate()
    roles.validate()
    if not 0 < power < 1:
        raise InputError(f"--power must be in (0, 1), got {power}")
    shares = np.asarray(shares if shares is not None else (0.5, 0.5), dtype=np.float64)
    if len(shares) < 2 or np.any(shares <= 0) or not np.isclose(shares.sum(), 1.0):
        raise InputError("shares must be two or more positive numbers summing to 1, control first")
    names = list(arm_names) if arm_names is not None else ["control"] + [f"treatment{i}" if len(shares) > 2
                                                                            else "treatment"
                                                                            for i in range(1, len(shares))]
    if any(m not in pilot.metrics for m in roles.deciding()):
        raise InputError("the pilot lacks a success metric or guardrail: build it with the roles' metrics")
    for m in roles.success:
        if m not in mde:
            raise InputError(f"give a minimum detectable effect for success metric {m} (e.g. --mde {m}=0.05)")
    for m, v in mde.items():
        if m not in roles.success:
            raise InputError(f"--mde names {m}, which is not a success metric")
        if not np.isfinite(v) or v == 0:
            raise InputError(f"--mde {m} must be a non-zero relative change, got {v}")
        j = pilot.metrics.index(m)
        if (v < 0) != bool(pilot.lower_is_better[j]):
            raise InputError(f"--mde {m}={v:+g} points the wrong way: {m} is better when "
                             f"{'lower' if pilot.lower_is_better[j] else 'higher'}")
    if any(s != shares[1] for s in shares[1:]):
        pass  # unequal treatment shares are fine: the smallest arm sets the power (checked per arm below)
    n_arms = len(shares) - 1
    sim = _Simulator(pilot, roles, levels, mde, n_arms, seed, draws)
    t_share = shares[1:].min()

    def at(total: float) -> DecisionPower:
        res = sim.power(total * shares[0], total * t_share)
        per_arm = {a: int(np.ceil(total * s)) for a, s in zip(names, shares)}
        return DecisionPower(int(np.ceil(total)), per_arm, res.power, res.p_success, res.p_non_inferior,
                             res.p_not_harmed, res.p_quality)

    bonf = _bonferroni_users(pilot, roles, levels, mde, power, shares[0], t_share)
    if users is not None:
        if users < 4:
            raise InputError(f"--users must be at least 4, got {users}")
        result = at(float(users))
    else:
        lo, hi = 4.0, max(8.0, float(bonf) if np.isfinite(bonf) else 1e6)
        while at(hi).power < power:
            lo, hi = hi, hi * 2
            if hi > _N_MAX:
                raise InputError("no size up to 10 billion users reaches that power: the effect is too small, "
                                 "a margin too tight, or the deterioration tests cap the power")
        for _ in range(60):
            mid = np.sqrt(lo * hi)
            if at(mid).power >= power:
                hi = mid
            else:
                lo = mid
            if hi / lo < 1.001:
                break
        result = at(hi)
    notes = []
    max_power = (1 - levels.deterioration_alpha) ** len(roles.guardrails) * (1 - levels.quality_alpha) ** 2
    if power > max_power:
        notes.append(f"the deterioration tests on unchanged guardrails fire by chance, so the rule's power cannot "
                     f"exceed about {max_power:.3f}")
    return DecisionPlan(target_power=float(power), mde={m: float(v) for m, v in mde.items()},
                        shares=dict(zip(names, map(float, shares))), at_plan=result,
                        users_bonferroni=int(np.ceil(bonf)) if np.isfinite(bonf) else -1,
                        sd={m: pilot.sd(m) for m in pilot.metrics},
                        baseline={m: float(b) for m, b in zip(pilot.metrics, pilot.baseline)},
                        cuped=dict(zip(pilot.metrics, pilot.cuped)), pilot_users=pilot.users, notes=tuple(notes))


def _bonferroni_users(pilot: Pilot, roles: Roles, levels: Levels, mde: Mapping[str, float], power: float,
                      s_c: float, s_t: float) -> float:
    """The paper's design: every test planned alone at power 1 - beta / (guardrails + 1), the
    success metrics at alpha / (their number), two-sided; the largest size wins."""
    beta = (1 - power) / (len(roles.guardrails) + 1)
    z_b = sps.norm.isf(beta)
    k = len(pilot.metrics)
    need = []
    m_s = len(roles.success)
    for m in roles.success:
        j = pilot.metrics.index(m)
        delta = abs(mde[m] * pilot.baseline[j])
        var1 = pilot.sigma[k + j, k + j] * (1 / s_c + 1 / s_t)        # variance of the diff at one user in total
        need.append(var1 * ((sps.norm.isf(levels.alpha / (2 * m_s)) + z_b) / delta) ** 2)
    if roles.success:
        need = [min(need)]   # at least one success metric must win: the easiest one carries the plan
    for g in roles.guardrails:
        j = pilot.metrics.index(g.metric)
        var1 = pilot.sigma[k + j, k + j] * (1 / s_c + 1 / s_t)
        gap = abs(g.margin * pilot.baseline[j]) if g.relative else abs(g.margin)
        need.append(var1 * ((sps.norm.isf(levels.guardrail_alpha) + z_b) / gap) ** 2)
    return float(max(need)) if need else float("nan")
