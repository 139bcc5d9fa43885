"""The analysis of a per-user table: every (metric, segment, arm) against the control.

``analyze`` validates the table, reduces it to summary statistics in one grouping, and runs each
metric's test (Welch, delta method or proportion z; CUPED when a ``pre_*`` covariate exists;
the bootstrap for composites and on request). The metric's role (:mod:`recsys.stats.roles`)
decides what else it gets: success metrics a correction among themselves and a deterioration
test, guardrails a non-inferiority test against their margin and a deterioration test,
secondary and strategic metrics Benjamini-Hochberg q-values (descriptive). The segment
breakdown is a descriptive family of its own, so asking for segments never changes the
headline tests. Quality checks: the sample ratio and the balance of the ``pre_*`` covariates.
Cochran's Q says whether effects differ across segments.

The result is an :class:`Analysis`; ``to_dict()`` is the JSON of docs/contracts.md section 3
without the decision, which :func:`recsys.decision.decide` adds. Nothing here says "ship".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys.core.errors import InputError
from recsys.stats import bootstrap as boot
from recsys.stats.corrections import adjust
from recsys.stats.cuped import cuped_test
from recsys.stats.decay import DEFAULT_EARLY, DEFAULT_LATE, decay_section
from recsys.stats.heterogeneity import cochran_q
from recsys.stats.inference import TestResult, noninferiority, one_sided_p, two_arm_test, welch_test
from recsys.stats.metrics import DEFAULT_METRICS, SURVIVAL_COLUMNS, Metric, get_metric
from recsys.stats.bayes import bayes_readout
from recsys.stats.capping import cap_table
from recsys.stats.estimate import Effect
from recsys.stats.group_sequential import group_sequential_test
from recsys.stats.options import AnalysisOptions
from recsys.stats.poststrat import poststratify
from recsys.stats.quantiles import quantile_metric
from recsys.stats.regression import cupac_covariate, regression_test
from recsys.stats.roles import STRATEGIC_EXPOSURE, Levels, Roles
from recsys.stats.sequential import look_intervals
from recsys.stats.srm import SrmResult, srm_by_segment, srm_test
from recsys.stats.survival import HazardTest, hazard_test, survival_curves
from recsys.stats.survival import users_needed as hazard_users_needed
from recsys.stats.summary import CupedStats, MeanStats, Moments, stats_from_moments, summarize
from recsys.stats.table import arms_in_order, segment_labels, validate_table
ALL = "all"
#: the keys of a result row that the contract fixes, in order
ROW_KEYS = ("metric", "segment", "arm", "kind", "n_control", "n_treatment", "control", "treatment", "diff",
            "ci_low", "ci_high", "rel_lift", "rel_ci_low", "rel_ci_high", "p_value", "p_adjusted",
            "significant", "method")
#: power a guardrail's "users needed to rule out the margin" is planned for
PLANNING_POWER = 0.8


def check_alpha(alpha: float) -> float:
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha:g}")
    return alpha


def _count_column(metric: Metric) -> str | None:
    return boot.has_column(metric.numerator) if metric.subset else None


def _post_columns(metric: Metric) -> tuple[str, ...]:
    return (metric.numerator,) if metric.denominator is None else (metric.numerator, metric.denominator)


def _test_row(metric: Metric, mc: Moments, mt: Moments, covariate, alpha: float) -> tuple[TestResult, float]:
    """The metric's test for one (control, treatment) pair of group moments, and the control's per-user sd."""
    post = _post_columns(metric)
    count_col = _count_column(metric)
    sc = stats_from_moments(mc, post, count_col)
    st = stats_from_moments(mt, post, count_col)
    if covariate:
        res = cuped_test(metric.kind, CupedStats.from_moments(mc, post, covariate),
                         CupedStats.from_moments(mt, post, covariate), alpha)
    else:
        res = two_arm_test(metric.kind, sc, st, alpha)
    return res, float(np.sqrt(sc.variance)) if np.isfinite(sc.variance) else float("nan")


def _row(metric: Metric, segment: str, arm: str, res: TestResult, sd_control: float, covariate, role: str,
         roles: Roles, levels: Levels, extra: Mapping | None = None) -> dict:
    """A result row: the contract's keys first, then the role's tests and the extras."""
    d = res.to_dict()
    row = {"metric": metric.name, "segment": segment, "arm": arm, "kind": metric.kind}
    row.update({k: d[k] for k in ROW_KEYS if k in d})
    row["p_adjusted"] = None
    row["significant"] = False
    row["method"] = res.method
    row.update({"role": role, "se": d["se"], "rel_se": d["rel_se"], "df": d["df"],
                "lower_is_better": metric.lower_is_better, "sd_control": sd_control})
    if role in ("success", "guardrail"):
        p = one_sided_p(res, harm_up=metric.lower_is_better)
        row["deterioration_p_value"] = p
        row["deteriorated"] = bool(np.isfinite(p) and p <= levels.deterioration_alpha)
    if role == "guardrail":
        g = roles.margins[metric.name]
        ni = noninferiority(res, g.margin, relative=g.relative, alpha=levels.guardrail_alpha)
        row.update({"margin": g.margin, "margin_scale": g.scale, "ni_bound": ni.bound, "ni_p_value": ni.p_value,
                    "non_inferior": bool(np.isfinite(ni.p_value) and ni.p_value <= levels.guardrail_alpha),
                    "users_needed": _users_needed(res, g.margin, g.relative, levels.guardrail_alpha)})
    if res.variance_reduction is not None:
        row["variance_reduction"] = res.variance_reduction
        row["covariate"] = "/".join(covariate)
    row.update(extra or {})
    row["_var_control"], row["_cov"] = res.var_control, res.cov_diff_control    # for a Bayesian readout; dropped
    return {k: row[k] for k in (*ROW_KEYS, *[k for k in row if k not in ROW_KEYS])}


def _hazard(table: pd.DataFrame, control: str, arm: str, alpha: float) -> HazardTest:
    t, e = (table[c].to_numpy(np.float64) for c in SURVIVAL_COLUMNS)
    arms = table["arm"].to_numpy()
    c, a = arms == control, arms == arm
    return hazard_test(t[c], e[c], t[a], e[a], alpha)


def _survival_row(metric: Metric, segment: str, arm: str, h: HazardTest, role: str, roles: Roles,
                  levels: Levels) -> dict:
    """A survival metric's result row. Absolute columns: each arm's Kaplan-Meier churned share
    by the end of follow-up and their difference (Greenwood's variance); relative columns: the
    Cox hazard ratio - 1 with its Wald interval, whose test gives ``p_value`` (the log-rank p is
    ``logrank_p_value``). The decision's one-sided tests run on log HR."""
    z = float(sps.norm.isf(levels.alpha / 2))
    se = float(np.hypot(h.se_control, h.se_treatment))
    diff = h.churn_treatment - h.churn_control
    b = h.log_hr / h.se_log_hr if np.isfinite(h.log_hr) and h.se_log_hr > 0 else float("nan")
    row = {"metric": metric.name, "segment": segment, "arm": arm, "kind": metric.kind,
           "n_control": h.n_control, "n_treatment": h.n_treatment, "control": h.churn_control,
           "treatment": h.churn_treatment, "diff": diff, "ci_low": diff - z * se, "ci_high": diff + z * se,
           "rel_lift": h.hr - 1, "rel_ci_low": h.hr_ci_low - 1, "rel_ci_high": h.hr_ci_high - 1,
           "p_value": h.p_value, "p_adjusted": None, "significant": False, "method": "cox-efron",
           "role": role, "se": se, "rel_se": h.hr * h.se_log_hr, "df": float("inf"),
           "lower_is_better": metric.lower_is_better, "sd_control": float("nan"),
           "hazard_ratio": h.hr, "log_hr": h.log_hr, "se_log_hr": h.se_log_hr, "logrank_chi2": h.logrank_chi2,
           "logrank_p_value": h.logrank_p, "events_control": h.events_control,
           "events_treatment": h.events_treatment, "horizon_days": h.horizon}
    if role in ("success", "guardrail"):
        p = float(sps.norm.sf(b)) if np.isfinite(b) else float("nan")
        row["deterioration_p_value"] = p
        row["deteriorated"] = bool(np.isfinite(p) and p <= levels.deterioration_alpha)
    if role == "guardrail":
        g = roles.margins[metric.name]
        q = float(sps.norm.isf(levels.guardrail_alpha))
        with np.errstate(all="ignore"):
            ni_z = (h.log_hr - np.log1p(g.margin)) / h.se_log_hr
        ni_p = float(sps.norm.cdf(ni_z)) if np.isfinite(ni_z) else float("nan")
        row.update({"margin": g.margin, "margin_scale": g.scale, "ni_bound": float(np.expm1(h.log_hr + q * h.se_log_hr)),
                    "ni_p_value": ni_p, "non_inferior": bool(np.isfinite(ni_p) and ni_p <= levels.guardrail_alpha),
                    "users_needed": hazard_users_needed(h.se_log_hr, h.n_control + h.n_treatment, g.margin,
                                                        levels.guardrail_alpha, PLANNING_POWER)})
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in row.items()}


