"""Validation of a per-user table (docs/contracts.md section 1) before any statistics.

Every problem is an InputError with one line naming the column and the first bad row (rows
count from 1, the header not included, with the user id when there is one). Only the columns
the requested metrics, covariates and segments need are required; extra columns are carried
through untouched. Checks are vectorised, so a million-row table validates in well under a
second.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.stats.metrics import BINARY_COLUMNS, NONNEGATIVE_COLUMNS, NULLABLE_COLUMNS


def _where(df: pd.DataFrame, mask: np.ndarray) -> str:
    """'row 5 (user_id 42)' for the first True of mask."""
    i = int(np.argmax(mask))
    where = f"row {i + 1}"
    if "user_id" in df.columns:
        where += f" (user_id {df['user_id'].iloc[i]})"
    return where


def _as_numeric(df: pd.DataFrame, col: str, nullable: bool) -> np.ndarray:
    """The column as float64; InputError on non-numeric, empty (unless nullable) or infinite values."""
    s = df[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        coerced = pd.to_numeric(s, errors="coerce")
        bad = (s.notna() & coerced.isna()).to_numpy()
        if bad.any():
            value = s.iloc[int(np.argmax(bad))]
            raise InputError(f"column '{col}': non-numeric value {str(value)!r} at {_where(df, bad)}")
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if not nullable and missing.any():
        hint = " (fill missing pre-period values, e.g. with 0)" if col.startswith("pre_") else ""
        raise InputError(f"column '{col}': empty value at {_where(df, missing)}{hint}")
    inf = np.isinf(values)
    if inf.any():
        raise InputError(f"column '{col}': infinite value at {_where(df, inf)}")
    return values


def _labels(df: pd.DataFrame, col: str) -> pd.Series:
    s = df[col]
    missing = s.isna().to_numpy()
    if missing.any():
        raise InputError(f"column '{col}': empty value at {_where(df, missing)}")
    out = s.astype(str)
    blank = (out.str.strip() == "").to_numpy()
    if blank.any():
        raise InputError(f"column '{col}': empty value at {_where(df, blank)}")
    return out


def validate_table(df: pd.DataFrame, *, numeric: Iterable[str], control: str | None = None,
                   segments: bool = False) -> pd.DataFrame:
    """Check a per-user table and return a copy with ``arm``/``segment`` as strings and the
    ``numeric`` columns as float64 (empty cells stay NaN only where allowed).

    Raises InputError for: no rows, missing required columns, an empty or duplicate user id,
    an empty arm, fewer than two arms, an unknown control arm, non-numeric, empty or infinite
    values, negative counts, a churn flag other than 0/1, and clicks > impressions.
    """
    numeric = list(dict.fromkeys(numeric))
    required = ["user_id", "arm"] + (["segment"] if segments else []) + numeric
    missing = [c for c in required if c not in df.columns]
    if missing:
        s = "s" if len(missing) > 1 else ""
        raise InputError(f"missing required column{s}: {', '.join(missing)}")
    if len(df) == 0:
        raise InputError("the table has no rows")
    out = df.copy(deep=False)
    ids = df["user_id"]
    empty_id = ids.isna().to_numpy()
    if empty_id.any():
        raise InputError(f"column 'user_id': empty value at {_where(df, empty_id)}")
    dup = ids.duplicated().to_numpy()
    if dup.any():
        raise InputError(f"column 'user_id': duplicate user at {_where(df, dup)}; the table needs one row per user")
    out["arm"] = _labels(df, "arm")
    if "segment" in df.columns and segments:
        out["segment"] = _labels(df, "segment")
    for col in numeric:
        base = col[4:] if col.startswith("pre_") else col
        values = _as_numeric(df, col, nullable=col in NULLABLE_COLUMNS)
        if base in NONNEGATIVE_COLUMNS:
            with np.errstate(invalid="ignore"):
                neg = values < 0
            if neg.any():
                raise InputError(f"column '{col}': negative value {values[np.argmax(neg)]:g} at {_where(df, neg)}")
        if base in BINARY_COLUMNS:
            bad = (values != 0) & (values != 1)
            if bad.any():
                raise InputError(f"column '{col}': value {values[np.argmax(bad)]:g} at {_where(df, bad)} is not 0 or 1")
        out[col] = values
    for num, den in (("clicks", "impressions"), ("pre_clicks", "pre_impressions")):
        if num in numeric and den in numeric:
            bad = out[num].to_numpy() > out[den].to_numpy()
            if bad.any():
                i = int(np.argmax(bad))
                raise InputError(f"column '{num}': {out[num].iloc[i]:g} {num} > {out[den].iloc[i]:g} {den} "
                                 f"at {_where(df, bad)}")
    arms = pd.unique(out["arm"])
    if len(arms) < 2:
        raise InputError(f"column 'arm': only one arm ({arms[0]!r}); an A/B table needs at least two")
    if control is not None and control not in set(arms):
        raise InputError(f"unknown control arm {control!r} (arms in the table: {', '.join(sorted(map(str, arms)))})")
    return out


def arms_in_order(df: pd.DataFrame, control: str) -> list[str]:
    """The control first, then the other arms sorted by name."""
    return [control] + sorted(a for a in pd.unique(df["arm"]) if a != control)


def segment_labels(df: pd.DataFrame) -> list[str]:
    return sorted(pd.unique(df["segment"]).tolist())


__all__: Sequence[str] = ["validate_table", "arms_in_order", "segment_labels"]
