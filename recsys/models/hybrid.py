"""The hybrid: collaborative filtering, content and popularity blended by the user's history.

Each component's scores are standardised per user over the catalogue (z-scores, so no
component wins by scale alone) and blended with weights set by ``n``, the number of distinct
titles in the user's history, through ``h = n / (n + shrinkage)``::

    score(u, i) = cf_weight * h * z_cf(u, i)
                + content_weight * [n > 0] * z_content(u, i)
                + popularity_weight * (1 - h) * z_pop(i)

A user with no history gets pure popularity; with a few plays, content and popularity carry
most of the weight; with many, collaborative filtering dominates. ``z_pop`` standardises
``log(1 + plays)``. Because every component is a dot product, the per-user mean and variance
over items are exact closed forms (``a.mu`` and ``a' Sigma a``), so the whole blend is again a
single dot product of a user vector and an item vector (see :class:`FactorScorer`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils import check_random_state

from recsys.models.base import FactorScorer
from recsys.models.content import Content
from recsys.models.factorization import ALS


def _with_seed(est, rs):
    est = clone(est)
    if "random_state" in est.get_params(deep=False) and est.random_state is None:
        est.set_params(random_state=int(rs.randint(2**31 - 1)))
    return est


class Hybrid(FactorScorer):
    """CF + content + popularity, weighted by the amount of history (module docstring)."""

    def __init__(self, cf=None, content=None, cf_weight: float = 1.0, content_weight: float = 0.35,
                 popularity_weight: float = 0.5, shrinkage: float = 5.0, random_state=None):
        self.cf = cf
        self.content = content
        self.cf_weight = cf_weight
        self.content_weight = content_weight
        self.popularity_weight = popularity_weight
        self.shrinkage = shrinkage
        self.random_state = random_state

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "Hybrid":
        X = self._fit_common(X)
        rs = check_random_state(self.random_state)
        self.cf_ = _with_seed(self.cf if self.cf is not None else ALS(), rs).fit(X, items)
        self.content_ = None
        if items is not None and self.content_weight > 0:
            self.content_ = _with_seed(self.content if self.content is not None else Content(), rs).fit(X, items)
        parts = [self.cf_.item_vectors_] + ([self.content_.item_vectors_] if self.content_ is not None else [])
        self.stats_ = [(B.mean(0).astype(np.float64), np.cov(B.astype(np.float64), rowvar=False, bias=True).reshape(B.shape[1], B.shape[1]))
                       for B in parts]
        lp = np.log1p(np.asarray(X.sum(axis=0)).ravel())
        sd = lp.std()
        zpop = (lp - lp.mean()) / sd if sd > 0 else np.zeros_like(lp)
        n = X.shape[1]
        self.item_vectors_ = np.hstack(parts + [zpop[:, None], np.ones((n, 1)), self.prior_[:, None]]).astype(np.float32)
        return self

    def blend_weights(self, n_history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cf, content, popularity) weights for users with ``n_history`` distinct titles."""
        n = np.asarray(n_history, dtype=np.float64)
        h = n / (n + self.shrinkage) if self.shrinkage > 0 else (n > 0).astype(np.float64)
        return self.cf_weight * h, self.content_weight * (n > 0), self.popularity_weight * (1.0 - h)

    def user_vectors(self, users: np.ndarray, X: sp.csr_matrix | None = None) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        counts, _, _ = self.cf_.history(users, X)
        w_cf, w_ct, w_pop = self.blend_weights(counts)
        comps = [(self.cf_, w_cf)] + ([(self.content_, w_ct)] if self.content_ is not None else [])
        blocks, offset = [], np.zeros(len(users))
        for (model, w), (mu, cov) in zip(comps, self.stats_):
            A = model.user_vectors(users, X).astype(np.float64)
            sd = np.sqrt(np.maximum(((A @ cov) * A).sum(1), 0.0))
            scale = np.divide(w, sd, out=np.zeros_like(sd), where=sd > 1e-9)
            blocks.append(A * scale[:, None])
            offset -= scale * (A @ mu)
        U = np.hstack(blocks + [w_pop[:, None], offset[:, None], np.zeros((len(users), 1))]).astype(np.float32)
        U[~U[:, :-1].any(axis=1), -1] = 1.0  # nothing to go on: the popularity prior
        return U

    def item_embedding(self) -> np.ndarray:
        return self.cf_.item_embedding()