def _users_needed(res: TestResult, margin: float, relative: bool, alpha: float) -> float | None:
    """Users in the experiment (at the same split) for the non-inferiority test to rule out
    ``margin`` with 80% power if the metric did not change: a design figure, not a post-hoc one
    (the observed change does not enter, only the variances)."""
    with np.errstate(all="ignore"):
        if relative:
            k = 1.0 + margin
            var_c, cov = res.var_control, res.cov_diff_control
            var_t = res.se ** 2 + var_c + 2 * cov
            var = var_t - 2 * k * (var_c + cov) + k * k * var_c
            gap = abs(margin * res.control)
        else:
            var, gap = res.se ** 2, abs(margin)
        if not (np.isfinite(var) and var > 0 and gap > 0):
            return None
        z = sps.norm.isf(alpha) + sps.norm.ppf(PLANNING_POWER)
        factor = var * z * z / (gap * gap)
    return float(np.ceil(factor * (res.n_control + res.n_treatment)))


@dataclass(frozen=True, eq=False)
class Analysis:
    """An analysed per-user table: result rows per (metric, segment, arm) and the checks.

    ``results`` are plain dicts (the rows of the JSON); :meth:`to_frame` gives them as a
    DataFrame, :meth:`row` picks one. Read by :func:`recsys.decision.decide` and the reports.
    """

    control: str
    arms: tuple[str, ...]
    segments: tuple[str, ...]
    n_users: int
    roles: Roles
    levels: Levels
    srm: SrmResult
    balance: tuple[dict, ...]
    results: tuple[dict, ...]
    heterogeneity: tuple[dict, ...] = ()
    samples: tuple[dict, ...] = ()       # users per arm in all and per segment, with the SRM test
    cuped: Mapping[str, str | None] = field(default_factory=dict)
    bootstrap: Mapping[str, dict] = field(default_factory=dict)
    options: AnalysisOptions = field(default_factory=lambda: AnalysisOptions())
    capping: tuple[dict, ...] | None = None
    survival: Mapping | None = None      # Kaplan-Meier curves and hazard tests (recsys.stats.survival)
    decay: Mapping | None = None         # effects by day since first exposure (recsys.stats.decay)

    @property
    def treatments(self) -> tuple[str, ...]:
        return self.arms[1:]

    @property
    def alpha(self) -> float:
        return self.levels.alpha

    @property
    def balance_ok(self) -> bool:
        return all(b["ok"] for b in self.balance)

    def row(self, metric: str, arm: str, segment: str = ALL) -> dict | None:
        """The result row of ``metric`` for ``arm`` in ``segment`` (None if not analysed)."""
        return next((r for r in self.results if r["metric"] == metric and r["arm"] == arm
                     and r["segment"] == segment), None)

    def to_frame(self) -> pd.DataFrame:
        """One row per (metric, segment, arm), the JSON rows' keys as columns."""
        return pd.DataFrame(list(self.results))

    def to_dict(self) -> dict:
        """The JSON of docs/contracts.md section 3, without ``decision``."""
        return {
            "control": self.control, "alpha": self.levels.alpha, "correction": self.levels.correction,
            "srm": self.srm.to_dict(), "results": [dict(r) for r in self.results],
            "arms": list(self.arms), "segments": list(self.segments), "n_users": self.n_users,
            "roles": self.roles.to_dict(), "levels": self.levels.to_dict(),
            "quality": {"srm_ok": bool(self.srm.ok), "balance_ok": self.balance_ok,
                        "balance": [dict(b) for b in self.balance]},
            "samples": [dict(x) for x in self.samples],
            "cuped": dict(self.cuped), "heterogeneity": [dict(h) for h in self.heterogeneity],
            "bootstrap": dict(self.bootstrap), "analysis_options": self.options.to_dict(),
            **({"capping": list(self.capping)} if self.capping else {}),
            **({"survival": dict(self.survival)} if self.survival else {}),
            **({"decay": dict(self.decay)} if self.decay else {}),
        }


