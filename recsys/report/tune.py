"""The sweep's charts and HTML page. It renders a :class:`recsys.tune.analysis.SweepResult`'s
tables; it computes no statistics of its own.

* ``lifts``: relative lift vs weight 0 (with its interval) of each metric, per segment;
* ``frontier``: short-term CTR against the objective per segment, the Pareto frontier joined,
  the recommended point starred, points outside the guardrails hollow;
* ``exposure``: homogenisation, coverage and long-tail share per weight, and without retraining
  when the sweep has the static baseline, where that series can be told apart from the retrained
  one (:func:`static_coincides`; the caption says why it is missing elsewhere).

Intervals over replicates are shown only when the sweep has enough replicates
(``summary["replicate_intervals"]``); otherwise the page and the terminal say so.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from recsys.core.format import dash, num, pct
from recsys.report.charts import plt, to_data_uri

LIFT_METRICS = ("ctr", "watch_minutes", "completion_rate", "retention")
EXPOSURE_METRICS = ("homogenization", "coverage", "long_tail_share")
LABELS = {"ctr": "CTR", "watch_minutes": "watch min / user", "completion_rate": "completion rate",
          "churn_rate": "churn rate", "retention": "retention (1 - churn)", "coverage": "catalog coverage",
          "long_tail_share": "long-tail share of plays", "homogenization": "homogenisation (Jaccard)"}


def _x(result, arms) -> tuple[np.ndarray, list[str], str]:
    """Positions of arms on the x axis: the weight for a one-axis grid, else the arm's index."""
    grid = result.config.tune.grid
    names = result.config.arm_names
    if len(grid.varied) == 1:
        w = dict(zip(names, (p[grid.varied[0]] for p in result.config.points)))
        return np.array([w[a] for a in arms]), [f"{w[a]:g}" for a in arms], f"{grid.varied[0]} weight"
    idx = {a: i for i, a in enumerate(names)}
    return np.array([idx[a] for a in arms], float), list(arms), "grid point"


def _segments(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["segment"]))


