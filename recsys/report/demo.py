"""The demo's HTML report: one self-contained page (inline CSS, charts as data URIs, no script).

Order: the verdict, the trade-offs, lifts per metric and segment, daily curves, day-by-day
sequential monitoring, sample sizes, offline metrics of the arms' models, catalog exposure,
what users see, and the methods. Inference comes from the analysis dict (:mod:`recsys.stats`,
:mod:`recsys.decision`); this module adds only descriptive aggregates (:mod:`recsys.daily`)
and the offline evaluation of the arms' scorers (:mod:`recsys.evaluate`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from recsys import daily as dly
from recsys import exposure as exp
from recsys.report import charts

CSS = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d8dee4;--soft:#f6f8fa;--good:#1a7f37;--bad:#cf222e;--warn:#9a6700}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:var(--fg);
 line-height:1.45;background:#fff}
main{max-width:1120px;margin:0 auto;padding:1.5rem 1.2rem 4rem}
h1{font-size:1.7rem;margin:.2rem 0}h2{font-size:1.25rem;margin:2.4rem 0 .6rem;padding-bottom:.3rem;
 border-bottom:1px solid var(--line)}h3{font-size:1rem;margin:1.2rem 0 .4rem}
.sub{color:var(--muted);margin:0 0 1rem}.muted{color:var(--muted)}.small{font-size:.85rem}
nav{font-size:.85rem;margin:.6rem 0 1.2rem;display:flex;flex-wrap:wrap;gap:.3rem .9rem}
nav a{color:#0969da;text-decoration:none}
.verdict{border-radius:10px;padding:1.1rem 1.3rem;margin:1rem 0;border:1px solid}
.verdict .word{font-size:1.9rem;font-weight:700;letter-spacing:.02em}
.verdict .headline{font-size:1.1rem;margin:.3rem 0 .6rem}
.verdict ul{margin:.3rem 0 0;padding-left:1.2rem}.verdict li{margin:.15rem 0}
.ship{background:#dafbe1;border-color:var(--good)}.ship .word{color:var(--good)}
.no-ship{background:#ffebe9;border-color:var(--bad)}.no-ship .word{color:var(--bad)}
.investigate{background:#fff8c5;border-color:var(--warn)}.investigate .word{color:var(--warn)}
.cards{display:flex;flex-wrap:wrap;gap:.7rem;margin:.8rem 0}
.card{border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem;min-width:170px;background:#fff}
.card .k{font-size:.75rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:1.3rem;font-weight:600}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;width:100%}
th,td{padding:.35rem .55rem;border-bottom:1px solid #eaeef2;text-align:right;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
th:first-child,td:first-child,td.l,th.l{text-align:left}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;border-radius:999px;padding:0 .5rem;font-size:.75rem;font-weight:600;border:1px solid}
.b-better,.b-ok{color:var(--good);border-color:var(--good);background:#dafbe1}
.b-worse,.b-breached{color:var(--bad);border-color:var(--bad);background:#ffebe9}
.b-none,.b-unknown{color:var(--muted);border-color:#afb8c1;background:var(--soft)}
.role{font-size:.72rem;color:var(--muted);display:block}
figure{margin:.6rem 0 1.2rem}figure img.chart{max-width:100%;height:auto;display:block}
figcaption{font-size:.82rem;color:var(--muted);margin-top:.3rem}
.note{background:var(--soft);border-left:3px solid #afb8c1;padding:.5rem .8rem;font-size:.88rem;margin:.6rem 0}
.previews{display:grid;grid-template-columns:1fr;gap:1rem}
.preview{border:1px solid var(--line);border-radius:8px;padding:.6rem;overflow:auto}
.methods dt{font-weight:600;margin-top:.7rem}.methods dd{margin:.2rem 0 0 0}
details summary{cursor:pointer;color:#0969da}pre{background:var(--soft);padding:.8rem;overflow:auto;font-size:.8rem}
@media print{nav{display:none}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""

SECTIONS = (("verdict", "Verdict"), ("tradeoffs", "Trade-offs"), ("lifts", "Lifts"), ("daily", "Day by day"),
            ("sequential", "Monitoring"), ("samples", "Sample sizes"), ("offline", "Offline metrics"),
            ("exposure", "Catalog exposure"), ("preview", "What users see"), ("methods", "Methods"))


# --- formatting ------------------------------------------------------------------------------

def _e(x) -> str:
    return html.escape(str(x))


def _ok(x) -> bool:
    return x is not None and isinstance(x, (int, float, np.number)) and bool(np.isfinite(x))


def _num(x, digits: int = 4) -> str:
    return f"{x:.{digits}g}" if _ok(x) else "–"


def _signed(x, digits: int = 3) -> str:
    return f"{x:+.{digits}g}" if _ok(x) else "–"


def _pct(x, digits: int = 1) -> str:
    return f"{100 * x:+.{digits}f}%" if _ok(x) else "–"


def _share(x, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%" if _ok(x) else "–"


def _p(x) -> str:
    if not _ok(x):
        return "–"
    return f"{x:.3f}" if x >= 0.001 else f"{x:.1e}"


def _by_se(*se):
    """A formatter showing a difference to about a tenth of its (smallest) standard error."""
    from recsys.report.text import _decimals

    d = _decimals(se)
    return lambda x: f"{x:+.{d}f}" if _ok(x) else "–"


def _interval(lo, hi, fmt=_pct) -> str:
    return f"[{fmt(lo)}, {fmt(hi)}]"


def _badge(text: str, kind: str) -> str:
    return f"<span class='badge b-{kind}'>{_e(text)}</span>"


def _figure(fig_id: str, uri: str, alt: str, caption: str) -> str:
    return (f"<figure id='fig-{fig_id}'><img class='chart' src='{uri}' alt='{_e(alt)}'>"
            f"<figcaption>{caption}</figcaption></figure>")


def _frame_table(df: pd.DataFrame, formats: Mapping[str, callable], headers: Mapping[str, str] | None = None) -> str:
    headers = headers or {}
    head = "".join(f"<th>{_e(headers.get(c, c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{formats[c](v)}</td>" if c in formats else f"<td class='l'>{_e(v)}</td>"
        for c, v in zip(df.columns, row)) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


# --- data the report needs beyond the analysis -------------------------------------------------

@dataclass
class ReportData:
    """Descriptive frames for the report, computed from the logs by :mod:`recsys.daily`."""

    arms: list[str]
    daily: pd.DataFrame
    survival: pd.DataFrame
    churn_exact: bool
    exposure: pd.DataFrame
    genre_share: pd.DataFrame
    samples: pd.DataFrame
    offline: pd.DataFrame | None
    offline_note: str


def sample_sizes(table: pd.DataFrame, arms: list[str], shares: Mapping[str, float]) -> pd.DataFrame:
    """Users per arm in all and in each segment, with the sample-ratio test per row."""
    from recsys.stats.srm import srm_test

    counts = pd.crosstab(table["segment"], table["arm"]).reindex(columns=arms, fill_value=0)
    counts.loc["all"] = counts.sum()
    counts = counts.loc[["all", *[s for s in counts.index if s != "all"]]]
    tests = [srm_test({a: int(n) for a, n in row.items()}, shares) for _, row in counts.iterrows()]
    out = counts.reset_index().rename(columns={"index": "segment"})
    out.columns.name = None
    out["users"] = counts.sum(axis=1).to_numpy()
    out["srm_p"] = [t.p_value for t in tests]
    out["srm_ok"] = [t.ok for t in tests]
    return out


def _offline_model(policy, seed: int):
    """The offline counterpart of an arm's policy: its scorer and re-rankers (None if it has none)."""
    from recsys.models import Popularity, Random
    from recsys.models.pipeline import Pipeline
    from recsys.policies import RecommenderPolicy
    from recsys.policy import PopularityPolicy, RandomPolicy

    if isinstance(policy, RecommenderPolicy):
        return Pipeline(policy.scorer, policy.rerankers, candidates=policy.candidates)
    if isinstance(policy, PopularityPolicy):
        return Popularity()
    if isinstance(policy, RandomPolicy):
        return Random(random_state=seed)
    return None