def analyze(df: pd.DataFrame, control: str, alpha: float = 0.05, correction: str = "holm", cuped: bool = True,
            segments: bool = False, metrics: Sequence[str] | None = None, shares: Mapping[str, float] | None = None,
            seed: int = 0, *, roles: Roles | None = None, levels: Levels | None = None,
            bootstrap: Sequence[str] = (), n_boot: int = boot.DEFAULT_REPLICATES,
            covariates: Mapping[str, Sequence[str]] | None = None, options: AnalysisOptions | None = None,
            daily: pd.DataFrame | None = None, decay_windows: tuple[tuple[int, int], tuple[int, int]] | None = None,
            ) -> Analysis:
    """Analyse a per-user table against ``control`` (docs/contracts.md sections 1-3).

    ``roles`` (default :class:`~recsys.stats.roles.Roles`: success ctr, guardrails churn_rate
    and regret_ratio at +10%) say which test each metric gets; ``levels`` the levels they run at
    (default: ``alpha`` and ``correction``). Only the columns of the success metrics,
    guardrails and explicitly named secondary metrics are required; with ``secondary=None`` in
    the roles, every other registry metric whose columns the table has is reported too.
    ``metrics`` adds more metrics by name (registry names, or numeric columns as per-user means).
    ``bootstrap`` names metrics to test by bootstrap instead of their closed form (composites
    always are). ``covariates`` overrides a metric's CUPED covariate with ``pre_*`` columns:
    {metric: (column,) or (num, den)}. ``shares`` are the configured arm shares for the
    sample-ratio test (equal when None). ``options`` (:class:`~recsys.stats.options.AnalysisOptions`)
    add the toolkit: caps applied before anything else, post-stratification of the whole
    population's rows, regression adjustment on several covariates and CUPAC, and a Bayesian
    readout beside each row (``row["bayes"]``). Quantile metrics (``watch_minutes_p90``) are
    tested on the arms' quantiles with the outer-CI variance.

    With ``days_observed`` and ``churned`` in the table, ``survival`` holds Kaplan-Meier curves
    per arm and segment and each arm's Cox hazard ratio with the log-rank test
    (:mod:`recsys.stats.survival`); the ``churn_hazard`` metric puts that test in a role. With
    ``daily``, a per-(user, day) table (:func:`recsys.simulate.tables.user_day_table`), ``decay``
    holds the effects by day since first exposure and the early-vs-late test of the success
    metrics and guardrails that have a daily decomposition, and the completion decay
    (:mod:`recsys.stats.decay`; ``decay_windows`` = (early, late) day ranges, default (1-3, 8-14)).
    """
    opts = (options or AnalysisOptions()).validate()
    levels = (levels or Levels(alpha=check_alpha(alpha), correction=correction)).validate()
    if n_boot < 100:
        raise InputError(f"bootstrap replicates must be at least 100, got {n_boot}")
    roles = (roles if roles is not None else Roles()).validate(df.columns)
    capping = None
    if opts.caps:
        if "arm" not in df.columns:
            raise InputError("missing required column: arm")
        capping = cap_table(df, opts.caps, control=control)
        df = capping.table
    mets = _metrics_in_play(roles, df.columns, metrics)
    for name in bootstrap:
        if name not in {m.name for m in mets}:
            mets.append(get_metric(name, df.columns))
        if get_metric(name, df.columns).kind == "survival":
            raise InputError(f"{name} is a survival metric (Cox hazard ratio); it cannot be bootstrapped")
    boot_names = {m.name for m in mets if m.kind == "composite"} | set(bootstrap)
    covariates = dict(covariates or {})
    for name, cols in covariates.items():
        post = [c for c in cols if not str(c).startswith("pre_")]
        if post:
            raise InputError(f"covariate {post[0]} for {name} is not a pre-period (pre_*) column: CUPED "
                             "needs covariates measured before assignment")
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError(f"covariate column(s) {', '.join(missing)} for {name} not in the table")

    cov_of: dict[str, tuple[str, ...] | None] = {}
    reg_of: dict[str, list[tuple[str, ...]]] = {}          # several covariates: regression adjustment
    for m in mets:
        usable = cuped and m.name not in boot_names and not m.subset and m.kind not in ("quantile", "survival")
        cov = tuple(covariates[m.name]) if m.name in covariates else m.covariate(df.columns)
        cov_of[m.name] = cov if usable and cov else None
        several = list(opts.covariates.get(m.name, ()))
        if usable and opts.cupac and m.kind == "mean" and cov_of[m.name] and len(cov_of[m.name]) == 1:
            target = cov_of[m.name][0]
            name = f"cupac_{m.name}"
            if name not in df.columns:
                df = df.assign(**{name: cupac_covariate(df, target, seed=seed)})
            several = several or [cov_of[m.name]]
            several.append((name,))
        if usable and len(several) > 1:
            for cov_cols in several:
                missing = [c for c in cov_cols if c not in df.columns]
                if missing:
                    raise InputError(f"covariate column(s) {', '.join(missing)} for {m.name} not in the table")
            reg_of[m.name] = [tuple(c) for c in several]

    pre_cols = [c for c in df.columns if str(c).startswith("pre_") and pd.api.types.is_numeric_dtype(df[c])
                and not df[c].isna().any()]
    numeric = [c for m in mets for c in m.columns] + [c for cov in cov_of.values() if cov for c in cov]
    numeric += [c for covs in reg_of.values() for cov in covs for c in cov]
    has_survival = all(c in df.columns for c in SURVIVAL_COLUMNS)
    if has_survival:
        numeric += list(SURVIVAL_COLUMNS)
    table = validate_table(df, numeric=numeric + pre_cols, control=control, segments=segments)
    if "user_id" in table.columns:  # one summation order whatever the row order: exactly invariant results
        order = np.argsort(table["user_id"].to_numpy(), kind="stable")
        table = table.iloc[order].reset_index(drop=True)
        df = df.iloc[order].reset_index(drop=True)
    arms = arms_in_order(table, control)
    treatments = arms[1:]
    labels = segment_labels(table) if segments else []

    counts = table["arm"].value_counts()
    srm = srm_test({a: int(counts.get(a, 0)) for a in arms}, shares, threshold=levels.quality_alpha)

    # one grouping for every closed-form metric and the balance check
    variables: list[str] = []
    for m in mets:
        if m.name in boot_names or m.kind in ("quantile", "survival"):
            continue
        for c in _post_columns(m) + (cov_of[m.name] or ()) + tuple(c for cov in reg_of.get(m.name, ()) for c in cov):
            variables.append(c)
        if m.subset:
            variables.append(_count_column(m))
    variables = list(dict.fromkeys(variables + pre_cols))
    for m in mets:
        if m.subset and m.kind != "quantile":
            table[m.numerator] = np.nan_to_num(table[m.numerator].to_numpy(np.float64), nan=0.0)
            table[_count_column(m)] = df[m.numerator].notna().to_numpy(np.float64)
    # (subset columns were validated with their empties; the indicator keeps the count right)
    by = ["arm", "segment"] if segments else ["arm"]
    groups = summarize(table, variables, by) if variables else {}
    moments: dict[tuple[str, str], Moments] = {}
    empty = Moments.empty(variables)
    for arm in arms:
        if segments:
            per = [groups.get((arm, s), empty) for s in labels]
            for s, mo in zip(labels, per):
                moments[(arm, s)] = mo
            moments[(arm, ALL)] = sum(per[1:], per[0]) if per else empty
        else:
            moments[(arm, ALL)] = groups.get((arm,), empty)

    seg_list = [ALL] + labels
    rows: list[dict] = []
    boot_info = {}
    boot_points = _bootstrap_groups(table, arms, labels, [m for m in mets if m.name in boot_names],
                                    n_boot, seed) if boot_names else {}
    for m in mets:
        role = roles.role(m.name)
        for seg in seg_list:
            for arm in treatments:
                if m.name in boot_names:
                    (pc, rc, nc), (pt, rt, nt) = boot_points[(m.name, control, seg)], boot_points[(m.name, arm, seg)]
                    res = boot.bootstrap_test(pc, rc, pt, rt, n_c=nc, n_t=nt, alpha=levels.alpha)
                    with np.errstate(invalid="ignore"):
                        sd = float(np.sqrt(np.nanvar(rc, ddof=1) * nc)) if np.isfinite(rc).sum() > 1 else float("nan")
                    rows.append(_row(m, seg, arm, res, sd, None, role, roles, levels))
                elif m.kind == "survival":
                    sub = table if seg == ALL else table[table["segment"].to_numpy() == seg]
                    rows.append(_survival_row(m, seg, arm, _hazard(sub, control, arm, levels.alpha), role, roles,
                                              levels))
                elif m.kind == "quantile":
                    sub = df if seg == ALL else df[table["segment"].to_numpy() == seg]
                    qr = quantile_metric(sub, m.numerator, m.q, control, arm)
                    rows.append(_row(m, seg, arm, qr.effect.readout(levels.alpha), float("nan"), None, role, roles,
                                     levels, {"quantile": m.q}))
                elif opts.post_stratify and seg == ALL and not m.subset:
                    if opts.post_stratify not in table.columns:
                        raise InputError(f"post_stratify: column '{opts.post_stratify}' is not in the table")
                    ps = poststratify(table, control, arm, _post_columns(m), m.kind, by=opts.post_stratify,
                                      covariate=cov_of[m.name], cuped_covariate=cov_of[m.name] or m.covariate(df.columns))
                    raw, _ = _test_row(m, moments[(control, seg)], moments[(arm, seg)], None, levels.alpha)
                    extra = {"variance_reduction": float(1 - ps.effect.var_diff / raw.se ** 2),
                             "stratified_by": opts.post_stratify,
                             "variance_reduction_vs_cuped": ps.variance_reduction_vs_cuped}
                    rows.append(_row(m, seg, arm, ps.effect.readout(levels.alpha), float("nan"), cov_of[m.name], role,
                                     roles, levels, extra))
                elif m.name in reg_of:
                    rr = regression_test(m.kind, moments[(control, seg)], moments[(arm, seg)], _post_columns(m),
                                         reg_of[m.name], cuped_covariate=cov_of[m.name])
                    extra = {"variance_reduction": rr.variance_reduction, "covariate": "+".join("/".join(c) for c in
                                                                                                reg_of[m.name]),
                             "variance_reduction_vs_cuped": rr.variance_reduction_vs_cuped}
                    rows.append(_row(m, seg, arm, rr.effect.readout(levels.alpha), float("nan"), None, role, roles,
                                     levels, extra))
                else:
                    res, sd = _test_row(m, moments[(control, seg)], moments[(arm, seg)], cov_of[m.name], levels.alpha)
                    rows.append(_row(m, seg, arm, res, sd, cov_of[m.name], role, roles, levels))
                if opts.engine == "bayesian" and m.kind != "survival":
                    last = rows[-1]
                    b = bayes_readout(Effect(last["n_control"], last["n_treatment"], last["control"], last["treatment"],
                                             last["diff"], last["se"] ** 2, last["_var_control"], last["_cov"],
                                             last["df"], last["method"]), opts.prior, levels.alpha, m.lower_is_better)
                    d = b.to_dict()
                    last["bayes"] = {k: d[k] for k in ("rel_lift", "rel_ci_low", "rel_ci_high", "ci_low", "ci_high",
                                                       "chance_to_win", "risk_control", "risk_treatment")}
        if m.name in boot_names:
            boot_info[m.name] = {"replicates": n_boot, "seed": seed, "max_units": boot.MAX_UNITS}

    for r in rows:
        r.pop("_var_control", None)
        r.pop("_cov", None)
    _correct(rows, levels)
    balance = _balance(moments, control, treatments, pre_cols, levels)
    survival = _survival_section(table, control, treatments, labels, levels.alpha) if has_survival else None
    decay = None
    if daily is not None:
        early, late = decay_windows or (DEFAULT_EARLY, DEFAULT_LATE)
        decay = decay_section(daily, control, roles.deciding(), alpha=levels.alpha, early=early, late=late)
    return Analysis(
        control=control, arms=tuple(arms), segments=tuple(seg_list), n_users=int(len(table)), roles=roles,
        levels=levels, srm=srm, balance=tuple(balance), results=tuple(rows),
        heterogeneity=tuple(heterogeneity_table(rows)) if segments else (),
        samples=tuple(srm_by_segment(table, arms, shares, levels.quality_alpha)) if "segment" in table else (),
        cuped={m.name: ("/".join(cov_of[m.name]) if cov_of[m.name] else None) for m in mets},
        bootstrap=boot_info, options=opts, capping=None if capping is None else capping.to_dict()["caps"],
        survival=survival, decay=decay)


