"""The two-artwork test as a bar chart (PNG) and a self-contained HTML page embedding it.

The chart is drawn with matplotlib's object-oriented API on an Agg canvas (no pyplot, no global
state, no display needed); the page inlines the PNG as base64, so it opens without a network
or the PNG beside it.
"""

from __future__ import annotations

import base64
import math
import html
import io
from dataclasses import fields

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recsys.core.format import points, pvalue
from recsys.stats.proportions import ArtworkTestResult

_COLOURS = {"A": "#7a8ba6", "B": "#e07a3f"}


def bar_chart_figure(result: ArtworkTestResult, dpi: int = 110, truth: tuple[float, float] | None = None) -> Figure:
    """CTR per artwork with its (1 - alpha) Wilson interval as error bars; ``truth`` (the true
    CTRs of A and B, known to a simulator) is marked on each bar, its legend above the plot, clear
    of the bars."""
    fig = Figure(figsize=(5.2, 3.8), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    arms = ("A", "B")
    ctr = (result.ctr_a, result.ctr_b)
    ci = [result.arm_ci(a) for a in arms]
    err = [[c - lo for c, (lo, _) in zip(ctr, ci)], [hi - c for c, (_, hi) in zip(ctr, ci)]]
    bars = ax.bar(arms, [c * 100 for c in ctr], color=[_COLOURS[a] for a in arms], width=0.55,
                  yerr=[[e * 100 for e in err[0]], [e * 100 for e in err[1]]], capsize=8,
                  error_kw={"elinewidth": 1.4, "ecolor": "#333333"})
    for bar, (_, hi), n, k in zip(bars, ci, (result.users_a, result.users_b), (result.clicks_a, result.clicks_b)):
        ax.annotate(f"{k / n:.1%}  ({k:,}/{n:,})", (bar.get_x() + bar.get_width() / 2, hi * 100), xytext=(0, 5),
                    textcoords="offset points", ha="center", va="bottom", color="#222222", fontsize=9)
    ax.set_ylabel(f"click-through rate (%), {1 - result.alpha:.0%} interval")
    ax.set_xlabel("artwork")
    top = max(hi for _, hi in ci) * 100
    if truth is not None:
        ax.scatter(arms, [t * 100 for t in truth], marker="D", s=42, color="#111111", zorder=3,
                   label="true CTR (known to the simulator)")
        top = max(top, max(truth) * 100)
    ax.set_ylim(0, max(1.0, min(top * 1.2, 112.0)))
    verdict = f"B - A = {result.diff * 100:+.1f} pts, p = {result.p_value:.3g}"
    ax.set_title(f"Two-artwork test: {verdict}", fontsize=10, pad=22 if truth is not None else 6)
    if truth is not None:
        # between the title and the plot: never on a bar, an interval or a label
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False, borderaxespad=0.2)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def bar_chart_png(result: ArtworkTestResult, dpi: int = 110, truth: tuple[float, float] | None = None) -> bytes:
    """:func:`bar_chart_figure` as PNG bytes."""
    buf = io.BytesIO()
    bar_chart_figure(result, dpi, truth).savefig(buf, format="png")
    return buf.getvalue()


def html_page(result: ArtworkTestResult, png: bytes, title: str = "Artwork test",
              details: dict | None = None, artworks: dict[str, tuple[str, str]] | None = None) -> str:
    """A standalone page: the recommendation, the two artworks compared (``artworks``: arm ->
    (description, inline SVG poster), when there are real artworks), the chart and the numbers."""
    e = html.escape
    level = f"{1 - result.alpha:.0%}"
    rows = "".join(
        f"<tr><th>{arm}</th><td>{n:,}</td><td>{k:,}</td><td>{k / n:.2%}</td>"
        f"<td>{lo:.2%} to {hi:.2%}</td></tr>"
        for arm, n, k, (lo, hi) in (("A", result.users_a, result.clicks_a, result.arm_ci("A")),
                                    ("B", result.users_b, result.clicks_b, result.arm_ci("B"))))
    facts = [
        ("difference (B - A)", f"{result.diff * 100:+.2f} percentage points"),
        (f"{level} interval", f"{result.ci_low * 100:+.2f} to {result.ci_high * 100:+.2f} points"),
        ("two-proportion z-test", f"z = {result.z:.3f}, p = {result.p_value:.5f}"),
        ("chi-squared test (agrees)", f"chi2 = {result.chi2:.3f}, p = {result.chi2_p_value:.5f}"),
        ("significant at alpha", f"{'yes' if result.significant else 'no'} (alpha = {result.alpha:g})"),
    ]
    if result.users_needed_per_arm is not None and result.planning is not None:
        pa, pb = result.planning
        needed = result.users_needed_per_arm
        facts.append((f"users per artwork for {result.power:.0%} power",
                      (f"{int(-(-needed // 1)):,}" if needed != float("inf") else "none would do (no difference)")
                      + f", for {result.planning_basis}: A {pa:.2%}, B {pb:.2%} ({(pb - pa) * 100:+.2f} points); "
                      "not the observed difference"))
    for k, v in (details or {}).items():
        facts.append((str(k), str(v)))
    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    colour = "#1d7a3a" if result.significant else "#8a6d00"
    shown = ""
    if artworks:
        figs = "".join(f'<figure class="art">{svg}<figcaption><b>{e(arm)}</b>: '
                       f"{e(desc)}</figcaption></figure>" for arm, (desc, svg) in artworks.items())
        shown = f'<h2>The two artworks</h2><div class="arts">{figs}</div>'
    drawn = " The artworks are drawn from their public themes." if artworks else ""
    img = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 760px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }}