def offline_metrics(result, *, users: int = 4000, k: int = 10) -> tuple[pd.DataFrame | None, str]:
    """NDCG@k, precision, recall, coverage, ILD, novelty and long-tail share of each arm's
    scorer on a temporal hold-out of the warm-up plays of a sample of ``users`` users."""
    from recsys.evaluate.offline import evaluate_models

    cfg, world = result.config, result.world
    models = {a.name: _offline_model(p, cfg.seed) for a, p in zip(cfg.arms, result.policies)}
    skipped = [n for n, m in models.items() if m is None]
    models = {n: m for n, m in models.items() if m is not None}
    plays = result.warmup.logs.plays
    if not models or plays.empty:
        return None, "no arm has an offline counterpart" if not models else "no warm-up plays"
    pool = np.unique(plays["user_id"].to_numpy())
    rng = np.random.default_rng(cfg.seed)
    chosen = rng.choice(pool, min(users, len(pool)), replace=False)
    p = plays[np.isin(plays["user_id"].to_numpy(), chosen)]
    cat = world.catalog
    titles = p["title"].to_numpy()
    weight = np.clip(p["minutes"].to_numpy() / (cat.runtime[titles] * np.maximum(p["episodes"].to_numpy(), 1)),
                     0.05, 1.0)
    inter = pd.DataFrame({"user": p["user_id"].to_numpy(), "item": titles, "weight": weight,
                          "day": p["day"].to_numpy()})
    df = evaluate_models(inter, cat.items_frame(), models, k=k, split="temporal", seed=cfg.seed)
    df = df[df["segment"] == "all"].drop(columns="segment").rename(columns={"model": "arm"}).reset_index(drop=True)
    note = (f"{len(chosen):,} warm-up users sampled; the last 20% of their plays in time held out; "
            f"{int(df['users'].iloc[0]):,} users with a held-out title scored at k = {k}")
    if skipped:
        note += f"; no offline counterpart for {', '.join(skipped)}"
    return df, note


