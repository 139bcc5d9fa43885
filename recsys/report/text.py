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
    notes.append(f"p adj: {result['correction']} across all rows; sig = p adj <= {alpha:g}")
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
