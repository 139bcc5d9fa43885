"""Popularity: recent plays with a time decay. The control of most experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.models.base import FactorScorer


class Popularity(FactorScorer):
    """Scores every title by its (decayed) interaction mass, the same for every user.

    The time decay is applied when the matrix is built (``interaction_matrix(..., halflife=)``),
    so this estimator only sums columns; ``smoothing`` keeps unplayed titles orderable.
    As a :class:`FactorScorer` it is the one-column case: every user's vector is ``[1]``.
    """

    def __init__(self, smoothing: float = 0.0):
        self.smoothing = smoothing

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "Popularity":
        X = self._fit_common(X)
        counts = np.asarray(X.sum(axis=0)).ravel().astype(np.float64) + self.smoothing
        total = counts.sum()
        self.popularity_ = (counts / total if total > 0 else counts).astype(np.float32)
        self.item_vectors_ = self.popularity_[:, None].copy()
        return self

    def user_vectors(self, users: np.ndarray, X: sp.csr_matrix | None = None) -> np.ndarray:
        return np.ones((len(users), 1), dtype=np.float32)

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None, items: np.ndarray | None = None) -> np.ndarray:
        p = self.popularity_ if items is None else self.popularity_[np.asarray(items)]
        return np.broadcast_to(p, (len(users), len(p))).copy()

    def item_embedding(self) -> np.ndarray:
        return np.ones((self.n_items_, 1), dtype=np.float32)
