"""From replicate results to the sweep's answer: per (arm, segment, metric) the mean and interval
over replicates, the pooled A/B test against weight 0, the Pareto frontier of short-term CTR
against the objective, and per segment the best weight under the guardrails.

Two intervals per point, both against the all-zero arm:

* over replicates: each replicate's value (and relative lift), a t interval over the R
  replicates on a scale that respects the figure's bounds, mapped back: logit for rates (ctr,
  completion, churn, retention, coverage, long-tail share, homogenisation: the interval stays in
  [0, 1]), log for watch minutes (stays >= 0), log ratio for relative lifts (stays above
  -100%). A group with a value on a bound (a rate of exactly 0 or 1) cannot be transformed; its
  raw interval is clipped to the bounds and ``ci_scale`` says so. It includes the variation
  between worlds. With fewer than :data:`MIN_REPLICATES` replicates no such interval is given
  (NaN, ``ci_scale = "too few replicates"``) and the summary carries a warning;
* pooled A/B: the replicates' per-user tables stacked (user ids made unique) and analysed with
  :func:`recsys.stats.analysis.analyze` (segments, CUPED, the configured correction), for the
  tested metrics. Retention's row is the churn row turned around (diff -> -diff); its relative
  interval is the absolute one over the control's retention. A relative interval that reaches
  below -100% (a delta-method interval on few events) is re-expressed on the log-ratio scale
  from the same standard error (``rel_ci_scale``).

Decisions read ``rel_lift`` / ``rel_ci_*``: the pooled A/B figures where there are some, the
replicate figures for the exposure measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from recsys.stats.analysis import analyze
from recsys.stats.corrections import adjust
from recsys.stats.paired import paired_test
from recsys.stats.metrics import METRICS
from recsys.stats.roles import Roles
from recsys.tune.config import AXES, LOWER_IS_BETTER, OBJECTIVES, REPORTED_METRICS, TESTED_METRICS, TuneConfig
from recsys.tune.optimum import difference, peak, slope_at
from recsys.tune.sweep import RETRAINED, STATIC, ReplicateResult

SEGMENT_ORDER = ("all", "new", "low_engagement", "regular", "power")
_SUMS = ("clicks", "impressions", "watch_minutes", "completions", "plays", "churned")

#: replicates needed for an interval over replicates. The t interval over R replicates has R - 1
#: degrees of freedom: with 2 its 97.5% quantile is 12.7 and the sd rests on one difference, so
#: its expected half-width is 7.2 sd (t x c4(2) / sqrt(2)), 5.2 times the 1.39 sd it would be
#: with the between-world sd known, and wider than a rate's whole range whenever worlds differ by
#: a few points; with 3 it is 2.2 sd, 1.9 times the known-sd width, and it narrows quickly
#: after (1.5 times at 4). With 1 there is no sd at all.
MIN_REPLICATES = 3
#: metrics that are shares of something, in [0, 1] (their intervals are taken on the logit scale)
RATE_METRICS = frozenset({"ctr", "completion_rate", "churn_rate", "retention", "coverage", "long_tail_share",
                          "homogenization"})
#: metrics that cannot be negative (their intervals are taken on the log scale)
POSITIVE_METRICS = frozenset({"watch_minutes"})
TOO_FEW = "too few replicates"


@dataclass
class SweepResult:
    config: TuneConfig
    seeds: list[int]
    table: pd.DataFrame            # tidy: one row per (variant, arm, segment, metric)
    replicates: pd.DataFrame       # tidy: one row per (variant, replicate, arm, segment, metric)
    recommendations: pd.DataFrame  # one row per segment
    summary: dict                  # the JSON summary

    @property
    def main_variant(self) -> str:
        return main_variant(self.config)


def main_variant(config: TuneConfig) -> str:
    return RETRAINED if config.experiment.retrain_every else STATIC


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def group_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """ctr, watch_minutes, completion_rate, churn_rate and retention per (arm, segment) of a
    per-user table, segment "all" included (docs/contracts.md section 2 definitions)."""
    parts = []
    for by in (["arm"], ["arm", "segment"]):
        g = table.groupby(by, sort=True)
        s, n = g[list(_SUMS)].sum(), g.size()
        f = pd.DataFrame({"ctr": _ratio(s["clicks"], s["impressions"]), "watch_minutes": _ratio(s["watch_minutes"], n),
                          "completion_rate": _ratio(s["completions"], s["plays"]),
                          "churn_rate": _ratio(s["churned"], n)}, index=s.index)
        f["retention"] = 1.0 - f["churn_rate"]
        f = f.reset_index()
        parts.append(f.assign(segment="all") if by == ["arm"] else f)
    return pd.concat(parts, ignore_index=True)


def replicate_frame(config: TuneConfig, results: list[ReplicateResult]) -> pd.DataFrame:
    """Long table: variant, replicate, seed, arm, segment, users, metric, value, control, rel_lift."""
    frames = []
    for r in results:
        m = group_metrics(r.table).merge(r.exposure, on=["arm", "segment"], how="left")
        frames.append(m.assign(variant=r.variant, replicate=r.replicate, seed=r.seed))
    wide = pd.concat(frames, ignore_index=True)
    long = wide.melt(id_vars=["variant", "replicate", "seed", "arm", "segment", "users"],
                     value_vars=list(REPORTED_METRICS), var_name="metric", value_name="value")
    key = ["variant", "replicate", "segment", "metric"]
    ctrl = long.loc[long["arm"] == config.control, key + ["value"]].rename(columns={"value": "control"})
    long = long.merge(ctrl, on=key, how="left")
    long["rel_lift"] = _ratio(long["value"] - long["control"], long["control"])
    long["rel_lift"] = long["rel_lift"].where(long["arm"] != config.control, 0.0)
    return long


def _t_interval(g: pd.core.groupby.DataFrameGroupBy, col: str, level: float) -> pd.DataFrame:
    mean, sd, n = g[col].mean(), g[col].std(ddof=1), g[col].count()
    q = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
    half = np.where(n >= MIN_REPLICATES, q * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    return pd.DataFrame({"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half})


def _logit(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x) - np.log1p(-x)


def _expit(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


# scale name -> (transform, inverse, bounds of the figure)
_SCALES = {
    "logit": (_logit, _expit, (0.0, 1.0)),
    "log": (_log, np.exp, (0.0, np.inf)),
    "log ratio": (lambda r: _log(1.0 + r), lambda z: np.exp(z) - 1.0, (-1.0, np.inf)),
}


def bounded_t_interval(long: pd.DataFrame, keys: list[str], col: str, scale, level: float) -> pd.DataFrame:
    """Per group of ``keys``: n, mean, sd of ``col`` and its t interval over replicates (low, high).

    ``scale`` ("logit", "log", "log ratio", None for none; or one such name per row, the same
    within a group): the interval is the t interval of the transformed values mapped back, so it
    stays within the figure's bounds. A group with a value the transform cannot take (on a bound)
    gets the raw interval clipped to the bounds. Below :data:`MIN_REPLICATES` values the interval
    is NaN. Column ``scale`` says what was done."""
    if scale is None or isinstance(scale, str):
        names = np.full(len(long), "raw" if scale is None else scale, dtype=object)
    else:
        names = np.asarray(scale, dtype=object)
        names = np.where(pd.isna(names), "raw", names)
    x = long[col].to_numpy(np.float64)
    z = x.copy()
    for name, (fwd, _, _) in _SCALES.items():
        m = names == name
        if m.any():
            z[m] = fwd(x[m])
    frame = long[keys].assign(_x=x, _z=z, _bad=~np.isfinite(z) & np.isfinite(x), _scale=names)
    out = frame.groupby(keys, sort=False).agg(n=("_x", "count"), mean=("_x", "mean"), sd=("_x", "std"),
                                              zmean=("_z", "mean"), zsd=("_z", "std"), bad=("_bad", "any"),
                                              scale=("_scale", "first"))
    n = out["n"].to_numpy(np.float64)
    q = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) / np.sqrt(np.maximum(n, 1))
    mean, sd = out["mean"].to_numpy(np.float64), out["sd"].to_numpy(np.float64)
    zmean, zsd = out["zmean"].to_numpy(np.float64), out["zsd"].to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        low, high = mean - q * sd, mean + q * sd
        z_lo, z_hi = zmean - q * zsd, zmean + q * zsd
    sc = out["scale"].to_numpy(object).copy()
    bad = out["bad"].to_numpy(bool)
    for name, (_, inv, (lo_b, hi_b)) in _SCALES.items():
        m = sc == name
        ok, clip = m & ~bad, m & bad
        with np.errstate(over="ignore", invalid="ignore"):
            low[ok], high[ok] = inv(z_lo[ok]), inv(z_hi[ok])
        low[clip], high[clip] = np.clip(low[clip], lo_b, hi_b), np.clip(high[clip], lo_b, hi_b)
        sc[clip] = f"raw, clipped to [{lo_b:g}, {hi_b:g}]"
    few = n < MIN_REPLICATES
    low[few] = high[few] = np.nan
    sc[few] = TOO_FEW
    return pd.DataFrame({"n": out["n"], "mean": mean, "sd": sd, "low": low, "high": high, "scale": sc},
                        index=out.index)


def aggregate(long: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per (variant, arm, segment, metric): replicates, mean, sd and interval of the value and of
    the relative lift over replicates (each on its bounded scale: :func:`bounded_t_interval`)."""
    keys = ["variant", "arm", "segment", "metric"]
    metric = long["metric"].to_numpy(object)
    scales = np.where(np.isin(metric, list(RATE_METRICS)), "logit",
                      np.where(np.isin(metric, list(POSITIVE_METRICS)), "log", None))
    v = bounded_t_interval(long, keys, "value", scales, level)
    r = bounded_t_interval(long, keys, "rel_lift", "log ratio", level)
    g = long.groupby(keys, sort=False)
    out = pd.DataFrame({"replicates": v["n"], "users": g["users"].mean(), "mean": v["mean"], "sd": v["sd"],
                        "ci_low": v["low"], "ci_high": v["high"], "ci_scale": v["scale"],
                        "control_mean": g["control"].mean(), "rep_rel_lift": r["mean"], "rep_rel_ci_low": r["low"],
                        "rep_rel_ci_high": r["high"], "rep_rel_ci_scale": r["scale"]})
    return out.reset_index()


