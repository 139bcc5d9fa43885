"""Top-n selection for a batch of users.

Scores are computed densely for a chunk of users at a time (a BLAS matrix product for a
:class:`~recsys.models.base.FactorScorer`, ``score`` for any other scorer) and cut with
``argpartition``: for catalogs up to :data:`DENSE_ITEMS_MAX` titles this is about 4x faster than
implicit's heap-based batch top-k with the ~100 candidates a homepage needs (measured: 2,000
users x 3,000 titles x 85 factors, k = 116: 0.085 s against 0.33 s, one thread). Larger catalogs
use implicit's own top-k, which never holds a chunk's scores whole.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.models._threads import n_threads
from recsys.models.base import FactorScorer, Scorer

_FILTERED = -1e37  # implicit marks filtered slots with -FLT_MAX


def _exclude_ids(exclude: np.ndarray | None, n_items: int) -> np.ndarray | None:
    if exclude is None:
        return None
    exclude = np.asarray(exclude)
    if exclude.dtype == bool:
        exclude = np.flatnonzero(exclude)
    return exclude.astype(np.int32) if len(exclude) else None


OVERFETCH_MAX = 64
DENSE_ITEMS_MAX = 50_000
_CHUNK_CELLS = 8_000_000  # users x titles scored at once on the dense path


def _select(S: np.ndarray, k: int, excl: np.ndarray | None, F: sp.csr_matrix | None) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` columns of each row of ``S`` (modified in place), best first."""
    if excl is not None:
        S[:, excl] = -np.inf
    if F is not None and F.nnz:
        S[np.repeat(np.arange(F.shape[0]), np.diff(F.indptr)), F.indices] = -np.inf
    m = S.shape[1]
    top = np.argpartition(S, m - k, axis=1)[:, m - k:] if k < m else np.broadcast_to(np.arange(m), S.shape).copy()
    order = np.argsort(-np.take_along_axis(S, top, 1), axis=1, kind="stable")
    ids = np.take_along_axis(top, order, 1)
    return ids, np.take_along_axis(S, ids, 1)


def _drop(ids: np.ndarray, scores: np.ndarray, filt: sp.csr_matrix, width: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's filtered titles from its list (keeping order) and cut to ``k``."""
    n = len(ids)
    pad = np.full((n, width), -2, dtype=np.int64)
    counts = np.diff(filt.indptr)
    pos = np.arange(filt.nnz) - np.repeat(filt.indptr[:-1], counts)
    pad[np.repeat(np.arange(n), counts), pos] = filt.indices
    bad = (ids[:, :, None] == pad[:, None, :]).any(-1)
    order = np.argsort(bad, axis=1, kind="stable")[:, :k]
    ids = np.take_along_axis(ids, order, 1)
    scores = np.take_along_axis(scores, order, 1)
    gone = np.take_along_axis(bad, order, 1)
    ids[gone] = -1
    scores[gone] = -np.inf
    return ids, scores


def top_n(scorer: Scorer, users: np.ndarray, X: sp.csr_matrix | None = None, n: int = 10, *,
          filter: sp.csr_matrix | None = None, exclude: np.ndarray | None = None,
          num_threads: int = 0, chunk: int = 2048, user_vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` titles per user, best first: ids (m, n) int32 (-1 pads) and scores float32 (-inf pads).

    ``X``: history indexed by user id, passed to the scorer (fold-in for new users).
    ``filter``: CSR with one row per user of titles to leave out (e.g. already watched).
    ``exclude``: title ids (or a boolean mask) to leave out for everyone (e.g. not yet released).
    ``user_vectors``: the factor scorer's ``user_vectors(users, X)`` when already computed.
    """
    users = np.asarray(users, dtype=np.int64)
    n_items = scorer.n_items_
    excl = _exclude_ids(exclude, n_items)
    n = max(int(n), 0)
    k = min(n, n_items)
    factor = isinstance(scorer, FactorScorer)
    if factor and n_items > DENSE_ITEMS_MAX:
        ids, scores = _implicit_top_n(scorer, users, X, k, filter, excl, num_threads, user_vectors)
    else:
        U = None
        if factor:
            U = np.asarray(scorer.user_vectors(users, X) if user_vectors is None else user_vectors, dtype=np.float32)
            V = np.asarray(scorer.item_vectors_, dtype=np.float32)
            chunk = max(1, min(chunk, _CHUNK_CELLS // max(n_items, 1)))
        ids = np.full((len(users), k), -1, dtype=np.int32)
        scores = np.full((len(users), k), -np.inf, dtype=np.float32)
        for start in range(0, len(users) if k else 0, chunk):
            sl = slice(start, start + chunk)
            S = U[sl] @ V.T if factor else np.asarray(scorer.score(users[sl], X), dtype=np.float32).copy()
            F = None if filter is None else sp.csr_matrix(filter[sl])
            ids[sl], scores[sl] = _select(S, k, excl, F)
    bad = ~(scores > _FILTERED)
    ids[bad] = -1
    scores[bad] = -np.inf
    if ids.shape[1] < n:
        ids = np.pad(ids, ((0, 0), (0, n - ids.shape[1])), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, n - scores.shape[1])), constant_values=-np.inf)
    return ids, scores


def _implicit_top_n(scorer, users, X, k, filter, excl, num_threads, user_vectors):
    """implicit's native batch top-k (large catalogs: scores never held whole)."""
    from implicit.cpu.topk import topk

    U = np.ascontiguousarray(scorer.user_vectors(users, X) if user_vectors is None else user_vectors,
                             dtype=np.float32)
    V = np.ascontiguousarray(scorer.item_vectors_, dtype=np.float32)
    filt = None if filter is None else sp.csr_matrix(filter, dtype=np.float32)
    # implicit filters per-user titles row by row in Python; with short filter rows (recent
    # plays) it is faster to fetch that many more and drop them here, vectorised
    width = 0 if filt is None or filt.nnz == 0 else int(np.diff(filt.indptr).max())
    overfetch = filt is not None and width <= OVERFETCH_MAX
    if k == 0 or len(users) == 0:
        return np.zeros((len(users), 0), np.int32), np.zeros((len(users), 0), np.float32)
    ids, scores = topk(V, U, min(k + width, scorer.n_items_) if overfetch else k,
                       filter_query_items=None if overfetch else filt, filter_items=excl,
                       num_threads=n_threads(num_threads))
    ids = np.asarray(ids, dtype=np.int32).reshape(len(users), -1)
    scores = np.asarray(scores, dtype=np.float32).reshape(len(users), -1)
    if overfetch and width:
        ids, scores = _drop(ids, scores, filt, width, k)
    return ids, scores
