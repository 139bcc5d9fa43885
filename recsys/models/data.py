"""From play logs to the users x titles interaction matrix the scorers fit on.

Weighting (documented choice): a play counts by its *watch share*, the minutes watched over the
minutes it could have lasted (runtime x episodes started), clipped to [0.05, 1], so a finished
film counts 1 and an abandoned click almost nothing; repeated plays of a title add up. With a
``halflife`` each play is further decayed by its age at ``day`` (used by popularity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def interaction_matrix(plays: pd.DataFrame, n_users: int, n_titles: int, *,
                       runtime: np.ndarray | None = None, day: int | None = None,
                       halflife: float | None = None, weight: str = "watch_share") -> sp.csr_matrix:
    """CSR (n_users x n_titles) float32 of play weights. ``weight``: watch_share | plays."""
    users = plays["user_id"].to_numpy(np.int64)
    titles = plays["title"].to_numpy(np.int64)
    if weight == "watch_share" and runtime is not None:
        episodes = plays["episodes"].to_numpy(np.float32) if "episodes" in plays else 1.0
        possible = runtime[titles] * np.maximum(episodes, 1.0)
        w = np.clip(plays["minutes"].to_numpy(np.float32) / possible, 0.05, 1.0)
    elif weight in ("plays", "watch_share"):
        w = np.ones(len(plays), dtype=np.float32)
    else:
        raise ValueError(f"unknown weight {weight!r}: use watch_share or plays")
    if halflife is not None and day is not None:
        age = day - plays["day"].to_numpy(np.float32)
        w = w * np.exp2(-np.maximum(age, 0) / halflife)
    keep = (users >= 0) & (users < n_users) & (titles >= 0) & (titles < n_titles)
    X = sp.csr_matrix((w[keep].astype(np.float32), (users[keep], titles[keep])), shape=(n_users, n_titles))
    X.sum_duplicates()
    return X