def report_data(job, offline: pd.DataFrame | None = None) -> ReportData:
    """Everything the report shows beyond the analysis dict, from the job's logs and policies."""
    r = job.result
    t = r.table
    arms = list(job.analysis["arms"])
    ids, arm = t["user_id"].to_numpy(), t["arm"].to_numpy()
    days = range(r.config.days)
    churn_day, exact = dly.churn_day_of(r)
    cat = r.world.catalog
    warm = np.bincount(r.warmup.logs.plays["title"].to_numpy(np.int64), minlength=cat.n_titles)
    users = t[["user_id", "arm"]]
    genres = exp.genre_shares(r.logs.plays, users, cat.genres, names=cat.genre_names)
    if offline is None:
        offline, note = offline_metrics(r)
    else:
        note = "passed in"
    return ReportData(
        arms=arms,
        daily=dly.daily_metrics(r.logs.sessions, r.logs.plays, ids, arm, days=days, arm_order=arms),
        survival=dly.retention(churn_day, arm, days, arm_order=arms),
        churn_exact=exact,
        exposure=exp.exposure_table(r.logs.plays, users, cat.n_titles, popularity=warm, seed=r.config.seed)
        .set_index("arm").reindex(arms).reset_index(),
        genre_share=genres.melt(id_vars="arm", var_name="genre", value_name="share"),
        samples=sample_sizes(t, arms, {a.name: a.share for a in r.config.arms}),
        offline=offline, offline_note=note)


# --- sections --------------------------------------------------------------------------------

def _tradeoffs(a: dict) -> list[dict]:
    return list(a["decision"].get("tradeoffs") or [])


def _headline(a: dict) -> str:
    dec = a["decision"]
    roles = dec.get("roles", {})
    primary = roles.get("primary")
    arm = dec.get("arm") or (a["arms"][1] if len(a.get("arms", [])) > 1 else None)
    rows = [r for r in _tradeoffs(a) if r["arm"] == arm]
    prim = next((r for r in rows if r["metric"] == primary), None)
    breached = [r for r in rows if r.get("guardrail") == "breached"]
    lead = {"ship": f"Ship {arm}.", "no-ship": f"Do not ship {arm}.",
            "investigate": "Not decided yet: investigate before shipping."}[dec["verdict"]]
    if a.get("srm", {}).get("ok") is False:
        return lead + " The arms' user counts do not match the planned split, so no comparison can be trusted yet."
    parts = []
    if prim is not None:
        verb = "rose" if (prim["rel_lift"] or 0) > 0 else "fell"
        sure = {"better": "a clear improvement", "worse": "clearly worse",
                "no clear change": "too small to tell from noise"}[prim["effect"]]
        level = f"{100 * (1 - a['alpha']):g}%"
        parts.append(f"The primary metric, {primary}, {verb} {_pct(prim['rel_lift'])} "
                     f"({level} interval {_pct(prim['rel_ci_low'])} to {_pct(prim['rel_ci_high'])}): {sure}")
    for i, g in enumerate(breached):
        worst = g["rel_ci_high"] if g["good_direction"] == "lower" else g["rel_ci_low"]
        parts.append(f"{'but' if i == 0 else 'and'} the guardrail {g['metric']} moved {_pct(g['rel_lift'])} and could "
                     f"be as bad as {_pct(worst)}, past its tolerance of {_pct(g['tolerance'])}")
    if not breached and any(r.get("guardrail") for r in rows):
        parts.append("and every guardrail held")
    return lead + (" " + "; ".join(parts) + "." if parts else "")


