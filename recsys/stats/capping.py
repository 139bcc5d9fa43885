"""Metric capping (winsorisation): absolute and percentile caps per column, as GrowthBook does.

A few heavy users dominate the variance of an unbounded per-user metric such as watch
minutes; replacing each value above a cap c by c trades a little bias for much less variance
(GrowthBook's "capping": ``capping: absolute | percentile``, ``capValue``). A percentile cap
must not depend on the treatment, or capping could create (or hide) an effect: its threshold
is computed on data the treatment cannot have touched, in this order of preference:

* ``pre``: the pooled pre-period column ``pre_<column>`` of every user (all arms; recorded
  before assignment), moved to the outcome period's scale by ``pre_scale`` (by default the
  control arm's ratio of outcome to pre-period means, since the windows may differ in length);
* ``control``: the control arm's own outcome values;
* ``pooled``: every arm's outcome values (GrowthBook's choice; exchangeable under the null).

The same cap applies to every arm. With ``cap_pre`` a percentile cap also caps the pre-period
column at its own pooled percentile, so CUPED sees a covariate capped alike. Each capped column
reports how many users were capped per arm and the variance removed (within arms, pooled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from recsys.core.errors import InputError

BASES = ("auto", "pre", "control", "pooled")


@dataclass(frozen=True)
class Cap:
    """A cap on one column: ``absolute`` (a value) or ``percentile`` (a level in (0, 1))."""

    column: str
    absolute: float | None = None
    percentile: float | None = None

    def __post_init__(self) -> None:
        if (self.absolute is None) == (self.percentile is None):
            raise InputError(f"cap for {self.column}: give exactly one of absolute and percentile")
        if self.absolute is not None and not (np.isfinite(self.absolute) and self.absolute >= 0):
            raise InputError(f"cap for {self.column} must be a non-negative number, got {self.absolute}")
        if self.percentile is not None and not (np.isfinite(self.percentile) and 0 < self.percentile < 1):
            raise InputError(f"percentile cap for {self.column} must be in (0, 1), got {self.percentile}")

    @classmethod
    def from_config(cls, column: str, spec) -> "Cap":
        """From {"absolute": 600} or {"percentile": 0.99}."""
        if not isinstance(spec, Mapping):
            raise InputError(f"cap for {column}: expected a table such as {{percentile = 0.99}}, got {spec!r}")
        unknown = set(spec) - {"absolute", "percentile"}
        if unknown:
            raise InputError(f"cap for {column}: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            values = [None if spec.get(k) is None else float(spec[k]) for k in ("absolute", "percentile")]
        except (TypeError, ValueError):
            raise InputError(f"cap for {column}: values must be numbers, got {dict(spec)}") from None
        return cls(column, *values)


@dataclass(frozen=True)
class ColumnCapping:
    """What capping did to one column."""

    column: str
    kind: str                     # absolute | percentile
    level: float | None           # the percentile level
    value: float                  # the cap applied to the column
    basis: str                    # absolute | pre | control | pooled
    n: dict[str, int]             # users with a value, per arm
    capped: dict[str, int]        # users whose value was lowered, per arm
    variance_before: float        # within-arm variance of the user values, pooled over arms
    variance_after: float
    pre_column: str | None = None
    pre_value: float | None = None

    @property
    def variance_removed(self) -> float:
        """1 - variance after / variance before (within arms): roughly the share of the variance
        of a difference in means that the cap removes."""
        return float(1 - self.variance_after / self.variance_before) if self.variance_before > 0 else 0.0

    def to_dict(self) -> dict:
        return {"column": self.column, "kind": self.kind, "level": self.level, "value": self.value,
                "basis": self.basis, "n": dict(self.n), "capped": dict(self.capped),
                "variance_before": self.variance_before, "variance_after": self.variance_after,
                "variance_removed": self.variance_removed, "pre_column": self.pre_column,
                "pre_value": self.pre_value}


@dataclass(frozen=True, eq=False)
class CappingResult:
    table: pd.DataFrame = field(repr=False)
    columns: tuple[ColumnCapping, ...]

    def to_dict(self) -> dict:
        return {"caps": [c.to_dict() for c in self.columns]}


def _within_variance(values: np.ndarray, arms: np.ndarray) -> float:
    """Within-arm variance pooled over arms (sum of squares about each arm's mean / (n - arms))."""
    ok = np.isfinite(values)
    v, a = values[ok], arms[ok]
    codes, inverse = np.unique(a, return_inverse=True)
    counts = np.bincount(inverse)
    means = np.bincount(inverse, weights=v) / np.maximum(counts, 1)
    ss = float(np.sum((v - means[inverse]) ** 2))
    dof = v.size - codes.size
    return ss / dof if dof > 0 else float("nan")


def cap_table(df: pd.DataFrame, caps: Sequence[Cap] | Mapping[str, Mapping], *, control: str | None = None,
              basis: str = "auto", pre_scale: float | None = None, cap_pre: bool = True,
              arm_column: str = "arm") -> CappingResult:
    """A copy of ``df`` with the caps applied, and a report per capped column.

    ``basis`` chooses where a percentile comes from ("auto": the pooled pre-period column when
    the table has it, else the control arm). ``control`` names the control arm (needed for the
    control basis and for the default ``pre_scale``).
    """
    if isinstance(caps, Mapping):
        caps = [Cap.from_config(col, spec) for col, spec in caps.items()]
    caps = list(caps)
    if basis not in BASES:
        raise InputError(f"unknown cap basis {basis!r} (known: {', '.join(BASES)})")
    if arm_column not in df.columns:
        raise InputError(f"column '{arm_column}' is not in the table")
    arms = df[arm_column].to_numpy()
    if control is not None and control not in set(arms):
        raise InputError(f"control arm '{control}' is not in the table")
    if pre_scale is not None and not (np.isfinite(pre_scale) and pre_scale > 0):
        raise InputError(f"pre_scale must be a positive number, got {pre_scale}")
    seen = set()
    out = df.copy()
    reports = []
    labels = sorted(pd.unique(arms), key=str)
    for cap in caps:
        col = cap.column
        if col in seen:
            raise InputError(f"column '{col}' is capped twice")
        seen.add(col)
        if col not in df.columns:
            raise InputError(f"cannot cap column '{col}': it is not in the table")
        if not pd.api.types.is_numeric_dtype(df[col].dtype):
            raise InputError(f"cannot cap column '{col}': it is not numeric")
        x = df[col].to_numpy(np.float64)
        pre_col = f"pre_{col}" if not col.startswith("pre_") else None
        has_pre = pre_col is not None and pre_col in df.columns
        pre_value = None
        if cap.absolute is not None:
            value, used = float(cap.absolute), "absolute"
        else:
            used = basis if basis != "auto" else ("pre" if has_pre else "control")
            q = float(cap.percentile)
            if used == "pre":
                if not has_pre:
                    raise InputError(f"percentile cap for {col} on the pre period needs column '{pre_col}'")
                pre = df[pre_col].to_numpy(np.float64)
                pre_value = float(np.nanquantile(pre, q))
                scale = pre_scale
                if scale is None:
                    if control is None:
                        raise InputError(f"percentile cap for {col} on the pre period needs the control arm "
                                         "(or pre_scale) to move the cap to the outcome period")
                    ctl = arms == control
                    with np.errstate(all="ignore"):
                        scale = float(np.nanmean(x[ctl]) / np.nanmean(pre[ctl]))
                    if not (np.isfinite(scale) and scale > 0):
                        scale = 1.0
                value = pre_value * scale
            elif used == "control":
                if control is None:
                    raise InputError(f"percentile cap for {col} on the control arm needs the control arm's name")
                value = float(np.nanquantile(x[arms == control], q))
            else:
                value = float(np.nanquantile(x, q))
        capped_mask = x > value
        out[col] = np.where(capped_mask, value, x) if np.issubdtype(x.dtype, np.floating) else np.minimum(x, value)
        if cap.percentile is not None and cap_pre and has_pre:
            pre = df[pre_col].to_numpy(np.float64)
            own = float(np.nanquantile(pre, cap.percentile))
            out[pre_col] = np.where(pre > own, own, pre)
            pre_value = own
        after = out[col].to_numpy(np.float64)
        reports.append(ColumnCapping(
            column=col, kind="absolute" if cap.absolute is not None else "percentile", level=cap.percentile,
            value=float(value), basis=used,
            n={str(a): int(np.sum((arms == a) & np.isfinite(x))) for a in labels},
            capped={str(a): int(np.sum((arms == a) & capped_mask)) for a in labels},
            variance_before=_within_variance(x, arms), variance_after=_within_variance(after, arms),
            pre_column=pre_col if (cap.percentile is not None and has_pre and (cap_pre or used == "pre")) else None,
            pre_value=pre_value))
    return CappingResult(out, tuple(reports))
