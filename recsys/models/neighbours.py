"""Item-item models: a user's score for a title is a weighted sum over the titles they played.

``score(u, i) = sum_j r_uj W[j, i]``, ``r_u`` the user's row of the interaction matrix and ``W`` a
titles x titles matrix learnt from co-occurrence:

* :class:`ItemKNN`: cosine similarity with shrinkage (Sarwar et al. 2001), on raw, TF-IDF or BM25
  weighted interactions (the weightings of ``implicit.nearest_neighbours``), each title keeping
  its ``neighbours`` most similar titles;
* :class:`RP3beta`: three-step random walk user -> title -> user -> title, its transition
  probabilities raised to ``alpha`` and the target divided by its popularity to the ``beta``
  (Paudel et al. 2017, Christoffel et al. 2015);
* :class:`~recsys.models.ease.EASE` (its own module): a closed-form dense ``W``.

Dacrema, Cremonesi and Jannach (RecSys 2019) found such neighbourhood models, tuned, ahead of
most published neural recommenders; they are the baselines a new model has to beat.

Cold start: a user with no history (at fit, nor in the ``X`` given to ``score``) gets the
popularity prior (training share of each title), as every :class:`~recsys.models.base.FactorScorer`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core.params import store_params
from recsys.core.errors import InputError
from recsys.models.base import Scorer, rows_for

WEIGHTINGS = ("none", "tfidf", "bm25")
#: titles x titles cells computed at once when building a neighbour matrix (32 MB of float32)
_BLOCK_CELLS = 8_000_000


def _positive(name: str, value, *, integer: bool = False, lo: float = 0.0, strict: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        ok = value > lo if strict else value >= lo
    if not ok:
        what = "an integer" if integer else "a number"
        raise InputError(f"{name} must be {what} {'>' if strict else '>='} {lo:g}, got {value!r}")


class ItemItemScorer(Scorer):
    """Base of the item-item models: fitted state is ``weights_`` (titles x titles, sparse or
    dense) and the fitted users' history rows; ``score`` is one sparse product per batch."""

    def _fit_common(self, X: sp.csr_matrix) -> sp.csr_matrix:
        X = sp.csr_matrix(X, dtype=np.float32)
        X.sum_duplicates()
        X.eliminate_zeros()
        self.n_users_, self.n_items_ = X.shape
        self.history_ = X
        counts = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
        total = counts.sum()
        self.prior_ = (counts / total if total > 0 else np.full(X.shape[1], 1.0 / max(X.shape[1], 1))).astype(np.float32)
        return X

    def history(self, users: np.ndarray, X: sp.csr_matrix | None = None) -> sp.csr_matrix:
        """Each user's history row: the fitted one, or for users without fitted history their row of ``X``."""
        users = np.asarray(users, dtype=np.int64)
        R = rows_for(users, self.history_, self.n_items_)
        empty = np.diff(R.indptr) == 0
        if X is not None and empty.any():
            F = rows_for(users, X, self.n_items_)
            keep = sp.diags((~empty).astype(np.float32)) @ R
            R = (keep + sp.diags(empty.astype(np.float32)) @ F).tocsr()
            R.eliminate_zeros()
        return R

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None, items: np.ndarray | None = None) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        R = self.history(users, X)
        W = self.weights_ if items is None else self.weights_[:, np.asarray(items)]
        S = R @ W
        S = np.asarray(S.toarray() if sp.issparse(S) else S, dtype=np.float32)
        cold = np.diff(R.indptr) == 0
        if cold.any():
            S[cold] = self.prior_ if items is None else self.prior_[np.asarray(items)]
        return S

    def recommend(self, users, X=None, n=10, filter_seen=True, exclude=None):
        from recsys.models.topn import top_n

        users = np.asarray(users, dtype=np.int64)
        seen = rows_for(users, X, self.n_items_) if filter_seen else None
        return top_n(self, users, X, n, filter=seen, exclude=exclude, chunk=max(1, 4_000_000 // max(self.n_items_, 1)))


def weight_interactions(X: sp.csr_matrix, weighting: str, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """Users x titles weights, titles read as documents and users as terms (as implicit does):
    ``tfidf``: sqrt(r) x idf(user); ``bm25``: saturated r with title length normalisation, x idf(user);
    idf(user) = log(titles) - log(1 + titles the user played)."""
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    if weighting == "none" or X.nnz == 0:
        return X
    n_items = X.shape[1]
    per_user = np.diff(X.indptr)
    idf = np.log(n_items) - np.log1p(per_user)
    rows = np.repeat(np.arange(X.shape[0]), per_user)
    if weighting == "tfidf":
        X.data = np.sqrt(X.data) * idf[rows]
        return X
    length = np.asarray(X.sum(axis=0)).ravel()
    norm = (1.0 - b) + b * length / max(length.mean(), 1e-12)
    X.data = X.data * (k1 + 1.0) / (k1 * norm[X.indices] + X.data) * idf[rows]
    return X


def top_k_columns(block, n: int, k: int) -> sp.csr_matrix:
    """An n x n sparse matrix keeping, in each column, the ``k`` largest positive entries of
    ``block(cols)`` (a function returning the dense n x len(cols) block of those columns)."""
    k = min(k, n - 1) if n > 1 else 0
    step = max(1, _BLOCK_CELLS // max(n, 1))
    rows, cols, vals = [], [], []
    for lo in range(0, n if k > 0 else 0, step):
        c = np.arange(lo, min(lo + step, n))
        D = np.asarray(block(c), dtype=np.float32)
        D[c, np.arange(len(c))] = 0.0             # no title is its own neighbour
        top = np.argpartition(-D, k - 1, axis=0)[:k] if k < n else np.argsort(-D, axis=0)
        v = np.take_along_axis(D, top, 0)
        ok = v > 0
        rows.append(top[ok])
        cols.append(np.broadcast_to(c, top.shape)[ok])
        vals.append(v[ok])
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n),
                         dtype=np.float32)


class ItemKNN(ItemItemScorer):
    """Item-based nearest neighbours: cosine similarity with shrinkage on weighted interactions.

    ``sim(j, i) = w_j . w_i / (|w_j| |w_i| + shrinkage)`` over the titles' columns ``w`` of the
    users x titles matrix weighted by ``weighting`` (``none``, ``tfidf``, ``bm25`` with ``bm25_k1``,
    ``bm25_b``); shrinkage pulls similarities resting on few common users towards 0. Each title
    keeps its ``neighbours`` most similar titles; ``score(u, i) = sum_j r_uj sim(j, i)``.
    """

    def __init__(self, neighbours: int = 100, shrinkage: float = 10.0, weighting: str = "none",
                 bm25_k1: float = 1.2, bm25_b: float = 0.75):
        store_params(self, locals())

    def check_params(self) -> "ItemKNN":
        """Raise :class:`InputError` naming the first bad parameter."""
        _positive("neighbours", self.neighbours, integer=True, lo=1)
        _positive("shrinkage", self.shrinkage)
        if self.weighting not in WEIGHTINGS:
            raise InputError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {self.weighting!r}")
        _positive("bm25_k1", self.bm25_k1, strict=True)
        _positive("bm25_b", self.bm25_b)
        if self.bm25_b > 1:
            raise InputError(f"bm25_b must be in [0, 1], got {self.bm25_b!r}")
        return self

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "ItemKNN":
        self.check_params()
        X = self._fit_common(X)
        Wt = weight_interactions(X, self.weighting, self.bm25_k1, self.bm25_b).tocsc()
        norm = np.sqrt(np.asarray(Wt.multiply(Wt).sum(axis=0)).ravel())
        n = X.shape[1]

        def block(c):
            dots = (Wt.T @ Wt[:, c]).toarray()
            return dots / (norm[:, None] * norm[None, c] + self.shrinkage + 1e-12)

        self.weights_ = top_k_columns(block, n, int(self.neighbours))
        return self


class RP3beta(ItemItemScorer):
    """Random walk with restart-free three steps, popularity-penalised (RP3beta).

    ``W[j, i] = sum_v P(j -> v)^alpha P(v -> i)^alpha / pop(i)^beta`` with ``P(j -> v)`` the
    title's interactions normalised over its users, ``P(v -> i)`` the user's normalised over their
    titles and ``pop(i)`` the title's number of users; each title keeps its ``neighbours`` largest
    incoming weights. ``beta = 0`` is P3alpha; ``beta`` around 0.5 lifts the long tail. The
    defaults are the parameters ``recsys tune-model`` chose on the validation splits of both
    MovieLens 100K and the default world (docs/models.md); ``alpha = 1`` scored half as well.
    """

    def __init__(self, neighbours: int = 200, alpha: float = 0.43, beta: float = 0.5):
        self.neighbours = neighbours
        self.alpha = alpha
        self.beta = beta

    def check_params(self) -> "RP3beta":
        """Raise :class:`InputError` naming the first bad parameter."""
        _positive("neighbours", self.neighbours, integer=True, lo=1)
        _positive("alpha", self.alpha, strict=True)
        _positive("beta", self.beta)
        return self

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "RP3beta":
        self.check_params()
        X = self._fit_common(X)
        X64 = sp.csr_matrix(X, dtype=np.float64)
        user_sum = np.asarray(X64.sum(axis=1)).ravel()
        item_sum = np.asarray(X64.sum(axis=0)).ravel()
        Pu = sp.diags(np.divide(1.0, user_sum, out=np.zeros_like(user_sum), where=user_sum > 0)) @ X64  # user -> title
        Pi = (X64 @ sp.diags(np.divide(1.0, item_sum, out=np.zeros_like(item_sum), where=item_sum > 0))).T  # title -> user
        Pu, Pi = Pu.tocsc(), sp.csr_matrix(Pi)
        Pu.data **= self.alpha
        Pi.data **= self.alpha
        degree = np.diff(X.tocsc().indptr).astype(np.float64)
        penalty = np.divide(1.0, degree ** self.beta, out=np.zeros_like(degree), where=degree > 0)

        def block(c):
            return (Pi @ Pu[:, c]).toarray() * penalty[c]

        self.weights_ = top_k_columns(block, X.shape[1], int(self.neighbours))
        return self