def section_verdict(a: dict, job) -> str:
    dec = a["decision"]
    v = dec["verdict"]
    reasons = "".join(f"<li>{_e(r)}</li>" for r in dec["reasons"])
    per_arm = dec.get("per_arm") or {}
    arms_line = ""
    if len(per_arm) > 1:
        arms_line = "<p class='small'>Per arm: " + "; ".join(
            f"{_e(k)}: <b>{_e(d['verdict'])}</b>" for k, d in per_arm.items()) + "</p>"
    prim = dec.get("roles", {}).get("primary", "")
    cards = [("users", f"{a.get('n_users', len(job.result.table)):,}"), ("days", str(job.result.config.days)),
             ("arms", " vs ".join(a["arms"][1:]) + f" vs {a['control']} (control)"), ("primary metric", prim)]
    cards_html = "".join(f"<div class='card'><div class='k'>{_e(k)}</div><div class='v'>{_e(val)}</div></div>"
                         for k, val in cards)
    return (f"<section id='verdict'><div class='verdict {_e(v)}'><div class='word'>{_e(v.upper())}</div>"
            f"<div class='headline'>{_e(_headline(a))}</div>{arms_line}"
            f"<details open><summary>Why</summary><ul>{reasons}</ul></details></div>"
            f"<div class='cards'>{cards_html}</div></section>")


def section_tradeoffs(a: dict) -> str:
    rows = {(r["metric"], r["arm"]): r for r in a["results"] if r["segment"] == "all"}
    level = f"{100 * (1 - a['alpha']):g}%"
    body = []
    for t in _tradeoffs(a):
        r = rows.get((t["metric"], t["arm"]))
        if r is None:
            continue
        eff = t["effect"]
        fx = _by_se(r.get("se"))
        kind = {"better": "better", "worse": "worse"}.get(eff, "none")
        guard = ""
        if t.get("guardrail"):
            tol = t.get("tolerance")
            bound = "rise" if r.get("lower_is_better") else "change"
            sign = "≤" if r.get("lower_is_better") else "≥"
            guard = (_badge(t["guardrail"], t["guardrail"]) +
                     f"<span class='role'>tolerance: {bound} {sign} {_pct(tol)}</span>")
        p_raw = f"<span class='role'>raw {_p(r['p_value'])}</span>"
        abs_ci = _interval(r["ci_low"], r["ci_high"], fx)
        rel_ci = _interval(r["rel_ci_low"], r["rel_ci_high"])
        body.append(
            f"<tr><td>{_e(t['metric'])}<span class='role'>{_e(t['role'])} · {_e(t['good_direction'])} is better"
            f"{' · ' + _e(t['arm']) if len(a['arms']) > 2 else ''}</span></td>"
            f"<td class='num'>{_num(r['control'])}</td><td class='num'>{_num(r['treatment'])}</td>"
            f"<td class='num'>{fx(r['diff'])}<span class='role'>{abs_ci}</span></td>"
            f"<td class='num'>{_pct(r['rel_lift'])}<span class='role'>{rel_ci}</span></td>"
            f"<td class='num'>{_p(r['p_adjusted'])}{p_raw}</td><td>{_badge(eff, kind)}</td><td>{guard}</td>"
            f"<td class='l small muted'>{_e(r['method'])}</td></tr>")
    return (f"<section id='tradeoffs'><h2>Trade-offs: what the primary's win costs</h2>"
            f"<p class='muted small'>All users. Lifts are treatment minus control with their {level} intervals; "
            f"p-values adjusted ({_e(a['correction'])}) across every metric, segment and arm. A guardrail is "
            "breached when the worst end of its relative interval crosses the tolerance.</p>"
            f"<table><tr><th>metric</th><th>control</th><th>treatment</th><th>absolute lift [{level}]</th>"
            f"<th>relative lift [{level}]</th><th>p (adjusted)</th><th>effect</th><th>guardrail</th>"
            f"<th class='l'>test</th></tr>{''.join(body)}</table></section>")


