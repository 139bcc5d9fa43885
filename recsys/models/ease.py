"""EASE (Steck, "Embarrassingly shallow autoencoders for sparse data", WWW 2019).

A linear item-item model fitted in closed form: the titles x titles ``B`` minimising
``|X - X B|^2 + l2 |B|^2`` with a zero diagonal (no title predicts itself) is

    P = (X'X + l2 I)^-1,    B = I - P diag(1 / diag(P)),    diag(B) = 0,

and ``score(u) = r_u B``. One dense inversion of a titles x titles matrix: seconds for a few
thousand titles, but memory grows with the square of the catalogue, so ``max_items`` guards it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from recsys.core.errors import InputError
from recsys.models.neighbours import ItemItemScorer, _positive


class EASE(ItemItemScorer):
    """Closed-form item-item regression with an L2 penalty ``l2`` (module docstring).

    ``max_items`` (default 12,000) refuses catalogues whose float64 Gram matrix and inverse
    would not fit comfortably in memory (about ``3 x 8 x titles^2`` bytes at the peak).
    """

    def __init__(self, l2: float = 200.0, max_items: int = 12_000):
        self.l2 = l2
        self.max_items = max_items

    def check_params(self) -> "EASE":
        """Raise :class:`InputError` naming the first bad parameter."""
        _positive("l2", self.l2, strict=True)
        _positive("max_items", self.max_items, integer=True, lo=1)
        return self

    def fit(self, X: sp.csr_matrix, items: pd.DataFrame | None = None) -> "EASE":
        self.check_params()
        n = X.shape[1]
        if n > self.max_items:
            raise InputError(f"EASE holds a dense titles x titles matrix: {n:,} titles need about "
                             f"{3 * 8 * n * n / 1e9:.1f} GB; the limit is max_items={self.max_items:,} "
                             "(raise it if the memory is there, or use itemknn)")
        X = self._fit_common(X)
        G = (X.T @ X).toarray().astype(np.float64)
        G[np.diag_indices(n)] += self.l2
        # G is symmetric positive definite: invert through its Cholesky factor (LAPACK potrf,
        # potri: about 1.5x faster than a general inverse), which fills the upper triangle
        C, info = scipy.linalg.lapack.dpotrf(G, lower=False, overwrite_a=True)
        if info == 0:
            C, info = scipy.linalg.lapack.dpotri(C, lower=False, overwrite_c=True)
        if info != 0:  # pragma: no cover - l2 > 0 makes G positive definite
            raise InputError(f"EASE: the regularised Gram matrix is not invertible (LAPACK info {info})")
        P = np.triu(C) + np.triu(C, 1).T
        del C, G
        B = P / -np.diag(P)[None, :]
        B[np.diag_indices(n)] = 0.0
        self.weights_ = B.astype(np.float32)
        return self
