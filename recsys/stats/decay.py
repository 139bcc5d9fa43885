"""Novelty and decay: the treatment effect by day since a user's first exposure.

A new experience can win on its first days because it is new (novelty) or lose because it is
unfamiliar (change aversion); either fades. Calendar days mix users at different points of
that transient, so the effect here is indexed by ``k``, the day since the user's first exposure
(the first experiment day with an impression; k = 1 on that day). First exposure happens at
the first visit after assignment, before the treatment can act, so users first exposed by a
given day form a randomised cohort and each day's comparison is a fair one.

Input: a per-(user, day) table (``user_id``, ``arm``, ``day`` and the day's counts, as
:func:`recsys.simulate.tables.user_day_table` builds it; a day without a row is a day without
activity). For each metric of :data:`DECAY_METRICS` (ratios of sums, or per-user-day means):

* :func:`effects_by_day`: the relative lift on each day k with its interval (Fieller), over the
  users observed at k (the cohort shrinks with k: those first exposed late are not yet seen);
* :func:`decay_test`: on one cohort (the users whose late window is fully observed), the lift in
  an early window (days 1-3) and a late one (days 8-14), and the test that they are equal: the
  difference of log ratios, with a delta-method variance from each user's early and late sums,
  so the correlation between one user's windows is accounted for. ``status`` is ``decaying``
  (the late effect is significantly nearer zero than the early one, or reversed), ``growing``
  or ``stable``. The late window's lift is the **steady-state estimate**: the effect once a
  transient of a few days has faded (it assumes the transient is over by the late window);
* the within-arm change from the early to the late window; for completion rate this is the
  **completion decay** (how much less of what users start they finish, late vs early), per arm
  and as a difference between arms (the same test).

Everything is vectorised over users (one dense users x days array per column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats.inference import compare

#: metric -> (numerator column, denominator column; None: a per-user-day mean)
DECAY_METRICS: dict[str, tuple[str, str | None]] = {
    "ctr": ("clicks", "impressions"),
    "play_rate": ("plays", "sessions"),
    "completion_rate": ("completions", "plays"),
    "regret_ratio": ("early_abandons", "plays"),
    "watch_minutes": ("watch_minutes", None),
    "sessions": ("sessions", None),
}
LOWER_IS_BETTER = {"regret_ratio"}
DEFAULT_EARLY = (1, 3)
DEFAULT_LATE = (8, 14)
#: the metric whose within-arm decay is reported as "completion decay"
COMPLETION = "completion_rate"


@dataclass(frozen=True)
class Exposure:
    """Per-user arrays aligned with ``user_ids``: arm label, first exposure day, and a dense
    users x days matrix per column (day k = 1 .. n_days since first exposure; 0 past the data)."""

    user_ids: np.ndarray
    arm: np.ndarray
    first_day: np.ndarray
    observed: np.ndarray          # days since first exposure that the data covers, per user
    values: Mapping[str, np.ndarray]

    @classmethod
    def from_daily(cls, daily: pd.DataFrame, columns: Sequence[str], last_day: int | None = None) -> "Exposure":
        need = ["user_id", "arm", "day", *columns]
        missing = [c for c in dict.fromkeys(need) if c not in daily.columns]
        if missing:
            raise InputError(f"the daily table lacks column(s) {', '.join(missing)}")
        day = daily["day"].to_numpy(np.int64)
        if len(day) == 0:
            raise InputError("the daily table has no rows")
        last = int(day.max()) if last_day is None else int(last_day)
        exposed = daily["impressions"].to_numpy(np.float64) > 0 if "impressions" in daily.columns else np.ones(len(day), bool)
        exposed &= day <= last
        codes, users = pd.factorize(daily["user_id"], sort=True)
        first = np.full(len(users), np.iinfo(np.int64).max)
        np.minimum.at(first, codes[exposed], day[exposed])
        seen = first < np.iinfo(np.int64).max
        arm_of = np.empty(len(users), dtype=object)
        arm_of[codes] = daily["arm"].astype(str).to_numpy()
        k = day - first[codes]                         # 0-based day since exposure
        n_days = int(last - first[seen].min() + 1) if seen.any() else 0
        keep = seen[codes] & (k >= 0) & (day <= last)
        idx = codes[keep] * n_days + k[keep]
        values = {}
        for c in dict.fromkeys(columns):
            v = daily[c].to_numpy(np.float64)[keep]
            values[c] = np.bincount(idx, weights=v, minlength=len(users) * n_days).reshape(len(users), n_days)[seen]
        return cls(np.asarray(users)[seen], arm_of[seen], first[seen], (last - first[seen] + 1).astype(np.int64),
                   values)


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Ratio of sums over users, its delta-method variance and each user's influence value
    (scaled so that var(ratio) = var(influence) / n)."""
    n = len(num)
    mean_den = den.mean() if n else np.nan
    with np.errstate(all="ignore"):
        r = num.sum() / den.sum()
        infl = (num - r * den) / mean_den
        var = infl.var(ddof=1) / n if n > 1 else np.nan
    return float(r), float(var), infl