def bounded_relative(rows: pd.DataFrame) -> pd.DataFrame:
    """Pooled A/B relative intervals that reach below -100% re-expressed on the log-ratio scale:
    log(1 + lift) +- h / (1 + lift), h the interval's upper half-width (the delta method's q x se),
    mapped back, so it stays above -100%; where 1 + lift <= 0 (a CUPED-adjusted treatment below
    0) the interval is clipped at -100%. ``rel_ci_scale`` says which rows were changed."""
    rows = rows.copy()
    rel, lo, hi = (rows[c].to_numpy(np.float64) for c in ("rel_lift", "rel_ci_low", "rel_ci_high"))
    scale = np.where(np.isfinite(lo), "delta", None).astype(object)
    low = np.isfinite(lo) & (lo <= -1.0)
    ok = low & (1.0 + rel > 0)
    with np.errstate(all="ignore"):       # rows that are not re-expressed may hold anything
        half = (hi - rel) / (1.0 + rel)
        base = np.log1p(rel)
        new_lo = np.where(ok, np.expm1(base - half), np.where(low, -1.0, lo))
        new_hi = np.where(ok, np.expm1(base + half), hi)
    scale[ok] = "log ratio"
    scale[low & ~ok] = "delta, clipped at -100%"
    rows["rel_ci_low"], rows["rel_ci_high"], rows["rel_ci_scale"] = new_lo, new_hi, scale
    rows["rel_lift"] = np.maximum(rel, -1.0)
    return rows


