"""Random scores: the floor every model must beat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import check_random_state

from recsys.models.base import Scorer
from recsys.core.rng import KeyedRandom


class Random(Scorer):
    """A uniform score per (user, title), a pure function of (seed, user, title): the same
    user gets the same ranking whatever batch they are scored in."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "Random":
        self.n_users_, self.n_items_ = X.shape
        self.seed_ = int(check_random_state(self.random_state).randint(2**31 - 1))
        return self

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None, items: np.ndarray | None = None) -> np.ndarray:
        items = np.arange(self.n_items_) if items is None else np.asarray(items)
        users = np.asarray(users, dtype=np.int64)
        return KeyedRandom(self.seed_).uniform(users[:, None], items[None, :]).astype(np.float32)

    def recommend(self, users, X=None, n=10, filter_seen=True, exclude=None):
        from recsys.models.base import rows_for
        from recsys.models.topn import top_n

        users = np.asarray(users, dtype=np.int64)
        seen = rows_for(users, X, self.n_items_) if filter_seen else None
        return top_n(self, users, X, n, filter=seen, exclude=exclude)