def section_lifts(a: dict) -> str:
    roles = a["decision"].get("roles", {})
    order = {r["metric"]: i for i, r in enumerate(_tradeoffs(a))}
    all_rows = sorted([r for r in a["results"] if r["segment"] == "all"],
                      key=lambda r: (order.get(r["metric"], 99), r["arm"]))
    tol = roles.get("guardrails", {})
    seg_metrics = [m for m in dict.fromkeys([roles.get("primary"), *tol, *roles.get("secondary", [])]) if m]
    segs = a.get("segments", ["all"])
    out = ["<section id='lifts'><h2>Lifts per metric and per segment</h2>",
           _figure("forest-metrics", charts.forest_metrics(all_rows, tol, "Relative lift per metric, all users"),
                   "forest plot of relative lifts per metric",
                   "Dot: relative lift; bar: its interval. Green: significantly better after correction; red: "
                   "significantly worse; grey: no clear change. Dotted red: a guardrail's tolerance.")]
    if len(segs) > 1:
        out.append(_figure("forest-segments", charts.forest_segments(a["results"], seg_metrics, segs,
                                                                     "Relative lift per segment"),
                           "forest plots of relative lifts per segment",
                           "The same lifts within each engagement segment (segment at assignment). Segments are "
                           "smaller, so their intervals are wider: read them against the test below, not one by one."))
    het = a.get("heterogeneity") or []
    if het:
        rows = "".join(f"<tr><td>{_e(h['metric'])}</td><td class='l'>{_e(h['arm'])}</td>"
                       f"<td class='num'>{_num(h['q'], 3)}</td><td class='num'>{h['df']}</td>"
                       f"<td class='num'>{_p(h['p_value'])}</td>"
                       f"<td class='num'>{_share(h['i2'], 0)}</td><td>{'yes' if h.get('differs') else 'no'}</td></tr>"
                       for h in het)
        out.append("<h3>Does the effect differ across segments?</h3><table><tr><th>metric</th><th class='l'>arm</th>"
                   "<th>Cochran's Q</th><th>df</th><th>p</th><th>I²</th><th>differs (p &lt; 0.05)</th></tr>"
                   f"{rows}</table>")
    out.append("</section>")
    return "".join(out)


def section_daily(data: ReportData) -> str:
    note = "" if data.churn_exact else ("Churn day approximated by the user's last visit (the runner keeps no "
                                        "exact day): the curve is a lower bound early on.")
    at_risk = data.survival.groupby("arm", sort=False)["at_risk"].first()
    cap = ("Left: clicks per impression each day. Middle: minutes watched that day per user who visited that day. "
           "Right: share of each arm's users still subscribed at the end of each day, among the "
           + ", ".join(f"{n:,} {_e(a)}" for a, n in at_risk.items()) + " users not lapsed before day 0. " + _e(note))
    counts = ["users", "active_users", "sessions", "impressions", "clicks", "plays"]
    fmt = {**{c: "{:,}".format for c in counts}, "day": str, "ctr": _num, "watch_minutes": lambda x: f"{x:,.0f}",
           "watch_min_per_active_user": _num}
    cols = ["arm", "day", *counts[:5], "ctr", "plays", "watch_minutes", "watch_min_per_active_user"]
    return ("<section id='daily'><h2>Day by day</h2>"
            + _figure("daily", charts.daily_panels(data.daily, data.survival, data.arms), "daily curves per arm", cap)
            + "<details><summary>Daily numbers</summary>" + _frame_table(data.daily[cols], fmt)
            + "</details></section>")