.verdict {{ border-left: 6px solid {colour}; background: #f6f6f2; padding: 0.8em 1em; font-size: 1.05em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }}
img {{ max-width: 100%; }}
.arts {{ display: flex; gap: 1.2em; flex-wrap: wrap; }}
.art {{ margin: 0; }} .art svg {{ display: block; border-radius: 4px; }}
.art figcaption {{ font-size: 0.9em; margin-top: 0.3em; }}
.note {{ color: #666; font-size: 0.9em; }}
</style></head>
<body>
<h1>{e(title)}</h1>
<p class="verdict">{e(recommendation(result))}</p>
{shown}
<img alt="Click-through rate of artwork A and B with {e(level)} intervals" src="data:image/png;base64,{img}">
<h2>Per artwork</h2>
<table><tr><th>artwork</th><th>users</th><th>clicks</th><th>CTR</th><th>{e(level)} interval</th></tr>{rows}</table>
<h2>Test</h2>
<table>{fact_rows}</table>
<p class="note">Users were assigned to A or B at random and each saw the title once; the user is the
unit of analysis. The p-value uses the pooled standard error (as statsmodels' proportions_ztest),
the interval of the difference the unpooled one. The users-needed figure (given when the test is not
significant) uses Cohen's arcsine effect size at the stated power for a planning effect: the true
CTRs where the simulator knows them, else the click probabilities given; never the observed
difference, from which a power figure is post hoc.{drawn}</p>
</body></html>
"""


def _about(n: float) -> int:
    """Round up to two significant figures: 'about 3,500' rather than 'about 3,412'."""
    if n <= 0:
        return 0
    step = 10 ** max(0, int(math.floor(math.log10(n))) - 1)
    return int(math.ceil(n / step) * step)


def recommendation(res: ArtworkTestResult) -> str:
    """A paragraph for a product analyst: which artwork, and how sure; or how many more users."""
    return _recommend(**{f.name: getattr(res, f.name) for f in fields(res)})


def _recommend(*, ctr_a, ctr_b, diff, ci_low, ci_high, p_value, alpha, power, significant, winner,
               users_needed_per_arm, more_users_needed, users_a, users_b, planning=None, planning_basis=None,
               **_) -> str:
    level = f"{1 - alpha:.0%}"
    if significant:
        sure = "very sure" if p_value < alpha / 50 else ("quite sure" if p_value < alpha / 5 else "reasonably sure")
        if winner == "B":
            rel = f" ({diff / ctr_a:+.0%} relative)" if ctr_a > 0 else ""
            return (f"Use artwork B. {ctr_b:.1%} of users shown B clicked, against {ctr_a:.1%} for A: "
                    f"{points(diff)} percentage points more{rel}. We are {sure} this is not chance "
                    f"(p = {pvalue(p_value)}): with {level} confidence B's true click-through rate is between "
                    f"{points(ci_low)} and {points(ci_high)} points higher.")
        return (f"Keep artwork A. {ctr_a:.1%} of users shown A clicked, against {ctr_b:.1%} for B: "
                f"B is {points(-diff)} percentage points worse. We are {sure} this is not chance "
                f"(p = {pvalue(p_value)}): with {level} confidence B's true click-through rate is between "
                f"{points(-ci_high)} and {points(-ci_low)} points lower.")
    head = (f"Not significant: A {ctr_a:.1%} vs B {ctr_b:.1%} (difference {diff * 100:+.1f} points, "
            f"{level} interval {ci_low * 100:+.1f} to {ci_high * 100:+.1f}, p = {pvalue(p_value)}); with this many users a "
            f"difference like this could well be chance, so neither artwork has shown it is better.")
    if planning is None:
        return (head + " No planning effect was given, so the users needed are not computed (a figure from "
                "the observed difference would be post hoc). Until then keep artwork A.")
    plan = f"{planning_basis}, A {planning[0]:.1%} and B {planning[1]:.1%}"
    if users_needed_per_arm is None or not math.isfinite(users_needed_per_arm):
        return (head + f" For {plan}, the two artworks are equally good, so no number of users would separate "
                "them; keep artwork A or try a bolder variant.")
    per_arm = _about(users_needed_per_arm)
    if not more_users_needed:
        return (head + f" For {plan}, a difference of {(planning[1] - planning[0]) * 100:+.1f} points, about "
                f"{per_arm:,} users per artwork would detect it with {power:.0%} power, and this test had that "
                f"many: at {power:.0%} power one test in {round(1 / (1 - power))} misses a real difference of that "
                "size, or the difference is smaller than planned. Keep artwork A.")
    more = max(_about(more_users_needed), 100)
    return (head + f" For {plan}, a difference of {(planning[1] - planning[0]) * 100:+.1f} points, about "
            f"{per_arm:,} users per artwork ({2 * per_arm:,} in all) would detect it with {power:.0%} power: "
            f"about {more:,} more users are needed. Until then keep artwork A.")