_AB = ("control", "treatment", "diff", "ci_low", "ci_high", "rel_lift", "rel_ci_low", "rel_ci_high", "p_value",
       "p_adjusted", "significant", "method")


def stacked(results: list[ReplicateResult], variant: str) -> pd.DataFrame:
    """The variant's replicates' per-user tables stacked, user ids made unique across replicates."""
    mine = [r for r in results if r.variant == variant]
    offset = max(int(r.table["user_id"].max()) for r in mine) + 1
    return pd.concat([r.table.assign(user_id=r.table["user_id"] + r.replicate * offset) for r in mine],
                     ignore_index=True)


def paired_tests(config: TuneConfig, results: list[ReplicateResult], variant: str) -> pd.DataFrame:
    """A paired sweep's comparisons of every point with weight 0 on the same users, per segment
    (:func:`recsys.stats.paired.paired_test`; the pooled replicates' users, each under both
    points), corrected as the experiment asks within each segment; columns as
    :func:`pooled_tests`'."""
    pooled = stacked(results, variant)
    exp = config.experiment
    rows = []
    for seg in ["all", *[s for s in SEGMENT_ORDER[1:] if s in set(pooled["segment"])]]:
        part = pooled if seg == "all" else pooled[pooled["segment"] == seg]
        wide = {a: d.set_index("user_id").sort_index() for a, d in part.groupby("arm")}
        ctrl = wide.get(config.control)
        if ctrl is None or len(ctrl) < 2:
            continue
        for metric in TESTED_METRICS:
            m = METRICS[metric]
            for arm in config.arm_names[1:]:
                t = wide[arm].reindex(ctrl.index)
                den = (ctrl[m.denominator], t[m.denominator]) if m.denominator else (None, None)
                res = paired_test(ctrl[m.numerator], t[m.numerator], *den, alpha=exp.alpha)
                rows.append({"metric": metric, "segment": seg, "arm": arm, **{k: getattr(res, k) for k in _AB
                                                                              if hasattr(res, k)}})
    out = pd.DataFrame(rows)
    out["p_adjusted"] = np.nan
    for seg, idx in out.groupby("segment").groups.items():
        out.loc[idx, "p_adjusted"] = adjust(out.loc[idx, "p_value"].to_numpy(), exp.correction)
    out["significant"] = out["p_adjusted"] <= exp.alpha     # as recsys.stats.analysis decides
    return _with_retention(out, variant)


