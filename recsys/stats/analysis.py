"""The analysis of a per-user table: every (metric, segment, arm) against the control.

``analyze`` validates the table, reduces it to summary statistics in one grouping, runs each
metric's test (Welch, delta method or proportion z; CUPED when a ``pre_*`` covariate exists;
the bootstrap for composites and on request), corrects the p-values within two families (the whole population's rows; the segment rows), tests
whether effects differ across segments, checks the sample ratio, and asks
:mod:`recsys.decision` for the verdict. The result is the JSON of contracts section 3.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from recsys.errors import InputError
from recsys.stats import bootstrap as boot
from recsys.stats.corrections import CORRECTIONS, adjust
from recsys.stats.cuped import cuped_test
from recsys.stats.heterogeneity import cochran_q
from recsys.stats.inference import TestResult, two_arm_test
from recsys.stats.metrics import DEFAULT_METRICS, Metric, get_metric
from recsys.stats.sequential import SequentialResult, sequential_from_stats
from recsys.stats.srm import srm_test
from recsys.stats.summary import CupedStats, Moments, stats_from_moments, summarize
from recsys.stats.table import arms_in_order, segment_labels, validate_table

ALL = "all"
#: the keys of a result row that contracts section 3 fixes, in order
ROW_KEYS = ("metric", "segment", "arm", "kind", "n_control", "n_treatment", "control", "treatment", "diff",
            "ci_low", "ci_high", "rel_lift", "rel_ci_low", "rel_ci_high", "p_value", "p_adjusted",
            "significant", "method")


def check_alpha(alpha: float) -> float:
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha:g}")
    return alpha


def resolve_metrics(names: Sequence[str] | None, columns, extra: Sequence[str] = ()) -> list[Metric]:
    """Metrics by name (default: all of contracts section 2), plus ``extra`` ones (e.g. the
    decision's primary and guardrails) when missing; InputError on an unknown name."""
    names = list(DEFAULT_METRICS if names is None else names)
    for e in extra:
        if e not in names:
            names.append(e)
    if not names:
        raise InputError("no metrics to analyse")
    return [get_metric(n, columns) for n in dict.fromkeys(names)]


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


def _row(metric: Metric, segment: str, arm: str, res: TestResult, sd_control: float, covariate) -> dict:
    d = res.to_dict()
    row = {"metric": metric.name, "segment": segment, "arm": arm, "kind": metric.kind}
    row.update({k: d[k] for k in ROW_KEYS if k in d})
    row["p_adjusted"] = None
    row["significant"] = False
    row["method"] = res.method
    row.update({"se": d["se"], "rel_se": d["rel_se"], "df": d["df"], "lower_is_better": metric.lower_is_better,
                "sd_control": sd_control})
    if res.variance_reduction is not None:
        row["variance_reduction"] = res.variance_reduction
        row["covariate"] = "/".join(covariate)
    return {k: row[k] for k in (*ROW_KEYS, *[k for k in row if k not in ROW_KEYS])}


def analyze(df: pd.DataFrame, control: str, alpha: float = 0.05, correction: str = "holm", cuped: bool = True,
            segments: bool = False, metrics: Sequence[str] | None = None, shares: Mapping[str, float] | None = None,
            seed: int = 0, *, roles=None, bootstrap: Sequence[str] = (), n_boot: int = boot.DEFAULT_REPLICATES,
            covariates: Mapping[str, Sequence[str]] | None = None) -> dict:
    """Analyse a per-user table against ``control``: the JSON of contracts section 3.

    ``metrics`` are names from the registry (or numeric columns, as per-user means); the
    decision's primary and guardrail metrics are added when missing. ``bootstrap`` names
    metrics to test by bootstrap instead of their closed form (composites always are).
    ``covariates`` overrides a metric's CUPED covariate: {metric: (column,) or (num, den)}.
    ``roles`` is a :class:`recsys.decision.Roles` (default roles when None). ``shares`` are the
    configured arm shares for the sample-ratio test (equal when None).
    Extra keys beyond the contract: per row se, rel_se, df, lower_is_better, sd_control and,
    with CUPED, variance_reduction and covariate; at the top level arms, segments, n_users,
    cuped, heterogeneity, bootstrap.
    """
    from recsys.decision import Roles, decide  # the decision reads the rows; stats never needs it

    alpha = check_alpha(alpha)
    if correction not in CORRECTIONS:
        raise InputError(f"unknown correction {correction!r} (choose from {', '.join(CORRECTIONS)})")
    if n_boot < 100:
        raise InputError(f"bootstrap replicates must be at least 100, got {n_boot}")
    roles = roles if roles is not None else Roles()
    mets = resolve_metrics(metrics, df.columns, roles.metrics())
    for name in bootstrap:
        if name not in {m.name for m in mets}:
            mets.append(get_metric(name, df.columns))
    boot_names = {m.name for m in mets if m.kind == "composite"} | set(bootstrap)
    covariates = dict(covariates or {})
    for name, cols in covariates.items():
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError(f"covariate column(s) {', '.join(missing)} for {name} not in the table")

    cov_of: dict[str, tuple[str, ...] | None] = {}
    for m in mets:
        usable = cuped and m.name not in boot_names and not m.subset
        cov = tuple(covariates[m.name]) if m.name in covariates else m.covariate(df.columns)
        cov_of[m.name] = cov if usable and cov else None

    numeric = [c for m in mets for c in m.columns] + [c for cov in cov_of.values() if cov for c in cov]
    table = validate_table(df, numeric=numeric, control=control, segments=segments)
    if "user_id" in table.columns:  # one summation order whatever the row order: exactly invariant results
        order = np.argsort(table["user_id"].to_numpy(), kind="stable")
        table = table.iloc[order].reset_index(drop=True)
        df = df.iloc[order].reset_index(drop=True)
    arms = arms_in_order(table, control)
    treatments = arms[1:]
    labels = segment_labels(table) if segments else []

    counts = table["arm"].value_counts()
    srm = srm_test({a: int(counts.get(a, 0)) for a in arms}, shares)

    # one grouping for every closed-form metric
    variables: list[str] = []
    for m in mets:
        if m.name in boot_names:
            continue
        for c in _post_columns(m) + (cov_of[m.name] or ()):
            variables.append(c)
        if m.subset:
            variables.append(_count_column(m))
    variables = list(dict.fromkeys(variables))
    for m in mets:
        if m.subset:
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
        for seg in seg_list:
            for arm in treatments:
                if m.name in boot_names:
                    (pc, rc, nc), (pt, rt, nt) = boot_points[(m.name, control, seg)], boot_points[(m.name, arm, seg)]
                    res = boot.bootstrap_test(pc, rc, pt, rt, n_c=nc, n_t=nt, alpha=alpha)
                    with np.errstate(invalid="ignore"):
                        sd = float(np.sqrt(np.nanvar(rc, ddof=1) * nc)) if np.isfinite(rc).sum() > 1 else float("nan")
                    rows.append(_row(m, seg, arm, res, sd, None))
                else:
                    res, sd = _test_row(m, moments[(control, seg)], moments[(arm, seg)], cov_of[m.name], alpha)
                    rows.append(_row(m, seg, arm, res, sd, cov_of[m.name]))
        if m.name in boot_names:
            boot_info[m.name] = {"replicates": n_boot, "seed": seed, "max_units": boot.MAX_UNITS}

    # two families: the whole population's rows (the confirmatory tests the decision reads) and
    # the segment rows (the breakdown), each corrected on its own, so asking for segments never
    # changes the headline p-values
    for family in ([r for r in rows if r["segment"] == "all"], [r for r in rows if r["segment"] != "all"]):
        p_adj = adjust([r["p_value"] for r in family], correction)
        for r, q in zip(family, p_adj):
            r["p_adjusted"] = float(q) if np.isfinite(q) else None
            r["significant"] = bool(np.isfinite(q) and q <= alpha)

    result = {
        "control": control,
        "alpha": alpha,
        "correction": correction,
        "srm": srm.to_dict(),
        "results": rows,
        "decision": None,
        "arms": arms,
        "segments": seg_list,
        "n_users": int(len(table)),
        "cuped": {m.name: ("/".join(cov_of[m.name]) if cov_of[m.name] else None) for m in mets},
        "heterogeneity": heterogeneity_table(rows) if segments else [],
        "bootstrap": boot_info,
    }
    result["decision"] = decide(result, roles).to_dict()
    return result


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


def monitor(tables: Sequence[pd.DataFrame], control: str, metric: str, alpha: float = 0.05,
            tau2: float | None = None) -> dict[str, SequentialResult]:
    """Always-valid day-by-day monitoring: ``tables`` are cumulative per-user tables, one per
    look (day); returns each treatment arm's sequential test of ``metric`` (no CUPED)."""
    return monitor_many(tables, control, [metric], alpha, tau2)[metric]


def monitor_many(tables: Iterable[pd.DataFrame], control: str, metrics: Sequence[str], alpha: float = 0.05,
                 tau2: float | None = None) -> dict[str, dict[str, SequentialResult]]:
    """:func:`monitor` of several metrics in one pass over ``tables`` (any iterable: each look's
    table is reduced to per-arm moments and can be dropped, so a generator of large daily tables
    never holds more than one), keyed by metric then arm."""
    alpha = check_alpha(alpha)
    looks: dict[str, dict[str, list]] = {}
    specs: dict[str, Metric] | None = None
    for t in tables:
        if specs is None:
            specs = {}
            for metric in dict.fromkeys(metrics):
                m = get_metric(metric, t.columns)
                if m.kind == "composite":
                    raise InputError(f"{metric} is a composite; sequential monitoring covers means, ratios and proportions")
                specs[metric] = m
        for metric, m in specs.items():
            post = _post_columns(m)
            cols = list(post) + ([_count_column(m)] if m.subset else [])
            tab = validate_table(t, numeric=m.columns, control=control)
            if m.subset:
                tab[_count_column(m)] = t[m.numerator].notna().to_numpy(np.float64)
                tab[m.numerator] = np.nan_to_num(tab[m.numerator].to_numpy(np.float64), nan=0.0)
            g = summarize(tab, cols, ["arm"])
            empty = Moments.empty(cols)
            sc = stats_from_moments(g.get((control,), empty), post, _count_column(m))
            for arm in arms_in_order(tab, control)[1:]:
                looks.setdefault(metric, {}).setdefault(arm, []).append(
                    (sc, stats_from_moments(g.get((arm,), empty), post, _count_column(m))))
    if specs is None:
        raise InputError("no looks to monitor")
    return {metric: {arm: sequential_from_stats(lk, alpha, tau2) for arm, lk in looks.get(metric, {}).items()}
            for metric in specs}
