"""Numbers for people: one way to print a p-value, a percentage, a count or an estimate.

Every text the project shows (terminal tables, HTML reports, reasons) formats numbers here, so
the same p-value reads the same everywhere. Missing values (None, NaN, inf) print as "n/a".
"""

from __future__ import annotations

import numpy as np


def missing(x) -> bool:
    """True for None, NaN and infinities."""
    if x is None:
        return True
    try:
        return not np.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def formatted(x, spec: str = "{:.4g}") -> str:
    """A value in a format string of one field, e.g. ``"{:+.3f}"``."""
    return "n/a" if missing(x) else spec.format(float(x))


def fixed(x, decimals: int = 3) -> str:
    """A value with a fixed number of decimals."""
    return "n/a" if missing(x) else f"{float(x):.{decimals}f}"


def points(x, decimals: int = 1) -> str:
    """A difference of two fractions in percentage points: 0.031 -> '3.1'."""
    return "n/a" if missing(x) else f"{100 * float(x):.{decimals}f}"


def dash(text: str) -> str:
    """A formatted value for a page: a missing one ("n/a") as an en dash."""
    return "\u2013" if text == "n/a" else text


def num(x, digits: int = 4) -> str:
    """A value with ``digits`` significant digits."""
    return "n/a" if missing(x) else f"{float(x):.{digits}g}"


def signed(x, digits: int = 4) -> str:
    """A difference with its sign."""
    return "n/a" if missing(x) else f"{float(x):+.{digits}g}"


def pct(x, decimals: int = 1, sign: bool = True) -> str:
    """A fraction as a percentage: 0.184 -> '+18.4%' (or '18.4%' without ``sign``)."""
    if missing(x):
        return "n/a"
    return f"{100 * float(x):{'+' if sign else ''}.{decimals}f}%"


def pvalue(p) -> str:
    """A p-value: three decimals down to 0.001, then scientific; tiny ones as '< 1e-300'."""
    if missing(p):
        return "n/a"
    p = float(p)
    if p >= 0.001:
        return f"{p:.3f}"
    if p < 1e-300:
        return "< 1e-300"
    return f"{p:.1e}"


def count(n) -> str:
    """A whole number with thousands separators."""
    return "n/a" if missing(n) else f"{int(round(float(n))):,}"


def interval(lo, hi, fmt=pct) -> str:
    """'[lo, hi]' in the given format."""
    return f"[{fmt(lo)}, {fmt(hi)}]"


def level(alpha: float) -> str:
    """The confidence level of a two-sided test at ``alpha``: 0.05 -> '95%'."""
    return f"{100 * (1 - alpha):g}%"


def one_sided_level(alpha: float) -> str:
    """The level of a one-sided bound at ``alpha``: 0.05 -> 'one-sided 95%'."""
    return f"one-sided {100 * (1 - alpha):g}%"