def pooled_tests(config: TuneConfig, results: list[ReplicateResult], variant: str) -> pd.DataFrame:
    """The pooled A/B of every point against weight 0, per segment (tested metrics and retention)."""
    if config.tune.design == "paired":
        return paired_tests(config, results, variant)
    pooled = stacked(results, variant)
    exp = config.experiment
    names = config.arm_names
    # every tested metric in one family, corrected as the experiment asks (no decision roles here)
    roles = Roles(success=tuple(TESTED_METRICS), guardrails=(), secondary=())
    res = analyze(pooled, config.control, alpha=exp.alpha, correction=exp.correction, cuped=exp.cuped, segments=True,
                  roles=roles, shares={a: 1.0 / len(names) for a in names}, seed=exp.seed)
    rows = res.to_frame()
    return _with_retention(rows[rows["metric"].isin(TESTED_METRICS)][["metric", "segment", "arm", *_AB]], variant)


def _with_retention(rows: pd.DataFrame, variant: str) -> pd.DataFrame:
    """Retention's rows (the churn rows turned around) added, relative intervals bounded, the
    columns prefixed ``ab_``."""
    churn = rows[rows["metric"] == "churn_rate"]
    base = 1.0 - churn["control"]
    ret = churn.assign(metric="retention", control=base, treatment=1.0 - churn["treatment"], diff=-churn["diff"],
                       ci_low=-churn["ci_high"], ci_high=-churn["ci_low"], rel_lift=-churn["diff"] / base,
                       rel_ci_low=-churn["ci_high"] / base, rel_ci_high=-churn["ci_low"] / base)
    out = bounded_relative(pd.concat([rows, ret], ignore_index=True))
    out = out.rename(columns={c: f"ab_{c}" for c in _AB} | {"rel_ci_scale": "ab_rel_ci_scale"}).assign(variant=variant)
    out["ab_significant"] = out["ab_significant"].astype(bool)
    return out


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point beats on both x and y (higher is better)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    ge = (x[None, :] >= x[:, None]) & (y[None, :] >= y[:, None])
    gt = (x[None, :] > x[:, None]) | (y[None, :] > y[:, None])
    dominated = (ge & gt & ok[None, :]).any(axis=1)
    return ok & ~dominated


