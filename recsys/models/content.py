"""Content scoring: a metadata profile per user, cosine-scored against every title.

Titles are described by public metadata only (:func:`recsys.models.features.item_features`),
so a title with no plays at all (a new release) is scored like any other: this is the
recommender's answer to the new-title cold start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.utils import check_random_state

from recsys.core.params import store_params
from recsys.models.base import FactorScorer
from recsys.models.features import item_features


def _unit_rows(A: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(A, axis=1, keepdims=True)
    return np.divide(A, norm, out=np.zeros_like(A), where=norm > 0).astype(np.float32)


class Content(FactorScorer):
    """Cosine between a user's profile and each title's metadata features.

    The profile is the play-weighted sum of the features of the titles in the user's history.
    When the feature space is wider than ``n_components`` (cast lists make it so), it is first
    reduced by a truncated SVD (latent semantic analysis) so that scoring is one dense product;
    narrower spaces (e.g. MovieLens genres) are used as they are. Block weights set how much
    genres, cast, runtime band, kind and popularity band each count.
    """

    def __init__(self, genre_weight: float = 1.0, cast_weight: float = 0.5, runtime_weight: float = 0.3,
                 kind_weight: float = 0.3, popularity_weight: float = 0.2, n_components: int = 64,
                 random_state=None):
        store_params(self, locals())

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "Content":
        if items is None:
            raise ValueError("Content needs the items frame (public metadata) to fit")
        X = self._fit_common(X)
        counts = np.diff(X.tocsc().indptr)
        F = item_features(items, X.shape[1], counts, genre_weight=self.genre_weight,
                          cast_weight=self.cast_weight, runtime_weight=self.runtime_weight,
                          kind_weight=self.kind_weight, popularity_weight=self.popularity_weight)
        if F.shape[1] > self.n_components:
            svd = TruncatedSVD(self.n_components, algorithm="randomized", n_iter=5,
                               random_state=check_random_state(self.random_state).randint(2**31 - 1))
            E = svd.fit_transform(F)
        else:
            E = F.toarray()
        self.features_ = F
        E = _unit_rows(np.asarray(E, dtype=np.float32))
        self.item_vectors_ = np.hstack([E, self.prior_[:, None]]).astype(np.float32)
        self.user_profiles_ = self._profiles(X)
        return self

    def _profiles(self, R: sp.csr_matrix) -> np.ndarray:
        return _unit_rows(np.asarray(R @ self.item_vectors_[:, :-1], dtype=np.float32))

    def _warm_vectors(self, users):
        return self.user_profiles_[users]

    def _fold_in(self, R):
        return self._profiles(sp.csr_matrix(R, dtype=np.float32))

    def item_embedding(self) -> np.ndarray:
        return self.item_vectors_[:, :-1].copy()