def _survival_section(table: pd.DataFrame, control: str, treatments: Sequence[str], labels: Sequence[str],
                      alpha: float) -> dict:
    """Kaplan-Meier curves per arm (all users and each segment) and, per (segment, arm), the
    Cox hazard ratio with the log-rank test: descriptive, whatever the metric's role."""
    tests = []
    for seg in [ALL, *labels]:
        sub = table if seg == ALL else table[table["segment"].to_numpy() == seg]
        for arm in treatments:
            tests.append({"segment": seg, "arm": arm, **_hazard(sub, control, arm, alpha).to_dict()})
    return {"time": SURVIVAL_COLUMNS[0], "event": SURVIVAL_COLUMNS[1], "alpha": alpha,
            "curves": survival_curves(table, [control, *treatments], labels, alpha), "tests": tests}


def _metrics_in_play(roles: Roles, columns, extra: Sequence[str] | None) -> list[Metric]:
    """The success metrics, guardrails and secondary metrics (named, or every other registry
    metric whose columns the table has), strategic per-user metrics, then ``extra``."""
    names = list(roles.deciding())
    if roles.secondary is not None:
        names += list(roles.secondary)
    else:
        present = set(columns)
        names += [n for n in DEFAULT_METRICS if all(c in present for c in get_metric(n).columns)]
    names += [s for s in roles.strategic if s not in STRATEGIC_EXPOSURE]
    names += list(extra or ())
    if not names:
        raise InputError("no metrics to analyse")
    return [get_metric(n, columns) for n in dict.fromkeys(names)]