def guardrail_checks(rows: pd.DataFrame, guardrails: dict, rule: str) -> pd.DataFrame:
    """Per arm (rows: one segment, main variant) and guardrail: the value checked and ok/breached."""
    out = []
    for metric, tol in guardrails.items():
        r = rows[rows["metric"] == metric].set_index("arm")
        lower = metric in LOWER_IS_BETTER
        if rule == "estimate":
            val = r["rel_lift"]
        else:
            val = r["rel_ci_high"] if lower else r["rel_ci_low"]
        ok = (val <= tol) if lower else (val >= tol)
        out.append(pd.DataFrame({"arm": r.index, "metric": metric, "tolerance": float(tol), "checked": val.to_numpy(),
                                 "ok": ok.to_numpy() & np.isfinite(val.to_numpy())}))
    if not out:
        return pd.DataFrame(columns=["arm", "metric", "tolerance", "checked", "ok"])
    return pd.concat(out, ignore_index=True)


def _interior(config: TuneConfig, arm: str) -> bool:
    point = dict(zip(config.arm_names, config.points))[arm]
    grid = config.tune.grid
    return arm != config.control and all(point[a] < max(getattr(grid, a)) for a in grid.varied)


def _optimum(config: TuneConfig, rows: pd.DataFrame, metric: str) -> dict:
    """The arm with the highest lift in ``metric`` (guardrails aside), and whether it is interior."""
    lift = rows[rows["metric"] == metric].set_index("arm")["rel_lift"].reindex(config.arm_names).to_numpy(np.float64)
    i = int(np.argmax(np.where(np.isfinite(lift), lift, -np.inf)))
    return {"arm": config.arm_names[i], "rel_lift": float(lift[i]), "interior": _interior(config, config.arm_names[i])}


