"""The scorer contract every recommender follows (scikit-learn estimator habits).

``__init__`` stores parameters only; ``fit(X, items)`` takes a CSR users x titles matrix and
optionally the public items frame (``Catalog.items_frame()`` or a loader's equivalent) and
returns self; fitted state ends in ``_``; ``score(users, X)`` returns a dense (n, titles) block
for a batch of users, with a cold-start answer for users unseen in fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator


class Scorer(BaseEstimator):
    """Base class: subclasses implement ``fit`` and ``score``."""

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "Scorer":
        raise NotImplementedError

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None) -> np.ndarray:
        raise NotImplementedError

    def recommend(self, users: np.ndarray, X: sp.csr_matrix | None = None, n: int = 10,
                  filter_seen: bool = True, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` titles and scores per user; seen titles (nonzero in ``X``) removed if asked."""
        users = np.asarray(users, dtype=np.int64)
        scores = self.score(users, X).astype(np.float32, copy=True)
        if exclude is not None:
            scores[:, exclude] = -np.inf
        if filter_seen and X is not None:
            known = users < X.shape[0]
            sub = X[users[known]]
            r = np.repeat(np.flatnonzero(known), np.diff(sub.indptr))
            scores[r, sub.indices] = -np.inf
        n = min(n, scores.shape[1])
        top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
        ids = np.take_along_axis(top, order, 1)
        return ids, np.take_along_axis(scores, ids, 1)


def rows_for(users: np.ndarray, X: sp.csr_matrix | None, n_items: int) -> sp.csr_matrix:
    """The rows of ``X`` (indexed by user id) for ``users``, aligned with them; ids outside
    ``X`` (or ``X`` None) give empty rows."""
    users = np.asarray(users, dtype=np.int64)
    if X is None or X.shape[0] == 0:
        return sp.csr_matrix((len(users), n_items), dtype=np.float32)
    X = sp.csr_matrix(X)
    ok = (users >= 0) & (users < X.shape[0])
    R = X[np.where(ok, users, 0)].astype(np.float32)
    if not ok.all():
        R.data *= np.repeat(ok, np.diff(R.indptr)).astype(np.float32)
        R.eliminate_zeros()
    return R


class FactorScorer(Scorer):
    """A scorer whose score is a dot product: ``score(u, i) = user_vectors(u) @ item_vectors_[i]``.

    The linear form lets the hybrid blend components exactly in one product, and lets top-n
    selection run in implicit's multithreaded batch top-k (:func:`recsys.models.topn.top_n`).

    Cold start: the last column of ``item_vectors_`` is the popularity prior (training share of
    each title); a user with no usable history gets the vector ``[0, ..., 0, 1]`` and so the
    popularity ranking. History of users unknown at fit time (or with none then) is read from
    ``X`` when given (fold-in); users with fitted history keep their fitted state.

    Subclasses set ``item_vectors_``, ``n_history_`` (distinct titles per fitted user) and
    implement ``_warm_vectors(users)`` and ``_fold_in(R)``.
    """

    def _fit_common(self, X: sp.csr_matrix) -> sp.csr_matrix:
        X = sp.csr_matrix(X, dtype=np.float32)
        self.n_users_, self.n_items_ = X.shape
        self.n_history_ = np.diff(X.indptr).astype(np.int32)
        counts = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
        total = counts.sum()
        self.prior_ = (counts / total if total > 0 else np.full(X.shape[1], 1.0 / max(X.shape[1], 1))).astype(np.float32)
        return X

    def _warm_vectors(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fold_in(self, R: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def history(self, users: np.ndarray, X: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        """(distinct titles of history per user, mask of users read from ``X``, their X rows)."""
        users = np.asarray(users, dtype=np.int64)
        known = (users >= 0) & (users < self.n_users_)
        counts = np.zeros(len(users), dtype=np.int32)
        counts[known] = self.n_history_[users[known]]
        fold = counts == 0
        R = rows_for(users[fold], X, self.n_items_)
        counts[fold] = np.diff(R.indptr)
        return counts, fold, R

    def user_vectors(self, users: np.ndarray, X: sp.csr_matrix | None = None) -> np.ndarray:
        """(n, d) float32 user vectors; cold users get the popularity prior's unit vector."""
        users = np.asarray(users, dtype=np.int64)
        counts, fold, R = self.history(users, X)
        d = self.item_vectors_.shape[1]
        U = np.zeros((len(users), d), dtype=np.float32)
        warm = ~fold
        if warm.any():
            U[warm, :-1] = self._warm_vectors(users[warm])
        has = np.diff(R.indptr) > 0
        if has.any():
            idx = np.flatnonzero(fold)[has]
            U[idx, :-1] = self._fold_in(R[has])
        U[counts == 0, -1] = 1.0
        return U

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None, items: np.ndarray | None = None) -> np.ndarray:
        V = self.item_vectors_ if items is None else self.item_vectors_[np.asarray(items)]
        return self.user_vectors(users, X) @ V.T

    def item_embedding(self) -> np.ndarray:
        """Unit-norm item vectors without the prior column (for latent similarity)."""
        V = self.item_vectors_[:, :-1].astype(np.float32)
        norm = np.linalg.norm(V, axis=1, keepdims=True)
        return np.divide(V, norm, out=np.zeros_like(V), where=norm > 0)

    def recommend(self, users, X=None, n=10, filter_seen=True, exclude=None):
        from recsys.models.topn import top_n

        users = np.asarray(users, dtype=np.int64)
        seen = rows_for(users, X, self.n_items_) if filter_seen else None
        return top_n(self, users, X, n, filter=seen, exclude=exclude)