def _correct(rows: list[dict], levels: Levels) -> None:
    """p_adjusted and significant per family: success rows (whole population) corrected by
    ``levels.correction`` across success metrics and arms; guardrail rows uncorrected (their
    decision tests are the non-inferiority and deterioration tests); secondary and strategic
    rows by Benjamini-Hochberg (descriptive); segment rows by Benjamini-Hochberg on their own."""
    whole = [r for r in rows if r["segment"] == ALL]
    families = [
        ("success", [r for r in whole if r["role"] == "success"], levels.correction),
        ("guardrail", [r for r in whole if r["role"] == "guardrail"], "none"),
        ("descriptive", [r for r in whole if r["role"] in ("secondary", "strategic")], "bh"),
        ("segments", [r for r in rows if r["segment"] != ALL], "bh"),
    ]
    for name, family, method in families:
        p_adj = adjust([r["p_value"] for r in family], method)
        for r, q in zip(family, p_adj):
            r["p_adjusted"] = float(q) if np.isfinite(q) else None
            r["significant"] = bool(np.isfinite(q) and q <= levels.alpha)
            r["family"] = name


def _balance(moments, control: str, treatments, pre_cols: Sequence[str], levels: Levels) -> list[dict]:
    """Balance of each ``pre_*`` covariate between each treatment arm and the control (Welch's
    t), Bonferroni-corrected over covariates and arms: assignment was random, so a difference
    at the quality level says assignment or the covariates are broken."""
    out = []
    for col in pre_cols:
        c = MeanStats.from_moments(moments[(control, ALL)], col)
        for arm in treatments:
            res = welch_test(c, MeanStats.from_moments(moments[(arm, ALL)], col), levels.alpha)
            out.append({"column": col, "arm": arm, "control": res.control, "treatment": res.treatment,
                        "diff": res.diff, "p_value": res.p_value})
    adj = adjust([b["p_value"] for b in out], "bonferroni") if out else []
    for b, q in zip(out, adj):
        b["p_adjusted"] = float(q) if np.isfinite(q) else None
        b["ok"] = bool(not np.isfinite(q) or q >= levels.quality_alpha)
    return out


