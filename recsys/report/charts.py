"""The demo report's charts as base64 PNG data URIs (matplotlib, Agg), so the page is self-contained.

Each function takes tidy rows or frames and returns one data URI; colours are shared across
charts (one per arm, one per effect direction) so a reader learns them once.
"""

from __future__ import annotations

import base64
import io
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ARM_COLORS = ("#6e7781", "#0969da", "#bf3989", "#1a7f37", "#9a6700")
EFFECT_COLORS = {"better": "#1a7f37", "worse": "#cf222e", "no clear change": "#6e7781"}
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.25, "legend.frameon": False, "figure.dpi": 100}


def to_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def arm_colors(arms: Sequence[str]) -> dict[str, str]:
    """A colour per arm, the control (first) grey."""
    return {a: ARM_COLORS[i % len(ARM_COLORS)] for i, a in enumerate(arms)}


def effect(row: Mapping) -> str:
    """better / worse / no clear change: significant after its family's correction, in the
    metric's good direction (:func:`recsys.decision.effect`, restated for rows read from JSON)."""
    if not row.get("significant"):
        return "no clear change"
    return "better" if (row["diff"] > 0) != bool(row.get("lower_is_better")) else "worse"


def _pct(x) -> np.ndarray:
    return 100 * np.asarray([np.nan if v is None else v for v in x], dtype=np.float64)


def _forest(ax, rows: list[dict], labels: list[str], margins: Mapping[str, float] | None = None) -> None:
    y = np.arange(len(rows))
    lift, lo, hi = (_pct([r[k] for r in rows]) for k in ("rel_lift", "rel_ci_low", "rel_ci_high"))
    colors = [EFFECT_COLORS[effect(r)] for r in rows]
    for i in range(len(rows)):
        if np.isfinite(lift[i]):
            ax.plot([lo[i], hi[i]], [y[i], y[i]], color=colors[i], lw=2, solid_capstyle="butt")
            ax.plot(lift[i], y[i], "o", color=colors[i], ms=5)
        margin = (margins or {}).get(rows[i]["metric"])
        if margin is not None:
            ax.plot([100 * margin] * 2, [y[i] - 0.35, y[i] + 0.35], color="#cf222e", lw=1.5, ls=":")
    ax.axvline(0, color="#24292f", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="y", alpha=0)


