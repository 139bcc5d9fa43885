"""A top-n recommender as a pipeline: scorer -> candidates -> re-rankers -> first n.

The ranking core: offline evaluation runs it as a model (``fit`` on a matrix, ``recommend``),
and :class:`~recsys.policies.recommender.RecommenderPolicy` runs it before building rows. The
stages are the scorers of :mod:`recsys.models` and the re-rankers of
:mod:`recsys.policies.rerank`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone

from recsys.models.base import FactorScorer, Scorer, rows_for
from recsys.models.features import genre_matrix
from recsys.models.topn import top_n
from recsys.policies.rerank import ItemInfo, Reranker, RerankContext, audience_embedding, rerank


class Pipeline(BaseEstimator):
    """``scorer`` ranks every title; the first ``candidates`` go through ``rerankers`` (the first
    ``rerank_depth`` of them are re-ranked greedily). Re-rankers with weight 0 are skipped."""

    def __init__(self, scorer: Scorer, rerankers: tuple[Reranker, ...] = (), candidates: int = 100,
                 rerank_depth: int = 100):
        self.scorer = scorer
        self.rerankers = rerankers
        self.candidates = candidates
        self.rerank_depth = rerank_depth

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None, *,
            genres: sp.spmatrix | None = None) -> "Pipeline":
        """Fit the scorer on ``X`` (users x titles) and ``items``, and the re-rankers on the
        titles' public facts: ``genres`` (titles x genres, in the order of the users' genre
        profiles; default: from ``items``), training popularity, release days, the scorer's item
        embedding, and audience vectors when a re-ranker reads them (built here, so the play
        matrix itself is not kept)."""
        X = sp.csr_matrix(X, dtype=np.float32)
        n = X.shape[1]
        self.scorer_ = clone(self.scorer).fit(X, items)
        emb = self.scorer_.item_embedding() if isinstance(self.scorer_, FactorScorer) else None
        if emb is not None and emb.shape[1] <= 1:
            emb = None
        g = genres.tocsr() if genres is not None else genre_matrix(items, n)[0].tocsr()
        release = None
        if items is not None and "release_day" in items:
            release = np.zeros(n, dtype=np.int64)
            release[items["item"].to_numpy(np.int64)] = items["release_day"].to_numpy(np.int64)
        active = tuple(r for r in self.rerankers if r.weight > 0)
        audience = audience_embedding(X) if any(getattr(r, "similarity", None) == "audience" for r in active) else None
        self.info_ = ItemInfo(g, np.asarray(X.sum(axis=0)).ravel(), release, emb, audience=audience)
        self.rerankers_ = tuple(clone(r).fit(self.info_) for r in active)
        self.n_items_ = n
        return self

    def scored(self, users: np.ndarray, X: sp.csr_matrix | None, n: int, *, filter: sp.csr_matrix | None = None,
               exclude: np.ndarray | None = None, num_threads: int = 0,
               user_vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The scorer's best ``n`` titles per user (ids, scores), before re-ranking."""
        return top_n(self.scorer_, users, X, n, filter=filter, exclude=exclude, num_threads=num_threads,
                     user_vectors=user_vectors)

    def reranked(self, ids: np.ndarray, scores: np.ndarray, k: int, *, profile: np.ndarray | None = None,
                 day: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The candidates with the first ``k`` re-ranked (unchanged without active re-rankers).
        ``profile``: each user's genre mix (users x genres), in the order of ``genres``."""
        if not self.rerankers_:
            return ids, scores
        return rerank(ids, scores, list(self.rerankers_), RerankContext(profile, day), k=k,
                      depth=max(self.rerank_depth, k))

    def recommend(self, users: np.ndarray, X: sp.csr_matrix | None = None, n: int = 10, filter_seen: bool = True,
                  exclude: np.ndarray | None = None, day: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` per user as a scorer's ``recommend``: the user's history in ``X`` filtered
        out when asked, and read as the genre mix the re-rankers need."""
        users = np.asarray(users, dtype=np.int64)
        hist = rows_for(users, X, self.n_items_)
        ids, sc = self.scored(users, X, max(self.candidates, n), filter=hist if filter_seen else None, exclude=exclude)
        if self.rerankers_:
            profile = np.asarray((hist @ self.info_.genres).todense(), dtype=np.float32)
            ids, sc = self.reranked(ids, sc, n, profile=profile, day=day)
        return ids[:, :n], sc[:, :n]