def _bootstrap_groups(table: pd.DataFrame, arms, labels, mets: list[Metric], n_boot: int, seed: int) -> dict:
    """(metric, arm, segment) -> (point, replicates, users) for the bootstrapped metrics."""
    out = {}
    keys_all = boot.user_keys(table["user_id"].to_numpy())
    arm_codes, arm_names = pd.factorize(table["arm"])
    arm_index = {a: i for i, a in enumerate(arm_names)}
    if labels:
        seg_codes, seg_names = pd.factorize(table["segment"])
        seg_index = {s: i for i, s in enumerate(seg_names)}
    cols = list(dict.fromkeys(c for m in mets for c in boot.bootstrap_columns(m)))
    values = np.column_stack([_summed(table, c) for c in cols])
    for arm in arms:
        in_arm = arm_codes == arm_index[arm]
        groups = [(ALL, in_arm)] + [(s, in_arm & (seg_codes == seg_index[s])) for s in labels]
        for seg, mask in groups:
            vals, keys = values[mask], keys_all[mask]
            sums, n = boot.replicate_sums(vals, keys, n_boot, seed)
            total = vals.sum(axis=0)
            for m in mets:
                point = boot.metric_value(m, dict(zip(cols, total)), float(len(keys)))
                reps = boot.metric_value(m, {c: sums[:, j] for j, c in enumerate(cols)}, n)
                out[(m.name, arm, seg)] = (float(point), reps, int(len(keys)))
    return out