def section_sequential(a: dict) -> str:
    seq = a.get("sequential") or []
    if not seq:
        return ("<section id='sequential'><h2>Monitoring day by day</h2><p class='muted'>No sequential monitoring "
                "in this analysis.</p></section>")
    df = pd.DataFrame(seq)
    level = f"{100 * (1 - a['alpha']):g}%"
    final = {(r["arm"], r["metric"]): r for r in a["results"] if r["segment"] == "all"}
    prim = a["decision"].get("roles", {}).get("primary")
    fig = _figure("sequential", charts.sequential_chart(df, final, a["alpha"]), "confidence sequences over days",
                  f"Blue band: the always-valid {level} interval from the data up to each day; it may be read every "
                  f"day without inflating false alarms. Grey bars: the ordinary {level} interval of the same day, "
                  "valid only if looked at once. Black square: the final analysis (with CUPED where available).")
    p = df[df["metric"] == prim]
    fx = _by_se(*p["se"])
    rows = "".join(
        f"<tr><td>{r.day}</td><td class='l'>{_e(r.arm)}</td><td class='num'>{fx(r.estimate)}</td>"
        f"<td class='num'>{_interval(r.ci_low, r.ci_high, fx)}</td>"
        f"<td class='num'>{_interval(r.fixed_ci_low, r.fixed_ci_high, fx)}</td><td class='num'>{_p(r.p_value)}</td>"
        f"<td>{_badge('reject', 'better') if r.reject else _badge('continue', 'none')}</td></tr>"
        for r in p.itertuples())
    summary = []
    for (arm, metric), g in df.groupby(["arm", "metric"], sort=False):
        last = g.iloc[-1]
        fx = _by_se(last.se)
        first = g.loc[g["reject"], "day"]
        empty = g.loc[g["cs_low"] > g["cs_high"], "day"]
        fixed_width = last.fixed_ci_high - last.fixed_ci_low
        ratio = (last.ci_high - last.ci_low) / fixed_width if _ok(fixed_width) and fixed_width > 0 else float("nan")
        drift = f"effect drifted: running intersection empty from day {int(empty.iloc[0])}" if len(empty) else "stable"
        summary.append(f"<tr><td>{_e(metric)}<span class='role'>{_e(last.role)}</span></td><td class='l'>{_e(arm)}</td>"
                       f"<td class='num'>{int(first.iloc[0]) if len(first) else 'never'}</td>"
                       f"<td class='num'>{_interval(last.ci_low, last.ci_high, fx)}</td>"
                       f"<td class='num'>{_interval(last.fixed_ci_low, last.fixed_ci_high, fx)}</td>"
                       f"<td class='num'>{_num(ratio, 3)}×</td>"
                       f"<td class='l small'>{drift}</td></tr>")
    return ("<section id='sequential'><h2>Monitoring day by day (always-valid)</h2>"
            "<p class='small muted'>Peeking at an ordinary p-value every day and stopping at the first p &lt; 0.05 "
            "raises the false-alarm rate well above 5%. The always-valid test below (a mixture sequential "
            "probability ratio test on the cumulative per-user table of each day) can be checked daily.</p>"
            + fig + f"<h3>{_e(prim)}, by day</h3><table><tr><th>day</th><th class='l'>arm</th><th>estimate</th>"
            f"<th>always-valid {level}</th><th>fixed-horizon {level}</th><th>always-valid p</th><th></th></tr>"
            f"{rows}</table>"
            "<h3>Primary and guardrails</h3><table><tr><th>metric</th><th class='l'>arm</th><th>first day p ≤ α</th>"
            f"<th>always-valid {level}, last day</th><th>fixed-horizon {level}, last day</th><th>width ratio</th>"
            f"<th class='l'>constant effect?</th></tr>{''.join(summary)}</table></section>")


def section_samples(a: dict, data: ReportData) -> str:
    srm = a["srm"]
    ok = srm.get("ok", True)
    exp = srm.get("expected") or {}
    fmt = {c: "{:,}".format for c in data.arms}
    fmt.update({"users": "{:,}".format, "srm_p": _p, "srm_ok": lambda x: "ok" if x else "MISMATCH"})
    state = _badge("ok", "ok") if ok else _badge("mismatch", "breached")
    return ("<section id='samples'><h2>Sample ratio and sample sizes</h2>"
            f"<p>Sample-ratio check {state}: chi-squared p = {_p(srm['p_value'])} "
            f"(mismatch when p &lt; 0.001). Users: "
            + ", ".join(f"{_e(k)} {v:,} (expected {exp.get(k, float('nan')):,.0f})" for k, v in srm["counts"].items())
            + ".</p>" + _frame_table(data.samples, fmt, {"srm_p": "SRM p", "srm_ok": "SRM"})
            + "<p class='small muted'>Per-segment rows repeat the check within each segment (segment fixed at "
              "assignment): a mismatch confined to one segment points at logging or eligibility there.</p></section>")


def section_offline(data: ReportData) -> str:
    if data.offline is None:
        return (f"<section id='offline'><h2>Offline metrics</h2><p class='muted'>Not computed: "
                f"{_e(data.offline_note)}.</p></section>")
    df = data.offline[["arm", "ndcg", "precision", "recall", "map", "coverage", "ild", "novelty", "longtail"]]
    f3 = lambda x: _num(x, 3)  # noqa: E731
    return ("<section id='offline'><h2>Offline metrics of the arms' models</h2>"
            + _frame_table(df, {c: f3 for c in df.columns if c != "arm"},
                           {"ndcg": "NDCG@10", "precision": "precision@10", "recall": "recall@10", "map": "MAP@10",
                            "coverage": "coverage", "ild": "ILD", "novelty": "novelty (bits)",
                            "longtail": "long-tail share"})
            + f"<p class='small muted'>{_e(data.offline_note)}. Each arm's scorer and re-rankers as configured. "
              "NDCG: ranking quality against the held-out plays; coverage: share of the catalog recommended to "
              "anyone; ILD: mean genre distance within a list; novelty: mean self-information of recommended "
              "titles. Offline accuracy on logs collected under a popularity policy favours popular titles; "
              "the A/B above is the arbiter.</p></section>")