def _effect_legend(ax, margin: bool) -> None:
    handles = [plt.Line2D([], [], color=c, marker="o", lw=2, label=k) for k, c in EFFECT_COLORS.items()]
    if margin:
        handles.append(plt.Line2D([], [], color="#cf222e", ls=":", lw=1.5, label="guardrail margin"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(handles), fontsize=8)


def forest_metrics(rows: list[dict], margins: Mapping[str, float], title: str, level: str = "95%") -> str:
    """Relative lift and its interval per metric (all users), coloured by effect, with each
    guardrail's relative non-inferiority margin marked."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.38 * len(rows) + 1.3))
        multi = len({r["arm"] for r in rows}) > 1
        _forest(ax, rows, [f"{r['metric']} ({r['arm']})" if multi else r["metric"] for r in rows], margins)
        ax.set_xlabel(f"relative lift vs control (%), with its {level} interval (Fieller)")
        ax.set_title(title, loc="left")
        _effect_legend(ax, bool(margins))
        return to_data_uri(fig)


def forest_segments(rows: list[dict], metrics: Sequence[str], segments: Sequence[str], title: str) -> str:
    """Small multiples: for each metric, the relative lift in every segment (all users first)."""
    metrics = [m for m in metrics if any(r["metric"] == m for r in rows)]
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    ncol = min(3, max(1, len(metrics)))
    nrow = int(np.ceil(len(metrics) / ncol))
    n_rows = len(segments) * len(arms)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, (0.3 * n_rows + 1.0) * nrow), squeeze=False,
                                 sharey=True)
        for ax, m in zip(axes.ravel(), metrics):
            sel = [r for s in segments for a in arms for r in rows if r["metric"] == m and r["segment"] == s
                   and r["arm"] == a]
            _forest(ax, sel, [f"{r['segment']}" + (f" ({r['arm']})" if len(arms) > 1 else "") for r in sel])
            ax.set_title(m, loc="left")
            ax.tick_params(axis="x", labelsize=8)
        for ax in axes.ravel()[len(metrics):]:
            ax.set_visible(False)
        fig.supxlabel("relative lift vs control (%), 95% interval", fontsize=9)
        fig.suptitle(title, x=0.01, ha="left", fontsize=10)
        fig.tight_layout()
        return to_data_uri(fig)


def daily_panels(daily: pd.DataFrame, survival: pd.DataFrame, arms: Sequence[str], note: str = "") -> str:
    """Three panels over experiment days, one line per arm: CTR, watch minutes per active user, retention."""
    colors = arm_colors(arms)
    panels = [(daily, "ctr", "CTR (clicks / impressions)", 1.0),
              (daily, "watch_min_per_active_user", "watch minutes per active user", 1.0),
              (survival, "survival", "retention: users not yet churned (%)", 100.0)]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
        for ax, (df, col, label, scale) in zip(axes, panels):
            for a in arms:
                d = df[df["arm"] == a]
                ax.plot(d["day"], scale * d[col], marker="o", ms=3, color=colors[a], label=a)
            ax.set_title(label, loc="left")
            ax.set_xlabel("experiment day")
            ax.xaxis.get_major_locator().set_params(integer=True)
        axes[0].legend(fontsize=8)
        if note:
            fig.text(0.01, -0.04, note, fontsize=8, color="#57606a")
        fig.tight_layout()
        return to_data_uri(fig)


def sequential_chart(records: pd.DataFrame, final: Mapping[tuple[str, str], Mapping], alpha: float) -> str:
    """Per (arm, metric): each day's always-valid interval (band), the naive daily fixed-horizon
    interval (grey bars), the days a status was reached (rings) and, past the last day, the
    final analysis interval."""
    keys = list(dict.fromkeys(zip(records["arm"], records["metric"])))
    multi = len({a for a, _ in keys}) > 1
    ncol = min(3, len(keys))
    nrow = int(np.ceil(len(keys) / ncol))
    level = f"{100 * (1 - alpha):g}%"
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.8 * ncol, 3.0 * nrow), squeeze=False)
        for ax, (arm, metric) in zip(axes.ravel(), keys):
            d = records[(records["arm"] == arm) & (records["metric"] == metric)]
            x = d["day"].to_numpy()
            ax.fill_between(x, d["ci_low"], d["ci_high"], color="#0969da", alpha=0.18, lw=0,
                            label="always-valid interval of the day")
            ax.vlines(x + 0.12, d["fixed_ci_low"], d["fixed_ci_high"], color="#8c959f", lw=2,
                      label=f"fixed-horizon {level} (peeking)")
            ax.plot(x, d["estimate"], "o-", color="#0969da", ms=3, label="estimate")
            status = d["status"].to_numpy()
            for word, color in (("better", "#1a7f37"), ("non-inferior", "#1a7f37"), ("harmed", "#cf222e"),
                                ("worse", "#cf222e")):
                hit = status == word
                if hit.any():
                    ax.plot(x[hit], d["estimate"].to_numpy()[hit], "o", ms=7, mfc="none", mec=color, label=word)
            f = final.get((arm, metric))
            if f is not None and f.get("ci_low") is not None:
                xe = x[-1] + 0.8
                ax.errorbar(xe, f["diff"], yerr=[[f["diff"] - f["ci_low"]], [f["ci_high"] - f["diff"]]], fmt="s",
                            color="#24292f", ms=4, capsize=3, label=f"final analysis ({f['method']})")
            ax.axhline(0, color="#24292f", lw=0.8)
            ax.set_title(f"{metric} ({arm})" if multi else metric, loc="left")
            ax.set_xlabel("experiment day (data up to and including)")
            ax.xaxis.get_major_locator().set_params(integer=True)
        for ax in axes.ravel()[len(keys):]:
            ax.set_visible(False)
        seen: dict = {}
        for ax in axes.ravel()[:len(keys)]:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lab, h)
        fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(len(seen), 4), fontsize=8,
                   bbox_to_anchor=(0.5, -0.08))
        fig.supylabel("difference, treatment - control", fontsize=9)
        fig.tight_layout()
        return to_data_uri(fig)


def exposure_chart(genre_share: pd.DataFrame, exposure: pd.DataFrame, arms: Sequence[str]) -> str:
    """Genre share of plays per arm (grouped bars) beside long-tail share and catalog coverage."""
    colors = arm_colors(arms)
    wide = genre_share.pivot(index="genre", columns="arm", values="share").reindex(columns=list(arms))
    wide = wide.loc[wide.mean(axis=1).sort_values(ascending=True).index]
    n = len(wide)
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, max(3.2, 0.24 * n + 1.2)),
                                     gridspec_kw={"width_ratios": [2.2, 1]})
        h = 0.8 / len(arms)
        y = np.arange(n)
        for i, a in enumerate(arms):
            ax.barh(y + (i - (len(arms) - 1) / 2) * h, 100 * wide[a].to_numpy(), height=h, color=colors[a], label=a)
        ax.set_yticks(y)
        ax.set_yticklabels(wide.index)
        ax.set_xlabel("share of the arm's plays (%)")
        ax.set_title("genre share of plays", loc="left")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="y", alpha=0)
        e = exposure.set_index("arm").reindex(list(arms))
        measures = [("long_tail_share", "long-tail share\nof plays"), ("coverage", "catalog coverage\nof plays")]
        xb = np.arange(len(measures))
        w = 0.8 / len(arms)
        for i, a in enumerate(arms):
            vals = [100 * e.loc[a, m] for m, _ in measures]
            bars = bx.bar(xb + (i - (len(arms) - 1) / 2) * w, vals, width=w, color=colors[a], label=a)
            bx.bar_label(bars, fmt="%.1f", fontsize=7)
        bx.set_xticks(xb)
        bx.set_xticklabels([lab for _, lab in measures])
        bx.set_ylabel("%")
        bx.set_title("reach into the catalog", loc="left")
        bx.grid(axis="x", alpha=0)
        fig.tight_layout()
        return to_data_uri(fig)


def survival_chart(curves: Sequence[Mapping], arms: Sequence[str], level: str = "95%") -> str:
    """Kaplan-Meier curves per arm (steps, with pointwise interval bands): all users, then one
    small panel per segment. ``curves``: the analysis JSON's ``survival.curves`` records."""
    df = pd.DataFrame(list(curves))
    colors = arm_colors(arms)
    segs = list(dict.fromkeys(df["segment"]))
    ncol = min(3, len(segs))
    nrow = int(np.ceil(len(segs) / ncol))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.8 * ncol, 2.9 * nrow), squeeze=False)
        for ax, seg in zip(axes.ravel(), segs):
            for a in arms:
                d = df[(df["segment"] == seg) & (df["arm"] == a)]
                if d.empty:
                    continue
                ax.fill_between(d["day"], 100 * d["ci_low"], 100 * d["ci_high"], step="post", color=colors[a],
                                alpha=0.18, lw=0)
                ax.step(d["day"], 100 * d["survival"], where="post", color=colors[a], label=a, lw=1.6)
            ax.set_title("all users" if seg == "all" else seg, loc="left")
            ax.set_xlabel("days since assignment")
            ax.xaxis.get_major_locator().set_params(integer=True)
        for ax in axes.ravel()[len(segs):]:
            ax.set_visible(False)
        axes[0, 0].set_ylabel(f"still subscribed (%), {level} band")
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        return to_data_uri(fig)


