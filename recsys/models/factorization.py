"""Matrix factorisation from ``implicit`` (not re-implemented): ALS and BPR as scorers.

Both fit on the users x titles matrix of play weights (watch share, see
:mod:`recsys.models.data`). BLAS is held to one thread while implicit's own OpenMP threads run.
ALS is reproducible with any thread count; BPR's parallel SGD (Hogwild) is not, so BPR runs
one thread by default and is then reproducible for a given ``random_state``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from sklearn.utils import check_random_state

from recsys.core.params import store_params
from recsys.models._threads import n_threads, single_threaded_blas
from recsys.models.base import FactorScorer


def _seed(random_state) -> int:
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


class _Implicit(FactorScorer):
    """A factor model trained by the ``implicit`` library: the item vectors carry the popularity prior
    as a last column; known users keep their trained factors."""

    def _model(self):
        """The implicit model, built from this estimator's parameters (the same names)."""
        params = self.get_params(deep=False)
        params.update(num_threads=n_threads(self.num_threads), random_state=_seed(self.random_state))
        return self._implicit(**params)

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None):
        X = self._fit_common(X)
        with single_threaded_blas():
            model = self._model()
            self._train(model, X)
        self.model_ = model
        self.item_vectors_ = np.hstack([model.item_factors, self.prior_[:, None]]).astype(np.float32)
        return self

    def _warm_vectors(self, users):
        return self.model_.user_factors[users]


class ALS(_Implicit):
    """Implicit-feedback ALS (Hu, Koren and Volinsky 2008) via ``implicit.cpu.als``.

    Confidence is ``1 + alpha * weight``. New users are folded in with implicit's exact
    least-squares user solve against the fitted item factors. The defaults suit tens of plays
    per user (the synthetic world, MovieLens 100K); sparse data wants fewer factors and more
    regularisation, see docs/models.md.
    """

    _implicit = AlternatingLeastSquares

    def __init__(self, factors: int = 32, regularization: float = 1.0, alpha: float = 20.0,
                 iterations: int = 15, num_threads: int = 0, random_state=None):
        store_params(self, locals())

    def _train(self, model, X: sp.csr_matrix) -> None:
        model.fit(X, show_progress=False)

    def _fold_in(self, R):
        with single_threaded_blas():
            return self.model_.recalculate_user(np.arange(R.shape[0]), sp.csr_matrix(R, dtype=np.float32))


class BPR(_Implicit):
    """Bayesian personalised ranking (Rendle et al. 2009) via ``implicit.cpu.bpr``.

    implicit keeps an item bias as the last factor (user side fixed at 1), so the item vectors
    carry it. The learning rate (0.005, with 100 epochs) matters most: on the planted data and
    the world's warm-up plays, 0.05 (or 200 epochs at 0.01) overfits towards near-random
    rankings, and 0.0025 learns little beyond the popularity bias. New users are folded in by a ridge projection of their history onto the item
    factors, ``u = (V'V + l I)^-1 V' x``.
    """

    _implicit = BayesianPersonalizedRanking

    def __init__(self, factors: int = 64, learning_rate: float = 0.005, regularization: float = 0.01,
                 iterations: int = 100, num_threads: int = 1, random_state=None):
        store_params(self, locals())

    def _train(self, model, X: sp.csr_matrix) -> None:
        if X.nnz:
            model.fit(X, show_progress=False)
        else:  # nothing to learn from: zero factors, the popularity prior answers
            model.user_factors = np.zeros((X.shape[0], self.factors + 1), np.float32)
            model.item_factors = np.zeros((X.shape[1], self.factors + 1), np.float32)

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "BPR":
        super().fit(X, items)
        V = self.model_.item_factors[:, :-1].astype(np.float64)
        self._project_ = (V @ np.linalg.inv(V.T @ V + max(self.regularization, 1e-3) * len(V) * np.eye(V.shape[1]))).astype(np.float32)
        return self

    def _fold_in(self, R):
        u = np.asarray(R @ self._project_, dtype=np.float32)
        return np.hstack([u, np.ones((len(u), 1), np.float32)])