def _columns(metric: str) -> tuple[str, str | None]:
    if metric not in DECAY_METRICS:
        raise InputError(f"no daily decomposition for metric {metric!r} (known: {', '.join(DECAY_METRICS)})")
    return DECAY_METRICS[metric]


def _window_sums(ex: Exposure, metric: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-user numerator and denominator over days lo..hi since exposure (1-based)."""
    num_c, den_c = _columns(metric)
    num = ex.values[num_c][:, lo - 1:hi].sum(axis=1)
    den = ex.values[den_c][:, lo - 1:hi].sum(axis=1) if den_c else np.full(len(num), float(hi - lo + 1))
    return num, den


def _lift(num, den, arm, control: str, treatment: str, alpha: float) -> dict:
    c, t = arm == control, arm == treatment
    rc, vc, _ = _ratio(num[c], den[c])
    rt, vt, _ = _ratio(num[t], den[t])
    res = compare(rc, rt, rt - rc, vc + vt, vc, -vc, n_c=int(c.sum()), n_t=int(t.sum()), alpha=alpha, method="delta")
    return {"control": res.control, "treatment": res.treatment, "rel_lift": res.rel_lift,
            "rel_ci_low": res.rel_ci_low, "rel_ci_high": res.rel_ci_high, "p_value": res.p_value,
            "n_control": res.n_control, "n_treatment": res.n_treatment}


def effects_by_day(daily: pd.DataFrame, control: str, metrics: Sequence[str] = ("ctr",), *, alpha: float = 0.05,
                   max_day: int | None = None, last_day: int | None = None, min_users: int = 20) -> list[dict]:
    """The relative lift of each treatment arm on each day k since first exposure (k = 1 ..
    ``max_day``), over the users the data covers at k: records {metric, arm, day, control,
    treatment, rel_lift, rel_ci_low, rel_ci_high, p_value, n_control, n_treatment}. Days where an
    arm has fewer than ``min_users`` users are left out."""
    cols = [c for m in metrics for c in _columns(m) if c]
    ex = Exposure.from_daily(daily, cols + ["impressions"] * ("impressions" in daily.columns), last_day)
    arms = [a for a in pd.unique(ex.arm) if a != control]
    if control not in set(ex.arm):
        raise InputError(f"unknown control arm {control!r} in the daily table")
    n_days = ex.values[cols[0]].shape[1]
    top = n_days if max_day is None else min(n_days, int(max_day))
    out = []
    for metric in metrics:
        for k in range(1, top + 1):
            seen = ex.observed >= k
            num, den = _window_sums(ex, metric, k, k)
            for arm in sorted(arms):
                sel = seen & np.isin(ex.arm, (control, arm))
                if min((ex.arm[sel] == control).sum(), (ex.arm[sel] == arm).sum()) < min_users:
                    continue
                out.append({"metric": metric, "arm": arm, "day": k,
                            **_lift(num[sel], den[sel], ex.arm[sel], control, arm, alpha)})
    return out


@dataclass(frozen=True)
class DecayResult:
    """Early and late lifts on one cohort and the test that they are equal."""

    metric: str
    arm: str
    early_days: tuple[int, int]
    late_days: tuple[int, int]
    early: dict                  # control, treatment, rel_lift, rel_ci_low, rel_ci_high, p_value, n_*
    late: dict                   # the steady-state estimate
    log_ratio: float             # log(1 + late lift) - log(1 + early lift)
    se: float
    p_value: float
    status: str                  # decaying | growing | stable
    change: dict                 # within-arm change late vs early: {arm: {estimate, ci_low, ci_high}}
    cohort_users: int
    level: float

    def to_dict(self) -> dict:
        return {"metric": self.metric, "arm": self.arm, "early_days": list(self.early_days),
                "late_days": list(self.late_days), "early": dict(self.early), "late": dict(self.late),
                "steady_state": {k: self.late[k] for k in ("rel_lift", "rel_ci_low", "rel_ci_high")},
                "log_ratio": self.log_ratio, "se": self.se, "p_value": self.p_value, "status": self.status,
                "change": {a: dict(v) for a, v in self.change.items()}, "cohort_users": self.cohort_users,
                "level": self.level}


def classify(early_log: float, late_log: float, p: float, alpha: float) -> str:
    """decaying (the late effect is nearer zero than the early one, or of the other sign),
    growing, or stable (no significant difference)."""
    if not (np.isfinite(p) and p <= alpha):
        return "stable"
    if early_log * late_log < 0 or abs(late_log) < abs(early_log):
        return "decaying"
    return "growing"


def decay_test(daily: pd.DataFrame, control: str, metrics: Sequence[str] = ("ctr",), *, alpha: float = 0.05,
               early: tuple[int, int] = DEFAULT_EARLY, late: tuple[int, int] = DEFAULT_LATE,
               last_day: int | None = None) -> list[DecayResult]:
    """Early against late effect for each (metric, treatment arm) on the cohort whose late
    window is fully observed. ``late`` is cut to the days the data can cover; InputError when
    the windows are malformed or the data is too short for a late window after the early one."""
    (e0, e1), (l0, l1) = (int(early[0]), int(early[1])), (int(late[0]), int(late[1]))
    if not (1 <= e0 <= e1 < l0 <= l1):
        raise InputError(f"decay windows must be 1 <= early start <= early end < late start <= late end, got "
                         f"early {e0}-{e1}, late {l0}-{l1}")
    cols = [c for m in metrics for c in _columns(m) if c]
    ex = Exposure.from_daily(daily, cols + ["impressions"] * ("impressions" in daily.columns), last_day)
    if control not in set(ex.arm):
        raise InputError(f"unknown control arm {control!r} in the daily table")
    span = int(ex.observed.max()) if len(ex.observed) else 0
    l1 = min(l1, span)
    if l1 < l0:
        raise InputError(f"the daily data covers {span} days since first exposure; the late window starts at day {l0}")
    cohort = ex.observed >= l1
    arms = sorted(a for a in pd.unique(ex.arm) if a != control)
    out = []
    for metric in metrics:
        ne, de = _window_sums(ex, metric, e0, e1)
        nl, dl = _window_sums(ex, metric, l0, l1)
        change, infl = {}, {}
        for arm in [control, *arms]:
            sel = cohort & (ex.arm == arm)
            re, _, ie = _ratio(ne[sel], de[sel])
            rl, _, il = _ratio(nl[sel], dl[sel])
            with np.errstate(all="ignore"):
                d = il / rl - ie / re                        # influence of log(rl) - log(re)
                lr = np.log(rl / re)
                v = d.var(ddof=1) / len(d) if len(d) > 1 else np.nan
            z = float(sps.norm.isf(alpha / 2))
            se = float(np.sqrt(v))
            change[arm] = {"estimate": float(np.expm1(lr)), "ci_low": float(np.expm1(lr - z * se)),
                           "ci_high": float(np.expm1(lr + z * se)), "early": re, "late": rl, "log_ratio": float(lr),
                           "se": se, "users": int(sel.sum())}
            infl[arm] = v
        for arm in arms:
            sel = cohort & np.isin(ex.arm, (control, arm))
            e_lift = _lift(ne[sel], de[sel], ex.arm[sel], control, arm, alpha)
            l_lift = _lift(nl[sel], dl[sel], ex.arm[sel], control, arm, alpha)
            delta = change[arm]["log_ratio"] - change[control]["log_ratio"]
            se = float(np.sqrt(infl[arm] + infl[control]))
            with np.errstate(all="ignore"):
                p = float(2 * sps.norm.sf(abs(delta / se))) if se > 0 else float("nan")
                e_log, l_log = np.log1p(e_lift["rel_lift"]), np.log1p(l_lift["rel_lift"])
            out.append(DecayResult(metric, arm, (e0, e1), (l0, l1), e_lift, l_lift, float(delta), se, p,
                                   classify(e_log, l_log, p, alpha), {a: change[a] for a in (control, arm)},
                                   int(sel.sum()), alpha))
    return out


def decay_section(daily: pd.DataFrame, control: str, metrics: Sequence[str], *, alpha: float = 0.05,
                  early: tuple[int, int] = DEFAULT_EARLY, late: tuple[int, int] = DEFAULT_LATE,
                  last_day: int | None = None) -> dict:
    """The analysis JSON's ``decay``: per-day lifts, the early-vs-late tests of ``metrics`` that
    have a daily decomposition, and the completion decay (always, when the columns exist)."""
    mets = [m for m in dict.fromkeys([*metrics, COMPLETION]) if m in DECAY_METRICS
            and all(c in daily.columns for c in DECAY_METRICS[m] if c)]
    if not mets:
        return {}
    span = Exposure.from_daily(daily, [DECAY_METRICS[mets[0]][0]], last_day).observed
    if not len(span) or int(span.max()) < late[0]:
        return {"early_days": list(early), "late_days": list(late), "alpha": alpha, "tests": [], "by_day": [],
                "completion_decay": [], "note": f"the data covers {int(span.max()) if len(span) else 0} days since "
                                                f"first exposure; the late window starts at day {late[0]}"}
    tests = decay_test(daily, control, mets, alpha=alpha, early=early, late=late, last_day=last_day)
    days = effects_by_day(daily, control, mets, alpha=alpha, last_day=last_day)
    completion = [{"arm": t.arm, "control": t.change[control], "treatment": t.change[t.arm],
                   "diff": t.change[t.arm]["estimate"] - t.change[control]["estimate"], "log_ratio": t.log_ratio,
                   "p_value": t.p_value} for t in tests if t.metric == COMPLETION]
    return {"early_days": list(tests[0].early_days), "late_days": list(tests[0].late_days), "alpha": alpha,
            "tests": [t.to_dict() for t in tests], "by_day": days, "completion_decay": completion}