def section_exposure(data: ReportData) -> str:
    chart = charts.exposure_chart(data.genre_share, data.exposure, data.arms)
    f = _figure("exposure", chart, "catalog exposure per arm",
                "Left: how each arm's plays spread over genres. Right: long-tail share (plays of titles outside the "
                "20% most played in the warm-up) and coverage (share of the catalog played at least once).")
    tab = _frame_table(data.exposure, {"users": "{:,}".format, "plays": "{:,}".format, "coverage": _share,
                                       "long_tail_share": _share, "homogenization": lambda x: _num(x, 3)},
                       {"long_tail_share": "long-tail share", "homogenization": "homogenisation"})
    return ("<section id='exposure'><h2>Catalog exposure: who gets seen</h2>" + tab + f
            + "<p class='small muted'>Fairness of exposure: a recommender that concentrates plays on few titles "
              "(lower coverage and long-tail share) narrows what the catalog earns and what users discover, even "
              "when clicks rise. Homogenisation: the mean Jaccard similarity of two users' sets of watched titles "
              "(on a sample of users); higher means the arm makes its users watch more alike.</p></section>")


def section_preview(previews: Mapping[str, str] | None) -> str:
    if not previews:
        return ""
    cards = "".join(f"<div class='preview'><h3>{_e(seg)}</h3>{frag}</div>" for seg, frag in previews.items())
    return (f"<section id='preview'><h2>What users see</h2><p class='small muted'>One user's homepage per "
            f"segment, as the arms build it.</p><div class='previews'>{cards}</div></section>")