def _summed(table: pd.DataFrame, col: str) -> np.ndarray:
    if col.startswith("__has__"):
        name = col[len("__has__"):]
        return table[col].to_numpy(np.float64) if col in table else table[name].notna().to_numpy(np.float64)
    return np.nan_to_num(table[col].to_numpy(np.float64), nan=0.0)


def heterogeneity_table(rows: list[dict]) -> list[dict]:
    """Cochran's Q per (metric, arm) over the segment rows, on the relative lift (segments
    differ in baseline, so a common effect is most naturally a common relative lift)."""
    out = []
    seen = []
    for r in rows:
        key = (r["metric"], r["arm"])
        if r["segment"] != ALL and key not in seen:
            seen.append(key)
    for metric, arm in seen:
        seg_rows = [r for r in rows if r["metric"] == metric and r["arm"] == arm and r["segment"] != ALL]
        lifts = [r["rel_lift"] for r in seg_rows]
        var = [(r["rel_se"] ** 2 if r["rel_se"] is not None else np.nan) for r in seg_rows]
        h = cochran_q(np.array(lifts, dtype=np.float64), np.array(var, dtype=np.float64))
        out.append({"metric": metric, "arm": arm, "scale": "relative", **h.to_dict(),
                    "differs": bool(np.isfinite(h.p_value) and h.p_value < 0.05)})
    return out


