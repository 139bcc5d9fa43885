"""A top-n recommender as a pipeline: scorer -> candidates -> re-rankers -> first n.

The stages are the components of :mod:`recsys.models` and :mod:`recsys.rerank`; this is what
offline evaluation runs, and the ranking half of what a
:class:`~recsys.policies.RecommenderPolicy` runs before building rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone

from recsys.models.base import FactorScorer, Scorer, rows_for
from recsys.models.topn import top_n
from recsys.rerank import ItemInfo, Reranker, RerankContext, rerank


class Pipeline(BaseEstimator):
    """``scorer`` ranks every title; the first ``candidates`` go through ``rerankers``.

    ``fit(X, items)`` and ``recommend(users, X, n, filter_seen, exclude)`` as a scorer's; the
    re-rankers' genre mix per user is read from the history ``X``.
    """

    def __init__(self, scorer: Scorer, rerankers: tuple[Reranker, ...] = (), candidates: int = 100):
        self.scorer = scorer
        self.rerankers = rerankers
        self.candidates = candidates

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "Pipeline":
        X = sp.csr_matrix(X, dtype=np.float32)
        self.scorer_ = clone(self.scorer).fit(X, items)
        emb = self.scorer_.item_embedding() if isinstance(self.scorer_, FactorScorer) else None
        self.info_ = ItemInfo.from_items(items, X, emb if emb is not None and emb.shape[1] > 1 else None)
        self.rerankers_ = [clone(r).fit(self.info_) for r in self.rerankers]
        self.n_items_ = X.shape[1]
        return self

    def recommend(self, users: np.ndarray, X: sp.csr_matrix | None = None, n: int = 10, filter_seen: bool = True,
                  exclude: np.ndarray | None = None, day: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        users = np.asarray(users, dtype=np.int64)
        hist = rows_for(users, X, self.n_items_)
        ids, sc = top_n(self.scorer_, users, X, max(self.candidates, n), filter=hist if filter_seen else None,
                        exclude=exclude)
        if any(r.weight for r in self.rerankers_):
            profile = np.asarray((hist @ self.info_.genres).todense(), dtype=np.float32)
            ids, sc = rerank(ids, sc, self.rerankers_, RerankContext(profile, day), k=n)
        return ids[:, :n], sc[:, :n]
