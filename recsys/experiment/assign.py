"""Deterministic assignment: a hash of (experiment seed, user id) into arms by share.

Each arm owns a fixed interval of the hash space in the order the arms are listed, so a user's
arm depends only on the seed, their id and the shares: re-running, sharding or adding users
never moves anyone.
"""

from __future__ import annotations

import numpy as np

from recsys.core.rng import KeyedRandom


def assign(user_ids: np.ndarray, shares: list[float] | tuple[float, ...], seed: int) -> np.ndarray:
    """Arm index per user (int8)."""
    u = KeyedRandom.from_seed(seed, "assignment").uniform(np.asarray(user_ids, dtype=np.int64))
    edges = np.cumsum(shares)
    edges[-1] = 1.0 + 1e-12
    return np.searchsorted(edges, u, side="right").astype(np.int8)