def lifts_chart(result) -> str:
    t = result.table[result.table["variant"] == result.main_variant]
    segs = _segments(t)
    fig, axes = plt.subplots(len(LIFT_METRICS), len(segs), figsize=(2.6 * len(segs) + 0.6, 2.0 * len(LIFT_METRICS) + 0.6),
                             sharex=True, squeeze=False)
    for i, metric in enumerate(LIFT_METRICS):
        for j, seg in enumerate(segs):
            ax = axes[i, j]
            d = t[(t["metric"] == metric) & (t["segment"] == seg)]
            x, ticks, xlabel = _x(result, d["arm"])
            y = 100 * d["rel_lift"].to_numpy(float)
            lo = 100 * d["rel_ci_low"].fillna(d["rel_lift"]).to_numpy(float)
            hi = 100 * d["rel_ci_high"].fillna(d["rel_lift"]).to_numpy(float)
            ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o-", ms=3, capsize=2, lw=1, color="#0969da")
            rec = d["recommended"].fillna(False).to_numpy(bool)
            ax.plot(x[rec], y[rec], "*", ms=12, color="#bf8700")
            ax.axhline(0, color="#444", lw=0.7)
            ax.grid(alpha=0.3)
            if i == 0:
                ax.set_title(seg, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{LABELS[metric]}\nlift %", fontsize=8)
            if i == len(LIFT_METRICS) - 1:
                ax.set_xlabel(xlabel, fontsize=8)
                ax.set_xticks(x, ticks, fontsize=7)
            ax.tick_params(labelsize=7)
    fig.suptitle("Relative lift vs weight 0, with its interval (star: recommended)", fontsize=10)
    fig.tight_layout()
    return to_data_uri(fig)


def frontier_chart(result) -> str:
    t = result.table[result.table["variant"] == result.main_variant]
    objective = result.config.tune.objective
    segs = _segments(t)
    fig, axes = plt.subplots(1, len(segs), figsize=(3.0 * len(segs), 3.2), squeeze=False)
    for j, seg in enumerate(segs):
        ax = axes[0, j]
        d = t[t["segment"] == seg]
        w = d.pivot(index="arm", columns="metric", values="mean").reindex(result.config.arm_names)
        flags = d.drop_duplicates("arm").set_index("arm").reindex(result.config.arm_names)
        x, y = w["ctr"].to_numpy(float), w[objective].to_numpy(float)
        front = flags["on_frontier"].fillna(False).to_numpy(bool)
        ok = flags["admissible"].fillna(False).to_numpy(bool)
        rec = flags["recommended"].fillna(False).to_numpy(bool)
        order = np.argsort(x[front])
        ax.plot(x[front][order], y[front][order], "-", color="#8250df", lw=1.2, label="Pareto frontier")
        ax.scatter(x[ok], y[ok], s=22, color="#0969da", zorder=3, label="within guardrails")
        ax.scatter(x[~ok], y[~ok], s=22, facecolors="none", edgecolors="#cf222e", zorder=3, label="outside guardrails")
        ax.scatter(x[rec], y[rec], s=140, marker="*", color="#bf8700", zorder=4, label="recommended")
        _, ticks, _ = _x(result, w.index)
        for xi, yi, lab in zip(x, y, ticks):
            ax.annotate(lab, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_title(seg, fontsize=9)
        ax.set_xlabel("CTR", fontsize=8)
        if j == 0:
            ax.set_ylabel(LABELS[objective], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=6, loc="best")
    fig.suptitle(f"Short-term CTR vs {LABELS[objective]} (mean over replicates; labels: weights)", fontsize=10)
    fig.tight_layout()
    return to_data_uri(fig)


def static_coincides(result) -> tuple[dict[tuple[str, str], bool], str | None]:
    """Per (exposure metric, segment) panel: whether the static (no retraining) series coincides
    with the retrained one (within 0.5% of the panel's range: one line would hide the other), and
    why, when it coincides everywhere."""
    t = result.table
    if not {"retrained", "static"} <= set(t["variant"]):
        return {}, None
    names = result.config.arm_names
    panels = {}
    for metric in EXPOSURE_METRICS:
        for seg in _segments(t):
            d = t[(t["metric"] == metric) & (t["segment"] == seg)]
            a, b = (d[d["variant"] == v].set_index("arm")["mean"].reindex(names).to_numpy(float)
                    for v in ("retrained", "static"))
            both = np.concatenate([a, b])
            span = np.nanmax(both) - np.nanmin(both) if np.isfinite(both).any() else 0.0
            tol = 0.005 * max(span, abs(np.nanmax(np.abs(both))) if np.isfinite(both).any() else 0.0, 1e-12)
            panels[(metric, seg)] = bool(np.allclose(a, b, rtol=0.0, atol=tol, equal_nan=True))
    reason = None
    if panels and all(panels.values()):
        exp = result.config.experiment
        if exp.retrain_every and exp.days <= exp.retrain_every:
            reason = (f"the run ({exp.days} days) is no longer than the retraining period (every "
                      f"{exp.retrain_every} days), so no refit happened and the two variants are the same run")
        else:
            reason = "the two variants gave the same figures"
    return panels, reason


def exposure_chart(result) -> str:
    return to_data_uri(exposure_figure(result))


def exposure_figure(result):
    """Homogenisation, coverage and long-tail share per weight and segment; the static series only
    where it can be told apart from the retrained one; the legend lists the series drawn."""
    t = result.table
    segs = _segments(t)
    hidden, _ = static_coincides(result)
    fig, axes = plt.subplots(len(EXPOSURE_METRICS), len(segs), figsize=(2.6 * len(segs) + 0.6, 6.8),
                             sharex=True, squeeze=False)
    every = result.config.experiment.retrain_every
    labels = {"retrained": f"retrained every {every} days" if every else "retrained",
              "static": "without retraining"}
    handles = {}
    for i, metric in enumerate(EXPOSURE_METRICS):
        for j, seg in enumerate(segs):
            ax = axes[i, j]
            for variant, style in (("retrained", "o-"), ("static", "s--")):
                d = t[(t["variant"] == variant) & (t["metric"] == metric) & (t["segment"] == seg)]
                if d.empty or (variant == "static" and hidden.get((metric, seg), False)):
                    continue
                x, ticks, xlabel = _x(result, d["arm"])
                y = d["mean"].to_numpy(float)
                err = [y - d["ci_low"].fillna(d["mean"]).to_numpy(float), d["ci_high"].fillna(d["mean"]).to_numpy(float) - y]
                h = ax.errorbar(x, y, yerr=err, fmt=style, ms=3, capsize=2, lw=1, label=labels[variant],
                                color="#0969da" if variant == "retrained" else "#bc4c00")
                handles.setdefault(labels[variant], h)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(seg, fontsize=9)
            if j == 0:
                ax.set_ylabel(LABELS[metric], fontsize=8)
            if i == len(EXPOSURE_METRICS) - 1:
                ax.set_xlabel(xlabel, fontsize=8)
                ax.set_xticks(x, ticks, fontsize=7)
    fig.suptitle("What users watched, per weight (mean over replicates, with its interval where there are "
                 "enough replicates)", fontsize=10)
    if handles:   # only the series drawn somewhere
        fig.legend(list(handles.values()), list(handles), loc="upper center", bbox_to_anchor=(0.5, 0.955),
                   ncol=len(handles), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.945))
    return fig


def exposure_caption(result) -> str:
    """What the exposure chart draws, and why a series is missing where it is."""
    panels, reason = static_coincides(result)
    every = result.config.experiment.retrain_every
    main = f"Circles: retrained every {every} days" if every else "Circles: the sweep as configured"
    if not panels:
        return main + "."
    if reason is not None:
        return f"{main}. The series without retraining is not drawn: {reason}."
    missing = [f"{LABELS[m]} ({s})" for (m, s), same in panels.items() if same]
    text = f"{main}; squares, dashed: without retraining (same seeds)."
    if missing:
        text += (" Without retraining is not drawn where it coincides with the retrained series (one line "
                 f"would hide the other): {', '.join(missing)}.")
    return text


def render_charts(result) -> dict[str, str]:
    """Chart name -> PNG data URI."""
    return {"lifts": lifts_chart(result), "frontier": frontier_chart(result), "exposure": exposure_chart(result)}


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1150px;color:#1f2328;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0}th,td{padding:.3rem .55rem;border-bottom:1px solid #eaeef2;text-align:right}
th:first-child,td:first-child{text-align:left}.muted{color:#6e7781}.rec{background:#fff8c5}
img.chart{max-width:100%;border:1px solid #eaeef2;border-radius:6px;margin:.3rem 0}
pre{background:#f6f8fa;padding:.8rem;border-radius:6px;font-size:.78rem;overflow-x:auto}
.warn{background:#fff8c5;border-left:5px solid #bf8700;padding:.6rem .8rem}.caption{color:#57606a;font-size:.85rem}
"""


def _pct(x) -> str:
    return dash(pct(x, 2))


def _num(x) -> str:
    return dash(num(x))


def _interval(lo, hi) -> str:
    """' [lo, hi]' in muted type, or nothing when there is no interval (too few replicates)."""
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f" <span class='muted'>[{_num(lo)}, {_num(hi)}]</span>"


def replicate_warning(result) -> str | None:
    """The warning when the sweep has too few replicates for intervals over replicates."""
    return result.summary.get("replicate_intervals", {}).get("warning")


def _recommendation_rows(result) -> str:
    out = []
    for r in result.recommendations.to_dict("records"):
        excluded = "; ".join(f"{a}: {', '.join(m)}" for a, m in r["excluded"].items()) or "none"
        out.append(
            f"<tr><td>{html.escape(r['segment'])}</td><td><b>{html.escape(r['recommended'])}</b></td>"
            f"<td>{_pct(r['objective_rel_lift'])} [{_pct(r['objective_rel_ci_low'])}, {_pct(r['objective_rel_ci_high'])}]</td>"
            f"<td>{_num(r['objective_p_adjusted'])}</td><td>{_pct(r['ctr_rel_lift'])}</td>"
            f"<td>{html.escape(r['best'])} ({_pct(r['best_rel_lift'])})</td>"
            f"<td>{'yes' if r['interior_optimum'] else 'no'}</td><td class='muted'>{html.escape(excluded)}</td></tr>")
    return "".join(out)


def _point_rows(result, segment: str) -> str:
    t = result.table[(result.table["variant"] == result.main_variant) & (result.table["segment"] == segment)]
    metrics = ("ctr", "watch_minutes", "completion_rate", "churn_rate", "coverage", "homogenization")
    out = []
    for arm, d in t.groupby("arm", sort=False):
        d = d.set_index("metric")
        cells = "".join(f"<td>{_num(d.loc[m, 'mean'])}{_interval(d.loc[m, 'ci_low'], d.loc[m, 'ci_high'])}"
                        f"<br>{_pct(d.loc[m, 'rel_lift'])}</td>" for m in metrics)
        cls = " class='rec'" if bool(d["recommended"].fillna(False).iloc[0]) else ""
        front = "frontier" if bool(d["on_frontier"].fillna(False).iloc[0]) else ""
        out.append(f"<tr{cls}><td>{html.escape(arm)}</td>{cells}<td>{front}</td></tr>")
    head = "".join(f"<th>{LABELS[m]}</th>" for m in metrics)
    return f"<table><tr><th>arm</th>{head}<th></th></tr>{''.join(out)}</table>"


def differs_line(summary: dict) -> str:
    """Whether segments' optima differ, as the tests of their optima say (plain text)."""
    peaks, differs = summary.get("peaks"), summary.get("optimum_differs_between_segments")
    if differs is None or not peaks:
        return ("Optimum differs between segments: not tested (the test of peaks needs one varied axis with at "
                "least three weights)")
    pairs = [d for d in peaks["differences"] if d.get("p_holm") is not None and np.isfinite(d["p_holm"])]
    if not pairs:
        return "Optimum differs between segments: not shown (fewer than two segments have a peak to compare)"
    best = min(pairs, key=lambda d: d.get("p_test", d["p_value"]))
    return (f"Optimum differs between segments: {'yes' if differs else 'no'} (tests of the optima, Holm over "
            f"{len(pairs)} pair{'s' if len(pairs) > 1 else ''}; {pair_text(best, peaks['axis'])})")


def pair_text(d: dict, axis: str = "diversity") -> str:
    """One pair's test in words: the difference of two peaks, or a segment's slope at another's peak."""
    holm = f", Holm {num(d['p_holm'])}" if d.get("p_holm") is not None and np.isfinite(d["p_holm"]) else ""
    s = d.get("slope")
    if d.get("test") == "slope" and s:
        side = ("" if not s["significant"] else
                f": {s['of']}'s optimum lies {'above' if s['slope'] > 0 else 'below'} it")
        return (f"{s['of']} vs {s['at_peak_of']}: {s['of']}'s slope at {s['at_peak_of']}'s peak ({axis} "
                f"{s['at']:.2f}) {s['slope']:+.3g} [{s['ci_low']:+.3g}, {s['ci_high']:+.3g}] per unit, "
                f"p = {num(s['p_value'])}{holm}{side}")
    side = f": {d['a']}'s optimum lies {'above' if d['diff'] > 0 else 'below'} {d['b']}'s" if d.get("significant") else ""
    return (f"{d['a']} vs {d['b']}: {d['diff']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}], "
            f"p = {num(d['p_value'])}{holm}{side}")


def differing_pairs(summary: dict) -> list[dict]:
    """The pairs of segments whose optima differ after Holm's correction, most significant first."""
    peaks = summary.get("peaks") or {}
    alpha = peaks.get("alpha", 0.05)
    hits = [d for d in peaks.get("differences", [])
            if d.get("p_holm") is not None and np.isfinite(d["p_holm"]) and d["p_holm"] < alpha]
    return sorted(hits, key=lambda d: d.get("p_test", d["p_value"]))


def peak_lines(summary: dict) -> list[str]:
    """One line per segment: where the objective peaks along the weight, with its interval."""
    peaks = summary.get("peaks")
    if not peaks:
        return []
    out = []
    for seg, p in peaks["segments"].items():
        if p["peak"]:
            where = (f"[{p['ci_low']:.2f}, {p['ci_high']:.2f}]" + ("" if p["within_grid"] else ", reaching the grid's end")
                     if p["ci_low"] is not None and np.isfinite(p["ci_low"]) else "no bounded interval")
            out.append(f"  {seg:<15} peak at {peaks['axis']} {p['weight']:.2f} {where} (curvature p = {num(p['b2_p'])})")
        else:
            out.append(f"  {seg:<15} no peak (curvature p = {num(p['b2_p'])})")
    return out


def _peak_html(summary: dict) -> str:
    peaks = summary.get("peaks")
    if not peaks:
        return ""
    rows = []
    for seg, p in peaks["segments"].items():
        ok = p["peak"] and p["ci_low"] is not None and np.isfinite(p["ci_low"])
        rows.append(f"<tr><td>{html.escape(seg)}</td><td>{_num(p['weight']) if p['peak'] else 'no peak'}</td>"
                    f"<td>{'[' + _num(p['ci_low']) + ', ' + _num(p['ci_high']) + ']' if ok else '–'}</td>"
                    f"<td>{_num(p['b2_p'])}</td><td>{'yes' if p['within_grid'] else 'no'}</td><td>{p['users']:,}</td></tr>")
    return (f"<h2>Where {html.escape(peaks['objective'])} peaks</h2><table><tr><th>segment</th>"
            f"<th>peak ({html.escape(peaks['axis'])})</th><th>interval</th><th>curvature p</th><th>inside the grid</th>"
            f"<th>users</th></tr>{''.join(rows)}</table><p class='caption'>{html.escape(peaks['method'])}.</p>"
            + _pairs_html(peaks))


def _pairs_html(peaks: dict) -> str:
    """Every pair of segments with a test of their optima, and what it says."""
    tested = [d for d in peaks["differences"] if d.get("test")]
    if not tested:
        return ""
    rows = "".join(f"<tr><td>{html.escape(d['a'])} vs {html.escape(d['b'])}</td><td>"
                   f"{'difference of the peaks' if d['test'] == 'peaks' else 'slope at the other’s peak'}</td>"
                   f"<td>{html.escape(pair_text(d, peaks['axis']))}</td></tr>" for d in tested)
    return ("<table><tr><th>segments</th><th>test</th><th>result</th></tr>" + rows + "</table>")


def render_tune_report(result, charts: dict[str, str] | None = None) -> str:
    """A self-contained HTML page (charts embedded as data URIs)."""
    charts = charts or render_charts(result)
    cfg = result.config
    s = result.summary
    exp = cfg.experiment
    homog = s["homogenization"]
    slope = "; ".join(f"{v}: {x:+.4f} per unit of diversity" for v, x in homog.get("slope_per_unit_diversity", {}).items())
    retrain = homog.get("retrain_effect")
    retrain_html = ""
    if retrain:
        retrain_html = ("<p>Homogenisation with retraining minus without (same seeds, paired by replicate): "
                        + "; ".join(f"{html.escape(a)} {e['diff']:+.4f}{_interval(e['ci_low'], e['ci_high'])}"
                                    for a, e in retrain.items()) + "</p>")
    segs = "".join(f"<h3>{html.escape(seg)}</h3>{_point_rows(result, seg)}" for seg in _segments(result.table))
    warning = replicate_warning(result)
    warning_html = f"<p class='warn'><b>Warning:</b> {html.escape(warning)}.</p>" if warning else ""
    ri = s.get("replicate_intervals", {})
    minimum = ri.get("min_replicates", 3)
    guard = ", ".join(f"{m} {_pct(v)}" for m, v in cfg.tune.guardrails.items()) or "none"
    if cfg.tune.design == "paired":
        design_html = ("Paired design: in each replicate every user is shown every grid point in turn, from the same "
                       "state of the world after the warm-up and with the same random draws (common random numbers), "
                       f"on a world and population of the replicate's own seed (spawned from seed {exp.seed}). ")
        lift_method = ("each point's comparison with weight 0 on the same users (paired delta method: per-user "
                       "linearisation of each arm's ratio of sums, the covariance of the two arms kept; corrected "
                       "within each segment)")
    else:
        design_html = ("Each replicate is one experiment whose arms are all grid points with equal shares (assignment "
                       "by a hash of seed and user id), on a world, population and assignment of its own seed "
                       f"(spawned from seed {exp.seed}). ")
        lift_method = ("the pooled A/B test of the stacked per-user tables (delta method, Welch or two-proportion z, "
                       "CUPED on pre-experiment covariates)")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Diversity sweep: {html.escape(exp.name)}</title>
<style>{CSS}</style></head><body>
<h1>Re-ranker weight sweep: {html.escape(exp.name)}</h1>
<p>{len(cfg.arm_names)} arms ({html.escape(', '.join(cfg.arm_names))}) of the <b>{html.escape(cfg.tune.policy)}</b> policy,
{cfg.tune.replicates} replicates of {exp.users:,} users over {exp.days} days (warm-up {exp.warmup_days} days;
retraining {'every ' + str(exp.retrain_every) + ' days' if exp.retrain_every else 'never'}). Objective:
<b>{html.escape(cfg.tune.objective)}</b>; guardrails ({html.escape(cfg.tune.guardrail_rule)} rule): {html.escape(guard)}.
Intervals are {100 * s['confidence']:.0f}%.</p>{warning_html}
<h2>Recommended weight per segment</h2>
<table><tr><th>segment</th><th>recommended</th><th>objective lift [CI]</th><th>p</th><th>CTR lift</th>
<th>best ignoring guardrails</th><th>interior optimum</th><th>outside guardrails</th></tr>
{_recommendation_rows(result)}</table>
{_peak_html(s)}
<p>{html.escape(differs_line(s))}. Segments whose best grid point is interior: {html.escape(', '.join(s['interior_optimum_segments']) or 'none')}.</p>
<h2>Trade-off frontier</h2><img class="chart" src="{charts['frontier']}" alt="frontier">
<h2>Lifts per weight and segment</h2><img class="chart" src="{charts['lifts']}" alt="lifts">
<h2>Homogenisation, coverage, long tail</h2><img class="chart" src="{charts['exposure']}" alt="exposure">
<p class="caption">{html.escape(exposure_caption(result))}</p>
<p>Trend of homogenisation with the diversity weight: {html.escape(slope or 'n/a')}.</p>{retrain_html}
<h2>Every point (mean [interval over replicates], lift vs weight 0)</h2>{segs}
<h2>Method</h2>
<p>{design_html}Intervals over
replicates are t intervals of the replicate values taken on a scale that respects each figure's bounds and mapped
back (logit for rates, log for watch minutes, log ratio for relative lifts; a rate of exactly 0 or 1 in a replicate
falls back to the raw interval clipped to the bounds, as the tables' <code>ci_scale</code> says); they are given from
{minimum} replicates on (with fewer the t interval has at most one degree of freedom). Lifts of CTR, watch minutes,
completion and churn/retention
come from {lift_method} (correction: {html.escape(exp.correction)}; a relative interval that would reach below
-100% is taken on the log-ratio scale); lifts of the exposure measures are over replicates. Homogenisation is the mean pairwise Jaccard similarity of the sets of titles users played during the
experiment (a sample of at most {cfg.tune.homogenization_sample} users per arm and segment). The frontier holds the
points no other point beats on both CTR and {html.escape(cfg.tune.objective)}; the recommendation is the point with
the best {html.escape(cfg.tune.objective)} among those within the guardrails (weight 0 always is).</p>
<h2>Configuration</h2><pre>{html.escape(cfg.to_toml())}</pre>
</body></html>
"""


def render_text(result) -> str:
    """The per-segment recommendations as a few readable lines for the terminal."""
    obj = result.config.tune.objective
    warning = replicate_warning(result)
    lines = [f"warning: {warning}."] if warning else []
    lines.append(f"Objective: {obj}. Recommended weights per segment (relative lift vs {result.config.control}, "
                 f"{100 * result.summary['confidence']:.0f}% interval):")
    for r in result.recommendations.to_dict("records"):
        where = "interior optimum" if r["interior_optimum"] else "optimum at the grid's edge"
        lines.append(f"  {r['segment']:<15} {r['recommended']:<16} {obj} {_pct(r['objective_rel_lift'])} "
                     f"[{_pct(r['objective_rel_ci_low'])}, {_pct(r['objective_rel_ci_high'])}], "
                     f"ctr {_pct(r['ctr_rel_lift'])}; best ignoring guardrails {r['best']} ({where})")
    s = result.summary
    if s.get("peaks"):
        lines.append(f"Where {s['peaks']['objective']} peaks (within-user quadratic, {100 * s['confidence']:.0f}% interval):"
                     if s["peaks"].get("design") == "paired" else
                     f"Where {s['peaks']['objective']} peaks (quadratic in the weight, {100 * s['confidence']:.0f}% interval):")
        lines += peak_lines(s)
    lines.append(differs_line(s))
    pairs = differing_pairs(s)
    lines += [f"  also {pair_text(d, s['peaks']['axis'])}" for d in pairs[1:]]
    return "\n".join(lines)