def decay_chart(by_day: Sequence[Mapping], tests: Sequence[Mapping], level: str = "95%") -> str:
    """Per (metric, arm): the relative lift on each day since first exposure with its interval,
    the early and late windows shaded, and each window's lift on the fixed cohort as a line
    with its interval (the late one is the steady-state estimate)."""
    df = pd.DataFrame(list(by_day))
    keys = [(t["metric"], t["arm"]) for t in tests]
    multi = len({a for _, a in keys}) > 1
    ncol = min(3, len(keys))
    nrow = int(np.ceil(len(keys) / ncol))
    status_color = {"decaying": "#cf222e", "growing": "#1a7f37", "stable": "#6e7781"}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.9 * ncol, 3.0 * nrow), squeeze=False)
        for ax, t in zip(axes.ravel(), tests):
            d = df[(df["metric"] == t["metric"]) & (df["arm"] == t["arm"])]
            x = d["day"].to_numpy()
            y, lo, hi = (100 * d[c].to_numpy(np.float64) for c in ("rel_lift", "rel_ci_low", "rel_ci_high"))
            ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o", ms=3, color="#0969da", ecolor="#8c959f", capsize=2,
                        label="lift on day k")
            for name, span, shade in (("early", t["early_days"], "#ddf4ff"), ("late", t["late_days"], "#fff8c5")):
                w = t[name]
                ax.axvspan(span[0] - 0.5, span[1] + 0.5, color=shade, zorder=0)
                ax.hlines(100 * w["rel_lift"], span[0] - 0.5, span[1] + 0.5, color=status_color[t["status"]], lw=2)
                ax.fill_between([span[0] - 0.5, span[1] + 0.5], 100 * w["rel_ci_low"], 100 * w["rel_ci_high"],
                                color=status_color[t["status"]], alpha=0.15, lw=0)
            ax.axhline(0, color="#24292f", lw=0.8)
            ax.set_title(f"{t['metric']}" + (f" ({t['arm']})" if multi else "") + f": {t['status']}", loc="left",
                         color=status_color[t["status"]])
            ax.set_xlabel("day since the user's first exposure")
            ax.xaxis.get_major_locator().set_params(integer=True)
        for ax in axes.ravel()[len(keys):]:
            ax.set_visible(False)
        axes[0, 0].set_ylabel(f"relative lift (%), {level} interval")
        fig.tight_layout()
        return to_data_uri(fig)