def recommend(config: TuneConfig, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per segment: the frontier flags (per arm) and the recommendation (best objective under the
    guardrails; the control is always admissible)."""
    t = config.tune
    main = table[table["variant"] == main_variant(config)]
    names = config.arm_names
    flags, recs = [], []
    for seg in [s for s in SEGMENT_ORDER if s in set(main["segment"])]:
        rows = main[main["segment"] == seg]
        wide = rows.pivot(index="arm", columns="metric", values="mean").reindex(names)
        lift = rows[rows["metric"] == t.objective].set_index("arm").reindex(names)
        front = pareto_front(wide["ctr"].to_numpy(), wide[t.objective].to_numpy())
        checks = guardrail_checks(rows, t.guardrails, t.guardrail_rule)
        ok = (checks.groupby("arm")["ok"].all().reindex(names, fill_value=True).to_numpy(bool) if len(checks)
              else np.ones(len(names), bool)).copy()
        ok[0] = True
        obj = lift["rel_lift"].to_numpy(np.float64)
        score = np.where(np.isfinite(obj), obj, -np.inf)
        best = int(np.argmax(score))
        rec = int(np.argmax(np.where(ok, score, -np.inf)))
        flags.append(pd.DataFrame({"segment": seg, "arm": names, "on_frontier": front, "admissible": ok,
                                   "recommended": np.arange(len(names)) == rec}))
        breaches = checks[~checks["ok"]].groupby("arm")["metric"].apply(list).to_dict() if len(checks) else {}
        r = lift.iloc[rec]
        recs.append({"segment": seg, "recommended": names[rec], **{a: config.points[rec][a] for a in AXES},
                     "objective": t.objective, "objective_mean": float(wide[t.objective].iloc[rec]),
                     "objective_rel_lift": float(obj[rec]), "objective_rel_ci_low": float(r["rel_ci_low"]),
                     "objective_rel_ci_high": float(r["rel_ci_high"]),
                     "objective_p_adjusted": float(r["ab_p_adjusted"]) if rec else float("nan"),
                     "ctr_rel_lift": float(rows[(rows["metric"] == "ctr")].set_index("arm")["rel_lift"].reindex(names).iloc[rec]),
                     "best": names[best], "best_rel_lift": float(obj[best]), "interior_optimum": _interior(config, names[best]),
                     "optima": {m: _optimum(config, rows, m) for m in OBJECTIVES},
                     "frontier": [n for n, f in zip(names, front) if f],
                     "excluded": {a: breaches[a] for a in names if a in breaches}})
    return pd.concat(flags, ignore_index=True), pd.DataFrame(recs)


def _homogenization_summary(config: TuneConfig, long: pd.DataFrame, table: pd.DataFrame) -> dict:
    level = 1 - config.experiment.alpha
    h = table[(table["metric"] == "homogenization") & (table["segment"] == "all")]
    out: dict = {"by_arm": {v: dict(zip(d["arm"], d["mean"])) for v, d in h.groupby("variant")}}
    weights = dict(zip(config.arm_names, (p["diversity"] for p in config.points)))
    trend = {}
    for v, d in h.groupby("variant"):
        w = d["arm"].map(weights).to_numpy(np.float64)
        if len(np.unique(w)) > 1 and np.isfinite(d["mean"]).all():
            trend[v] = float(np.polyfit(w, d["mean"].to_numpy(np.float64), 1)[0])
    out["slope_per_unit_diversity"] = trend
    # the slope within each replicate, and its t interval over replicates (worlds differ in level)
    hl = long[(long["metric"] == "homogenization") & (long["segment"] == "all")].assign(w=lambda d: d["arm"].map(weights))
    per_rep = [{"variant": v, "replicate": r, "value": float(np.polyfit(d["w"], d["value"], 1)[0])}
               for (v, r), d in hl.groupby(["variant", "replicate"])
               if d["w"].nunique() > 1 and np.isfinite(d["value"]).all()]
    if per_rep:
        e = _t_interval(pd.DataFrame(per_rep).groupby("variant"), "value", level)
        out["slope_interval"] = {v: {"slope": float(e.loc[v, "mean"]), "ci_low": float(e.loc[v, "low"]),
                                     "ci_high": float(e.loc[v, "high"]), "replicates": int(e.loc[v, "n"])}
                                 for v in e.index}
    if {RETRAINED, STATIC} <= set(long["variant"]):
        hl = long[(long["metric"] == "homogenization") & (long["segment"] == "all")]
        paired = hl.pivot_table(index=["arm", "replicate"], columns="variant", values="value")
        paired = (paired[RETRAINED] - paired[STATIC]).rename("value").reset_index()
        e = _t_interval(paired.groupby("arm", sort=False), "value", level)
        out["retrain_effect"] = {a: {"diff": float(e.loc[a, "mean"]), "ci_low": float(e.loc[a, "low"]),
                                     "ci_high": float(e.loc[a, "high"])} for a in config.arm_names}
    return out


#: per objective: the per-user value the peak is fitted to, and the registry metric whose CUPED
#: covariate it borrows
_PEAK_VALUE = {"watch_minutes": ("watch_minutes", "watch_minutes"), "retention": ("retention", "churn_rate")}


def peaks(config: TuneConfig, results: list[ReplicateResult], variant: str) -> dict | None:
    """Where the objective peaks along the grid's one varied axis, per segment
    (:func:`recsys.tune.optimum.peak` on the pooled replicates' per-user values: randomised, one
    intercept per replicate and the objective's CUPED covariate when the table has it; paired,
    one intercept per user, errors clustered by user), and a test of the difference between
    every two segments' optima (:func:`_pair`; ``p_holm``: Holm over the pairs with a test). None when the grid varies several axes or
    has fewer than three weights (a quadratic needs three)."""
    axes = config.tune.grid.varied
    weights = sorted({p[axes[0]] for p in config.points})
    if len(axes) != 1 or len(weights) < 3:
        return None
    axis = axes[0]
    objective = config.tune.objective
    column, metric = _PEAK_VALUE[objective]
    level = config.experiment.alpha
    w_of = dict(zip(config.arm_names, (p[axis] for p in config.points)))
    mine = [r for r in results if r.variant == variant]
    pooled = pd.concat([r.table.assign(_replicate=r.replicate) for r in mine], ignore_index=True)
    pooled["retention"] = 1.0 - pooled["churned"]
    paired = config.tune.design == "paired"
    offset = int(pooled["user_id"].max()) + 1
    cov = None if paired else METRICS[metric].covariate(pooled.columns)
    segs = {}
    for seg in [s for s in SEGMENT_ORDER if s == "all" or s in set(pooled["segment"])]:
        rows = pooled if seg == "all" else pooled[pooled["segment"] == seg]
        if len(rows) < 10:
            continue
        x = rows[cov[0]].to_numpy(np.float64) if cov is not None and len(cov) == 1 else None
        unit = rows["_replicate"].to_numpy() * offset + rows["user_id"].to_numpy() if paired else None
        segs[seg] = peak(rows[column].to_numpy(np.float64), rows["arm"].map(w_of).to_numpy(np.float64),
                         rows["_replicate"].to_numpy(), x, alpha=level, unit=unit)
    named = [s for s in segs if s != "all"]
    diffs = [_pair(segs, a, b, level) for i, a in enumerate(named) for b in named[i + 1:]]
    # Holm over the pairs with a test: the family "do any segments' optima differ"
    eligible = [d for d in diffs if np.isfinite(d["p_test"])]
    for d, p in zip(eligible, adjust([d["p_test"] for d in eligible], "holm") if eligible else []):
        d["p_holm"] = float(p)
    for d in diffs:
        d.setdefault("p_holm", float("nan"))
    return {"axis": axis, "objective": objective, "value": column, "covariate": cov[0] if cov and len(cov) == 1 else None,
            "method": ("vertex of a quadratic in the weight, least squares on per-user values with one intercept per "
                       "user (every user under every weight), standard errors clustered by user; Fieller's interval; "
                       f"{_PAIR_METHOD}") if paired else
                      ("vertex of a quadratic in the weight, least squares on per-user values with one intercept per "
                       f"replicate, HC1 standard errors; Fieller's interval; {_PAIR_METHOD}"),
            "design": config.tune.design, "alpha": level,
            "grid": [float(w) for w in weights], "segments": {k: v.to_dict() for k, v in segs.items()},
            "differences": diffs}


_PAIR_METHOD = ("two segments with a peak compared by the difference of their peaks, a segment without one by its "
                "slope at the other's peak (inside the grid); both by the delta method, Holm over the pairs")


def _pair(segs: dict, a: str, b: str, level: float) -> dict:
    """The test of whether segments ``a`` and ``b`` want different weights. Both with a peak: the
    difference of their vertices (``test = "peaks"``). One with a peak whose interval lies inside
    the grid, the other without (flat, or still rising or falling): the other's slope at that
    peak (``test = "slope"``, its figures under ``slope``), which is zero if the peak's weight is
    also best for it. Otherwise no test (``test`` None, ``p_test`` NaN)."""
    pa, pb = segs[a], segs[b]
    rec = {"a": a, "b": b, **difference(pa, pb, level), "test": None, "slope": None, "p_test": float("nan")}
    if pa.peak and pb.peak:
        rec.update(test="peaks", p_test=rec["p_value"])
    elif pa.peak != pb.peak and (pa if pa.peak else pb).within_grid:
        flat, peaked = (b, a) if pa.peak else (a, b)
        s = slope_at(segs[flat], segs[peaked], level)
        rec.update(test="slope", slope={"of": flat, "at_peak_of": peaked, **s}, p_test=s["p_value"])
    return rec


def peaks_differ(peaks: dict | None) -> bool | None:
    """Whether two segments' optima differ: True when, among the pairs of segments with a test
    (:func:`_pair`: both with a peak, a significant curvature of the right sign, or one with a
    peak inside the grid and the other without), one is significant after Holm's correction over
    those pairs; None when there are no peaks to compare (several axes, fewer than three weights). The best grid points of two segments
    differing is no evidence: neighbouring points are often within noise."""
    if not peaks:
        return None
    return any(np.isfinite(d["p_holm"]) and d["p_holm"] < peaks["alpha"] for d in peaks["differences"])


def analyse_sweep(config: TuneConfig, results: list[ReplicateResult]) -> SweepResult:
    level = 1 - config.experiment.alpha
    long = replicate_frame(config, results)
    table = aggregate(long, level)
    tests = pd.concat([pooled_tests(config, results, v) for v in dict.fromkeys(r.variant for r in results)],
                      ignore_index=True)
    table = table.merge(tests, on=["variant", "arm", "segment", "metric"], how="left")
    pooled = table["ab_rel_lift"].notna()
    table["lift_source"] = np.where(pooled, "pooled A/B", "replicates")
    for c in ("rel_lift", "rel_ci_low", "rel_ci_high", "rel_ci_scale"):
        table[c] = table[f"ab_{c}"].where(pooled, table[f"rep_{c}"])
    is_ctrl = table["arm"] == config.control
    table.loc[is_ctrl, "rel_lift"] = 0.0
    table.loc[is_ctrl, ["rel_ci_low", "rel_ci_high", "rel_ci_scale"]] = np.nan
    table.loc[is_ctrl, "lift_source"] = "control"
    table["ab_significant"] = table["ab_significant"].astype("boolean")
    points = pd.DataFrame(config.points).assign(arm=config.arm_names)
    table = table.merge(points, on="arm", how="left")
    flags, recs = recommend(config, table)
    table = table.merge(flags.assign(variant=main_variant(config)), on=["variant", "segment", "arm"], how="left")
    for c in ("on_frontier", "admissible", "recommended"):
        table[c] = table[c].astype("boolean")
    order = {"arm": {a: i for i, a in enumerate(config.arm_names)}, "segment": {s: i for i, s in enumerate(SEGMENT_ORDER)},
             "metric": {m: i for i, m in enumerate(REPORTED_METRICS)}}
    table = table.sort_values(["variant", "segment", "arm", "metric"],
                              key=lambda s: s.map(order[s.name]) if s.name in order else s,
                              ignore_index=True)
    cols = ["variant", "arm", *AXES, "segment", "metric", "replicates", "users", "mean", "sd", "ci_low", "ci_high",
            "ci_scale", "control_mean", "rel_lift", "rel_ci_low", "rel_ci_high", "rel_ci_scale", "lift_source",
            "rep_rel_lift", "rep_rel_ci_low", "rep_rel_ci_high", "rep_rel_ci_scale", *[f"ab_{c}" for c in _AB],
            "ab_rel_ci_scale", "on_frontier", "admissible", "recommended"]
    table = table[cols]
    seeds = config.replicate_seeds()
    summary = _summary(config, seeds, table, recs, _homogenization_summary(config, long, table))
    summary["peaks"] = peaks(config, results, main_variant(config))
    summary["optimum_differs_between_segments"] = peaks_differ(summary["peaks"])
    return SweepResult(config, seeds, table, long, recs, summary)


def _summary(config: TuneConfig, seeds: list[int], table: pd.DataFrame, recs: pd.DataFrame, homog: dict) -> dict:
    t = config.tune
    seg_rows = {r["segment"]: r for r in recs.to_dict("records")}
    interior = [s for s, r in seg_rows.items() if r["interior_optimum"] and s != "all"]
    best = {s: r["best"] for s, r in seg_rows.items() if s != "all"}
    interior_any = {m: [s for s, r in seg_rows.items() if r["optima"][m]["interior"] and s != "all"] for m in OBJECTIVES}
    return {
        "command": "tune-diversity",
        "control": config.control,
        "objective": t.objective,
        "guardrails": dict(t.guardrails),
        "guardrail_rule": t.guardrail_rule,
        "replicates": t.replicates,
        "replicate_intervals": replicate_interval_note(t.replicates, 1 - config.experiment.alpha),
        "seeds": seeds,
        "confidence": 1 - config.experiment.alpha,
        "main_variant": main_variant(config),
        "arms": [{"arm": a, **p} for a, p in zip(config.arm_names, config.points)],
        "recommendations": seg_rows,
        "interior_optimum_segments": interior,
        "best_points_differ": len(set(best.values())) > 1,
        "interior_optimum_segments_by_metric": interior_any,
        "homogenization": homog,
        "config": config.to_dict(),
        "results": records(table),
    }


def replicate_interval_note(replicates: int, level: float = 0.95) -> dict:
    """Whether intervals over replicates are given, and the warning when they are not."""
    given = replicates >= MIN_REPLICATES
    why = ("there is no spread between worlds to estimate" if replicates < 2 else
           f"the t interval has 1 degree of freedom: its quantile is {stats.t.ppf(0.5 + level / 2, 1):.1f} where "
           f"many replicates give {stats.norm.ppf(0.5 + level / 2):.2f}, and its spread rests on a single difference")
    warning = None if given else (
        f"only {replicates} replicate{'s' if replicates != 1 else ''}: intervals over replicates need at least "
        f"{MIN_REPLICATES} (with {replicates}, {why}), so none is given; the pooled A/B intervals that are shown "
        "cover the variation between users of these worlds, not between worlds")
    return {"min_replicates": MIN_REPLICATES, "given": given, "warning": warning,
            "scales": {"rates": "logit", "watch_minutes": "log", "relative lifts": "log ratio"}}


def records(df: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-ready dicts (missing values as None)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")
