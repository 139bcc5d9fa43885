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

Item-item collaborative filters (:class:`~recsys.models.neighbours.ItemKNN`,
:class:`~recsys.models.neighbours.RP3beta`, :class:`~recsys.models.ease.EASE`) are not dot
products of small vectors; :class:`DenseHybrid` blends them the same way, standardising each
component's dense score block per user. :func:`make_hybrid` picks the class for a CF model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils import check_random_state

from recsys.core.params import store_params
from recsys.models.base import FactorScorer, Scorer, rows_for
from recsys.models.content import Content
from recsys.models.factorization import ALS
from recsys.models.neighbours import ItemKNN


def _with_seed(est, rs):
    est = clone(est)
    if "random_state" in est.get_params(deep=False) and est.random_state is None:
        est.set_params(random_state=int(rs.randint(2**31 - 1)))
    return est


class _Blend:
    """The blend weights shared by :class:`Hybrid` and :class:`DenseHybrid`."""

    def blend_weights(self, n_history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cf, content, popularity) weights for users with ``n_history`` distinct titles."""
        n = np.asarray(n_history, dtype=np.float64)
        h = n / (n + self.shrinkage) if self.shrinkage > 0 else (n > 0).astype(np.float64)
        return self.cf_weight * h, self.content_weight * (n > 0), self.popularity_weight * (1.0 - h)


def _zpop(X: sp.csr_matrix) -> np.ndarray:
    lp = np.log1p(np.asarray(X.sum(axis=0)).ravel())
    sd = lp.std()
    return (lp - lp.mean()) / sd if sd > 0 else np.zeros_like(lp)


class Hybrid(_Blend, FactorScorer):
    """CF + content + popularity, weighted by the amount of history (module docstring)."""

    def __init__(self, cf=None, content=None, cf_weight: float = 1.0, content_weight: float = 0.35,
                 popularity_weight: float = 0.5, shrinkage: float = 5.0, random_state=None):
        store_params(self, locals())

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
        zpop = _zpop(X)
        n = X.shape[1]
        self.item_vectors_ = np.hstack(parts + [zpop[:, None], np.ones((n, 1)), self.prior_[:, None]]).astype(np.float32)
        return self

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


def _standardise(S: np.ndarray) -> np.ndarray:
    """Per-row z-scores over the columns, float32, in place when ``S`` is a float32 array the
    caller owns (rows with no spread give 0)."""
    S = np.asarray(S, dtype=np.float32)
    if not (S.flags.owndata and S.flags.writeable):  # never write into a scorer's own arrays
        S = S.copy()
    S -= S.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    sd = np.sqrt(np.einsum("ij,ij->i", S, S, dtype=np.float64) / max(S.shape[1], 1)).astype(np.float32)
    flat = sd <= 1e-9
    np.divide(S, sd[:, None], out=S, where=~flat[:, None])
    S[flat] = 0.0
    return S


class DenseHybrid(_Blend, Scorer):
    """The hybrid's blend for any component scorers, item-item CF models included.

    The same parameters, weights and cold-start behaviour as :class:`Hybrid`; each component's
    scores are computed densely for the batch and standardised per user over the catalogue
    (exactly what :class:`Hybrid` computes in closed form), so with ALS as ``cf`` both give the
    same scores. ``cf`` defaults to :class:`~recsys.models.neighbours.ItemKNN`; a tuple of
    scorers is an ensemble, whose CF score is the standardised mean of their z-scores.
    """

    def __init__(self, cf=None, content=None, cf_weight: float = 1.0, content_weight: float = 0.35,
                 popularity_weight: float = 0.5, shrinkage: float = 5.0, random_state=None):
        store_params(self, locals())

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "DenseHybrid":
        X = sp.csr_matrix(X, dtype=np.float32)
        self.n_users_, self.n_items_ = X.shape
        self.n_history_ = np.diff(X.indptr).astype(np.int32)
        counts = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
        self.prior_ = (counts / counts.sum() if counts.sum() > 0 else np.full(X.shape[1], 1.0 / max(X.shape[1], 1))
                       ).astype(np.float32)
        rs = check_random_state(self.random_state)
        cf = self.cf if self.cf is not None else ItemKNN()
        parts = tuple(cf) if isinstance(cf, (tuple, list)) else (cf,)
        if not parts:
            raise ValueError("DenseHybrid needs at least one CF model")
        self.cf_ = [_with_seed(m, rs).fit(X, items) for m in parts]
        self.content_ = None
        if items is not None and self.content_weight > 0:
            self.content_ = _with_seed(self.content if self.content is not None else Content(), rs).fit(X, items)
        self.zpop_ = _zpop(X).astype(np.float32)
        return self

    def _cf_scores(self, users: np.ndarray, X: sp.csr_matrix | None) -> np.ndarray:
        if len(self.cf_) == 1:
            return self.cf_[0].score(users, X)
        total = _standardise(self.cf_[0].score(users, X))
        for m in self.cf_[1:]:
            total += _standardise(m.score(users, X))
        return total

    def history_counts(self, users: np.ndarray, X: sp.csr_matrix | None = None) -> np.ndarray:
        """Distinct titles of history per user: fitted, or from ``X`` for users without fitted history."""
        users = np.asarray(users, dtype=np.int64)
        known = (users >= 0) & (users < self.n_users_)
        counts = np.zeros(len(users), dtype=np.int32)
        counts[known] = self.n_history_[users[known]]
        fold = counts == 0
        if fold.any():
            counts[fold] = np.diff(rows_for(users[fold], X, self.n_items_).indptr)
        return counts

    def score(self, users: np.ndarray, X: sp.csr_matrix | None = None, items: np.ndarray | None = None) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        cols = slice(None) if items is None else np.asarray(items)
        w_cf, w_ct, w_pop = self.blend_weights(self.history_counts(users, X))
        out = w_pop.astype(np.float32)[:, None] * self.zpop_[cols][None, :]
        for w, scores in ((w_cf, self._cf_scores), (w_ct, self.content_.score if self.content_ is not None else None)):
            if scores is not None and (w != 0).any():
                z = _standardise(scores(users, X))
                z = z if items is None else z[:, cols]
                z *= w.astype(np.float32)[:, None]
                out += z
        cold = ~(out != 0).any(axis=1)
        if cold.any():  # nothing to go on (no history, no popularity weight): the popularity prior
            out[cold] = self.prior_[cols]
        return out

    def recommend(self, users, X=None, n=10, filter_seen=True, exclude=None):
        from recsys.models.topn import top_n

        users = np.asarray(users, dtype=np.int64)
        seen = rows_for(users, X, self.n_items_) if filter_seen else None
        return top_n(self, users, X, n, filter=seen, exclude=exclude, chunk=max(1, 2_000_000 // max(self.n_items_, 1)))


def make_hybrid(cf=None, content=None, **params) -> Hybrid | DenseHybrid:
    """A :class:`Hybrid` when ``cf`` is a dot-product model (ALS, BPR; the default), else a
    :class:`DenseHybrid` with the same parameters."""
    cls = Hybrid if cf is None or isinstance(cf, FactorScorer) else DenseHybrid
    return cls(cf, content, **params)