def section_methods(a: dict, job) -> str:
    cfg = job.result.config
    rows = [r for r in a["results"] if r["segment"] == "all"]
    n_all = sum(r["segment"] == "all" for r in a["results"])
    n_seg = len(a["results"]) - n_all
    vr = [r for r in rows if r.get("variance_reduction") is not None]
    vr_tab = "".join(f"<tr><td>{_e(r['metric'])}</td><td class='l'>{_e(r.get('covariate', ''))}</td>"
                     f"<td class='num'>{_share(r['variance_reduction'])}</td></tr>" for r in vr)
    boot = a.get("bootstrap") or {}
    boot_txt = "; ".join(f"{_e(m)}: {b['replicates']:,} replicates, seed {b['seed']}, up to {b['max_units']:,} "
                         "resampling units (users hashed into buckets beyond that)" for m, b in boot.items())
    seq = a.get("sequential") or []
    tau = sorted({(s["metric"], s["tau2"]) for s in seq})
    correction = {"holm": "Holm's step-down procedure (controls the chance of any false claim, the family-wise "
                          "error rate)",
                  "bh": "Benjamini-Hochberg (controls the expected share of false claims, the false discovery rate)",
                  "none": "no correction"}.get(a["correction"], a["correction"])
    return f"""<section id='methods'><h2>Methods</h2><dl class='methods'>
<dt>Unit of analysis</dt><dd>The user. Each user is randomised to one arm for the whole experiment (by a hash of the
user id and the seed), and every metric is computed from per-user totals ({a.get('n_users', 0):,} users). Testing at the
impression level would treat a heavy user's many impressions as independent and understate the variance.</dd>
<dt>Means (watch minutes, sessions, time to first play)</dt><dd>Welch's t-test on per-user values: no equal-variance
assumption, Welch-Satterthwaite degrees of freedom.</dd>
<dt>Ratio metrics (CTR, play rate, completion rate, regret ratio)</dt><dd>A ratio of sums per arm (e.g. all clicks /
all impressions). Its variance comes from the delta method on the per-user covariance of numerator and denominator,
so users, not impressions, are the independent units; normal interval and p-value.</dd>
<dt>Churn rate</dt><dd>Two-proportion z-test: pooled standard error for the p-value, unpooled for the interval.</dd>
<dt>Relative lift</dt><dd>(treatment − control) / control, with its interval by the delta method, including the
covariance of the difference with the control estimate.</dd>
<dt>CUPED</dt><dd>Where a pre-period covariate exists ({cfg.warmup_days} warm-up days before assignment), the
difference is adjusted: (Y<sub>t</sub> − Y<sub>c</sub>) − θ (X<sub>t</sub> − X<sub>c</sub>), with θ pooled over
both arms. Randomisation makes X<sub>t</sub> − X<sub>c</sub> zero on average, so this removes noise without bias. The
control and treatment columns stay raw; difference, lift and p-value are adjusted. Variance reduction achieved:
<table style='width:auto'><tr><th>metric</th><th class='l'>covariate</th><th>variance removed</th></tr>
{vr_tab}</table></dd>
<dt>Composite: engagement efficiency</dt><dd>play rate × completion rate / time to first play has no closed-form
variance, so it is bootstrapped: a seeded Poisson bootstrap over users (each user gets a Poisson(1) weight per
replicate), normal interval from the bootstrap variance. {boot_txt}.</dd>
<dt>Multiple comparisons</dt><dd>Two families, each corrected with {correction}: the {n_all} whole-population
comparisons (metric × arm), on which the verdict rests, and the {n_seg} segment comparisons (metric × segment × arm) of
the breakdown. A result is significant when its adjusted p ≤ {a['alpha']:g}. Correcting the segments apart means that
looking at them never weakens the headline tests.</dd>
<dt>Sample-ratio mismatch</dt><dd>Pearson's chi-squared test of the arms' user counts against the configured split.
It fires at p &lt; 0.001; then the verdict is "investigate" whatever the metrics say, since users were lost or
duplicated unevenly.</dd>
<dt>Heterogeneity</dt><dd>Cochran's Q on the per-segment relative lifts (inverse-variance weighted; segments are
disjoint, hence independent) with I², the share of between-segment spread beyond chance. Without a small p, one
segment's apparent win is more likely the best of several noisy cuts.</dd>
<dt>Always-valid sequential test</dt><dd>Each day the per-user table is rebuilt from the logs up to that day (the
same aggregation as the final table) and the primary and guardrail metrics are tested, each treatment arm against the
control, with a normal-mixture sequential probability ratio test (mSPRT) on the Welch, delta-method or proportion
estimate and variance (no CUPED). The always-valid p-value is min(1, 1 / the largest mixture likelihood ratio so far):
checking it every day and stopping at the first p ≤ {a['alpha']:g} keeps the false-positive rate at
{a['alpha']:g}. Each day's interval is the set of effects that day's test does not reject; it is wider than the
fixed-horizon interval (the width ratio above), the price of looking daily. Intersecting the intervals over days is
valid only for an effect that stays constant; where the intersection is empty the table says the effect drifted (a
policy that keeps learning, or novelty wearing off). The mixing variance τ² is tuned to the final day's variance
({'; '.join(f'{_e(m)} {t:.3g}' for m, t in tau)}).</dd>
<dt>Decision</dt><dd>Ship only when the primary metric is significantly better after correction and no guardrail is
breached; no-ship when the primary is significantly worse or a guardrail is breached (the worst end of its relative
interval crosses the tolerance); investigate otherwise.</dd>
<dt>Offline metrics and exposure</dt><dd>Offline: each arm's scorer refitted on a temporal split of a sample of
warm-up plays. Exposure: from the experiment's plays; the head is the 20% of titles most played in the warm-up.</dd>
</dl>
<details><summary>Experiment configuration</summary><pre>{_e(cfg.to_toml())}</pre></details></section>"""


def render_demo_report(job, previews: Mapping[str, str] | None = None, *, offline: pd.DataFrame | None = None,
                       data: ReportData | None = None) -> str:
    """The report as one HTML string. ``previews``: {segment: HTML fragment of a user's homepage}
    for the "What users see" section (omitted when None); ``offline``: precomputed offline
    metrics (one row per arm), else computed on a sample of the warm-up logs."""
    a = job.analysis
    cfg = job.result.config
    data = data or report_data(job, offline)
    nav = "".join(f"<a href='#{k}'>{_e(t)}</a>" for k, t in SECTIONS if k != "preview" or previews)
    parts = [section_verdict(a, job), section_tradeoffs(a), section_lifts(a), section_daily(data),
             section_sequential(a), section_samples(a, data), section_offline(data), section_exposure(data),
             section_preview(previews), section_methods(a, job)]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{_e(cfg.name)}: A/B report</title><style>{CSS}</style></head><body><main>"
            f"<h1>{_e(cfg.name)}</h1><p class='sub'>{cfg.users:,} users · {cfg.days} days · "
            f"{' vs '.join(_e(x.name) for x in cfg.arms)} · seed {cfg.seed}</p><nav>{nav}</nav>"
            + "".join(parts) + "</main></body></html>")
