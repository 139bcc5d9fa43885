"""Hold-out splits of an interactions frame (columns ``user``, ``item``, optional time).

* user-temporal: per user, the last ``test_fraction`` of their interactions by time (at least
  one) held out, equal times ordered by a seeded shuffle, for users with at least
  ``min_interactions``: every such user is evaluated on their own future;
* temporal: everything after a global cut time is test; the cut is the ``1 - test_fraction``
  quantile of the times, so the models never see the future (new titles included);
* random: per user, ``test_fraction`` of their interactions (at least one) held out at random,
  for users with at least ``min_interactions``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.core.errors import InputError
from recsys.core.rng import generator

TIME_COLUMNS = ("timestamp", "day")


def time_column(df: pd.DataFrame) -> str | None:
    for c in TIME_COLUMNS:
        if c in df:
            return c
    return None


def temporal_split(df: pd.DataFrame, test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) cut at a global time; ties at the cut go to train."""
    col = time_column(df)
    if col is None:
        raise InputError("a temporal split needs a timestamp or day column (or use --split random)")
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    t = df[col].to_numpy()
    cut = np.quantile(t, 1.0 - test_fraction, method="lower")
    test = t > cut
    return df[~test].reset_index(drop=True), df[test].reset_index(drop=True)


def random_split(df: pd.DataFrame, test_fraction: float = 0.2, *, seed: int = 0,
                 min_interactions: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): per user a random ``test_fraction`` (rounded, at least 1) held out."""
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    key = generator(seed, "random-split").random(len(df))
    test = _held_out_last(df, -key, test_fraction, min_interactions)
    return df[~test].reset_index(drop=True), df[test].reset_index(drop=True)


def _held_out_last(df: pd.DataFrame, key: np.ndarray, test_fraction: float, min_interactions: int) -> np.ndarray:
    """Mask of each user's last ``test_fraction`` (rounded, at least 1) interactions in the order of
    ``key`` (users with fewer than ``min_interactions`` keep all in training)."""
    codes, _ = pd.factorize(df["user"].to_numpy())
    order = np.lexsort((key, codes))             # by user, then by key
    counts = np.bincount(codes)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.empty(len(df), dtype=np.int64)
    rank[order] = np.arange(len(df)) - start
    n = counts[codes]
    n_test = np.maximum(1, np.rint(n * test_fraction)).astype(np.int64)
    return (rank >= n - n_test) & (n >= min_interactions)


def user_temporal_split(df: pd.DataFrame, test_fraction: float = 0.2, *, seed: int = 0,
                        min_interactions: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): per user, the latest ``test_fraction`` of their interactions (rounded, at
    least 1) held out; interactions at the same time are ordered by a shuffle seeded by ``seed``."""
    col = time_column(df)
    if col is None:
        raise InputError("a per-user temporal split needs a timestamp or day column (or use --split random)")
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    t = pd.to_numeric(df[col]).to_numpy(np.float64)
    shuffle = generator(seed, "user-temporal-split").random(len(df))
    # rank by time, equal times by the shuffle: a float key in [0, 1) breaks ties within a time
    time_rank = pd.Series(t).rank(method="dense").to_numpy()
    test = _held_out_last(df, time_rank + shuffle, test_fraction, min_interactions)
    return df[~test].reset_index(drop=True), df[test].reset_index(drop=True)