def monitor(tables: Iterable[pd.DataFrame], control: str, roles: Roles | None = None,
            levels: Levels | None = None, days: Sequence[int] | None = None, *,
            options: AnalysisOptions | None = None, planned: int | None = None) -> list[dict]:
    """Always-valid daily monitoring of the decision's metrics, with the same roles.

    ``tables`` are cumulative per-user tables of one fixed cohort, one per look (any iterable:
    each is reduced to per-arm summaries and dropped, so a generator never holds more than
    one); ``days`` labels the looks (0, 1, ... by default). The estimand of look d is the
    effect on the metric accumulated up to day d, so each look reports its own always-valid
    interval (:func:`~recsys.stats.sequential.look_intervals`), and the mixing variances are
    tuned to the first look. Per role, at each look:

    * success: the always-valid test of no difference at alpha / (success metrics x arms)
      (Bonferroni, valid for always-valid p-values): ``better`` / ``worse`` / ``not significant``;
    * guardrail: non-inferiority on the contrast treatment - (1 + margin) control (relative
      margins) or diff - margin, whose always-valid interval at ``guardrail_alpha`` must lie on
      the safe side: ``non-inferior`` / ``inconclusive``;
    * success and guardrail: ``harmed`` when the look's always-valid interval at
      ``deterioration_alpha`` lies wholly on the harmful side.

    With ``options.sequential == "group-sequential"`` the success metrics are tested instead
    against alpha-spending bounds (:mod:`recsys.stats.group_sequential`, ``options.spending``)
    at the planned information fractions (``options.looks``, else ``planned`` equally spaced
    looks, one per planned day); guardrails keep their always-valid tests.

    Returns one record per (day, arm, metric); CUPED is not used (the mixture needs each look's
    plain variance). Composite metrics cannot be monitored. A survival metric is monitored on
    its log hazard ratio (the Cox model's, each look's estimate and variance; ``estimate`` is
    log HR, ``control`` 0 and ``treatment`` log HR, the guardrail contrast log HR - log(1 + margin)).
    """
    opts = (options or AnalysisOptions()).validate()
    roles = (roles if roles is not None else Roles()).validate()
    levels = (levels or Levels()).validate()
    metrics = list(roles.deciding())
    specs: dict[str, Metric] | None = None
    looks: dict[tuple[str, str], list] = {}
    n_looks = 0
    for t in tables:
        if specs is None:
            specs = {m: get_metric(m, t.columns) for m in metrics}
        n_looks += 1
        cols = [c for m in specs.values() for c in m.columns]
        tab = validate_table(t, numeric=cols, control=control)
        for m in specs.values():
            if m.subset:
                tab[_count_column(m)] = t[m.numerator].notna().to_numpy(np.float64)
                tab[m.numerator] = np.nan_to_num(tab[m.numerator].to_numpy(np.float64), nan=0.0)
        variables = list(dict.fromkeys(c for m in specs.values() for c in
                                       _post_columns(m) + ((_count_column(m),) if m.subset else ())))
        g = summarize(tab, variables, ["arm"])
        empty = Moments.empty(variables)
        arms = arms_in_order(tab, control)
        for m in specs.values():
            if m.kind == "survival":     # the log hazard ratio, as a difference with control 0
                for arm in arms[1:]:
                    h = _hazard(tab, control, arm, levels.alpha)
                    looks.setdefault((m.name, arm), []).append(
                        (0.0, h.log_hr, 0.0, h.se_log_hr ** 2, h.n_control, h.n_treatment))
                continue
            post = _post_columns(m)
            sc = stats_from_moments(g.get((control,), empty), post, _count_column(m))
            for arm in arms[1:]:
                st = stats_from_moments(g.get((arm,), empty), post, _count_column(m))
                looks.setdefault((m.name, arm), []).append(
                    (float(sc.mean), float(st.mean), float(sc.var_of_mean), float(st.var_of_mean), sc.n, st.n))
    if specs is None:
        raise InputError("no looks to monitor")
    labels = list(days) if days is not None else list(range(n_looks))
    n_arms = len({arm for _, arm in looks})
    success_alpha = levels.alpha / (len(roles.success) * max(n_arms, 1))
    z = float(sps.norm.isf(levels.alpha / 2))
    out = []
    for (metric, arm), seq in looks.items():
        c, t, vc, vt, nc, nt = (np.array(x) for x in zip(*seq))
        diff, var = t - c, vc + vt
        role = roles.role(metric)
        harm_up = specs[metric].lower_is_better
        _, det_lo, det_hi, _ = look_intervals(diff, var, levels.deterioration_alpha)
        harmed = det_lo > 0 if harm_up else det_hi < 0
        bound = np.full(len(diff), np.nan)
        if role == "success":
            p, lo, hi, tau2 = look_intervals(diff, var, success_alpha)
            sig = p <= success_alpha
            if opts.sequential == "group-sequential":
                fractions = opts.looks or tuple(np.arange(1, (planned or len(diff)) + 1) / (planned or len(diff)))
                if len(fractions) < len(diff):
                    raise InputError(f"the group-sequential design plans {len(fractions)} looks; the monitor has "
                                     f"{len(diff)}")
                gs = group_sequential_test(diff / np.sqrt(var), fractions[:len(diff)], success_alpha,
                                           spending=opts.spending)
                bound = np.array([lk.bound for lk in gs.looks])
                sig = np.maximum.accumulate(np.array([lk.reject for lk in gs.looks]))
                p = 2 * sps.norm.sf(np.abs(diff / np.sqrt(var)))     # the look's nominal p; it rejects past the bound
            good = (diff < 0) if harm_up else (diff > 0)
            status = np.where(sig & good, "better", np.where(sig, "worse", "not significant"))
            level = success_alpha
        else:
            g = roles.margins[metric]
            if specs[metric].kind == "survival":
                contrast, cvar = diff - np.log1p(g.margin), var
            elif g.relative:
                k = 1.0 + g.margin
                contrast, cvar = t - k * c, vt + k * k * vc
            else:
                contrast, cvar = diff - g.margin, var
            _, c_lo, c_hi, _ = look_intervals(contrast, cvar, levels.guardrail_alpha)
            safe = c_hi < 0 if harm_up else c_lo > 0
            p, lo, hi, tau2 = look_intervals(diff, var, levels.guardrail_alpha)
            status = np.where(safe, "non-inferior", "inconclusive")
            level = levels.guardrail_alpha
        status = np.where(harmed, "harmed", status)
        se = np.sqrt(var)
        for i, day in enumerate(labels):
            out.append({"day": int(day), "arm": arm, "metric": metric, "role": role, "estimate": float(diff[i]),
                        "control": float(c[i]), "treatment": float(t[i]),
                        "ci_low": float(lo[i]), "ci_high": float(hi[i]), "p_value": float(p[i]), "level": level,
                        "status": str(status[i]), "se": float(se[i]),
                        "fixed_ci_low": float(diff[i] - z * se[i]), "fixed_ci_high": float(diff[i] + z * se[i]),
                        "n_control": int(nc[i]), "n_treatment": int(nt[i]), "tau2": float(tau2),
                        "test": opts.sequential if role == "success" else "always-valid",
                        "bound": None if not np.isfinite(bound[i]) else float(bound[i])})
    return out
