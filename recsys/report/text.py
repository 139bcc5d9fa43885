"""Plain-text rendering of an analysis (the dict of contracts section 3) for the terminal.

Formatting only: every figure shown was computed by recsys.stats and recsys.decision.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def _f(x, fmt: str = "{:.4g}") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return fmt.format(x)


def _pct(x) -> str:
    return _f(x, "{:+.1%}")


def _p(x) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.3f}" if x >= 0.001 else f"{x:.1e}"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def render_analysis(result: Mapping, *, segments: bool = True) -> str:
    """The readable table: one line per (metric, segment, arm), then heterogeneity and the decision."""
    alpha = result["alpha"]
    level = f"{100 * (1 - alpha):g}%"
    out = [f"A/B analysis: control {result['control']}, alpha {alpha:g}, correction {result['correction']}"
           + (f", {result['n_users']:,} users" if "n_users" in result else "")]
    srm = result.get("srm") or {}
    counts = ", ".join(f"{a} {n:,}" for a, n in srm.get("counts", {}).items())
    state = "ok" if srm.get("ok", True) else "MISMATCH"
    out.append(f"Sample ratio: {state} (chi-squared p = {_p(srm.get('p_value'))}; {counts})")
    out.append("")
    header = ["metric", "segment", "arm", "control", "treatment", "diff", f"rel lift [{level} CI]", "p", "p adj",
              "sig", "method"]
    rows = []
    for r in result["results"]:
        if not segments and r["segment"] != "all":
            continue
        rel = f"{_pct(r['rel_lift'])} [{_pct(r['rel_ci_low'])}, {_pct(r['rel_ci_high'])}]"
        rows.append([r["metric"], r["segment"], r["arm"], _f(r["control"]), _f(r["treatment"]),
                     _f(r["diff"], "{:+.4g}"), rel, _p(r["p_value"]), _p(r["p_adjusted"]),
                     "*" if r["significant"] else "", r["method"]])
    out.extend(_table(header, rows, right={3, 4, 5, 7, 8}))
    notes = []
    if any(r["method"].endswith("+cuped") for r in result["results"]):
        notes.append("+cuped: diff and lift adjusted for pre-period covariates; control and treatment are raw values")
    if any(r["method"] == "bootstrap" for r in result["results"]):
        notes.append("bootstrap: users resampled with Poisson weights; normal interval from the bootstrap variance")
    notes.append(f"p adj: {result['correction']} within two families (the 'all' rows; the segment rows); "
                 f"sig = p adj <= {alpha:g}")
    out.extend(f"  {n}" for n in notes)
    het = result.get("heterogeneity") or []
    if het:
        out.append("")
        out.append("Does the effect differ across segments? (Cochran's Q on the relative lift)")
        hrows = [[h["metric"], h["arm"], _f(h["q"], "{:.2f}"), str(h["df"]), _p(h["p_value"]), _f(h["i2"], "{:.0%}"),
                  "yes" if h.get("differs") else "no"] for h in het]
        out.extend(_table(["metric", "arm", "Q", "df", "p", "I^2", "differs"], hrows, right={2, 3, 4, 5}))
    dec = result.get("decision")
    if dec:
        out.append("")
        arm = f" {dec['arm']}" if dec.get("arm") else ""
        out.append(f"Decision: {dec['verdict'].upper()}{arm}")
        out.extend(f"  - {reason}" for reason in dec.get("reasons", []))
    return "\n".join(out)


def render_power(result: Mapping) -> str:
    """One paragraph for `recsys power`."""
    rel = result.get("mde_relative")
    rel_s = f" ({rel:+.2%} of the baseline)" if rel is not None and np.isfinite(rel) else ""
    sd = f", sd {result['sd']:g}" if result.get("sd") is not None else ""
    lines = [f"{result['metric']} ({result['kind']}, baseline {result['baseline']:g}{sd}); "
             f"alpha {result['alpha']:g}, power {result['power']:.0%}, {result['method']}",
             f"  detectable change: {result['mde']:+.6g}{rel_s}",
             f"  users per arm:     {result['users_per_arm']:,} (total {result['total_users']:,} for 2 arms)"]
    return "\n".join(lines)


def _decimals(se) -> int:
    """Decimals that show an estimate to about a tenth of its standard error."""
    se = np.asarray([x for x in se if x is not None], dtype=np.float64)
    se = se[np.isfinite(se) & (se > 0)]
    return int(np.clip(1 - np.floor(np.log10(se.min())), 0, 8)) if se.size else 4


def _first_rejections(seq: list[Mapping]) -> list[str]:
    out = []
    for key in dict.fromkeys((r["arm"], r["metric"]) for r in seq):
        rows = [r for r in seq if (r["arm"], r["metric"]) == key]
        first = next((r["day"] for r in rows if r["reject"]), None)
        out.append(f"{key[1]} ({key[0]}): " + (f"from day {first}" if first is not None else "never"))
    return out


def render_sequential(seq: list[Mapping], alpha: float, *, daily: bool = True) -> str:
    """Always-valid monitoring (analysis["sequential"]): one line per (day, arm) with the primary's
    estimate, interval and p, and each other metric's estimate and p; ``*`` marks p <= alpha.
    With ``daily=False`` only the summary line (the first day each test rejected)."""
    if not seq:
        return "Sequential monitoring: none"
    level = f"{100 * (1 - alpha):g}%"
    summary = f"Always-valid test (p <= {alpha:g}, may be read daily): " + "; ".join(_first_rejections(seq))
    if not daily:
        return summary
    metrics = list(dict.fromkeys(r["metric"] for r in seq))
    first, rest = metrics[0], metrics[1:]
    by = {(r["day"], r["arm"], r["metric"]): r for r in seq}
    fmt = {m: "{:+.%df}" % _decimals([r["se"] for r in seq if r["metric"] == m]) for m in metrics}
    star = lambda r: " *" if r["reject"] else ""  # noqa: E731
    rows = []
    for day, arm in dict.fromkeys((r["day"], r["arm"]) for r in seq):
        p, f = by[(day, arm, first)], fmt[first]
        cells = [str(day), str(arm), _f(p["estimate"], f), f"[{_f(p['ci_low'], f)}, {_f(p['ci_high'], f)}]",
                 _p(p["p_value"]) + star(p)]
        for m in rest:
            r = by.get((day, arm, m))
            cells.append("" if r is None else f"{_f(r['estimate'], fmt[m])} (p {_p(r['p_value'])}){star(r)}")
        rows.append(cells)
    header = ["day", "arm", first, f"always-valid {level}", "p"] + rest
    lines = [f"Day by day (cumulative data up to each day; always-valid, {level}):"]
    lines += _table(header, rows, right={0, 2, 3, 4, *range(5, 5 + len(rest))})
    return "\n".join(lines + [summary])
