"""Top-n selection for a batch of users.

Scores are computed densely for a chunk of users at a time (a BLAS matrix product for a
:class:`~recsys.models.base.FactorScorer`, ``score`` for any other scorer) and cut by a per-user
threshold before sorting the survivors (:func:`_select`). For catalogs up to
:data:`DENSE_ITEMS_MAX` titles this beats implicit's heap-based batch top-k with the ~100
candidates a homepage needs; larger catalogs use implicit's own top-k, which never holds a
chunk's scores whole. Equal scores are ordered by title id on the dense path.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp

from recsys.models._threads import n_threads

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
_CHUNK_CELLS = 4_000_000  # users x titles scored at once on the dense path (16 MB: stays in cache)
_SAMPLE_EVERY = 16        # the threshold is estimated on one title in this many
_SAMPLE_MARGIN = 2.0      # ... aiming at this many times k candidates per user


@functools.lru_cache(maxsize=8)
def _sample_columns(m: int) -> np.ndarray:
    """A fixed spread of ``m // _SAMPLE_EVERY`` title ids (seeded: the same for every call)."""
    b = max(m // _SAMPLE_EVERY, 1)
    cols = np.sort(np.random.default_rng(0).choice(m, b, replace=False))
    cols.flags.writeable = False  # cached: shared by every call
    return cols


def _sample_thresholds(S: np.ndarray, k: int) -> np.ndarray:
    """Per row, the value that about ``_SAMPLE_MARGIN * k`` scores reach, estimated from a sample of titles.

    Usually below the row's ``k``-th largest; :func:`_select` checks, and takes the exact k-th
    value for rows where it is not.
    """
    m = S.shape[1]
    cols = _sample_columns(m)
    r = int(np.ceil(_SAMPLE_MARGIN * k * len(cols) / m))
    if r >= len(cols):
        return np.full(len(S), -np.inf, dtype=S.dtype)
    return np.partition(S[:, cols], len(cols) - r, axis=1)[:, len(cols) - r]


def _at_least(S: np.ndarray, thr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, score) of every finite score ``>= thr`` of its row, row by row, columns ascending."""
    thr = np.maximum(thr, -np.finfo(np.float32).max)  # filtered titles (-inf) never pass
    keep = np.flatnonzero(S >= thr[:, None])
    rows, cols = np.divmod(keep, S.shape[1])
    return rows, cols, S.ravel()[keep]


def _select(S: np.ndarray, k: int, excl: np.ndarray | None = None,
            cells: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` columns of each row of ``S`` (modified in place), best first, ties by id.

    Instead of partitioning every row (a full pass of ``argpartition``), the scores below a
    per-row threshold (:func:`_sample_thresholds`) are dropped in one vectorised comparison and
    only the few hundred survivors per row are sorted: about 2.5x faster at 20,000 titles. Rows
    where fewer than ``k`` survive are redone with their exact k-th score, so the result does not
    depend on the sample. Rows with fewer than ``k`` finite scores are padded with -inf.
    """
    if excl is not None:
        S[:, excl] = -np.inf
    if cells is not None:  # (rows, columns) left out per user
        S[cells] = -np.inf
    n, m = S.shape
    if k == 0 or n == 0 or m == 0:
        return np.zeros((n, k), np.int64), np.full((n, k), -np.inf, S.dtype)
    if _SAMPLE_MARGIN * k >= m:  # nearly every title is a candidate: sort whole rows
        ids = np.argsort(-S, axis=1, kind="stable")[:, :k]
        sc = np.take_along_axis(S, ids, 1)
        if ids.shape[1] < k:
            ids = np.pad(ids, ((0, 0), (0, k - ids.shape[1])))
            sc = np.pad(sc, ((0, 0), (0, k - sc.shape[1])), constant_values=-np.inf)
        return ids, sc
    rows, cols, vals = _at_least(S, _sample_thresholds(S, k))
    counts = np.bincount(rows, minlength=n)
    short = np.flatnonzero(counts < k)
    if len(short):  # the sample's threshold was above the k-th score: redo those rows exactly
        ok = counts[rows] >= k
        r2, c2, v2 = _at_least(S[short], np.partition(S[short], m - k, axis=1)[:, m - k])
        rows = np.concatenate([rows[ok], short[r2]])
        cols, vals = np.concatenate([cols[ok], c2]), np.concatenate([vals[ok], v2])
        counts[short] = np.bincount(r2, minlength=len(short))
    # each row's survivors are contiguous in ``rows`` (not necessarily in row order)
    first = np.r_[True, rows[1:] != rows[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
    pos = np.arange(len(rows)) - start
    width = max(int(counts.max()), k)
    P = np.full((n, width), -np.inf, dtype=S.dtype)
    C = np.zeros((n, width), dtype=np.int64)
    P[rows, pos] = vals
    C[rows, pos] = cols
    order = np.argsort(-P, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(C, order, 1), np.take_along_axis(P, order, 1)


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


def is_factor(scorer) -> bool:
    """Whether ``scorer`` scores by a dot product (a :class:`~recsys.models.base.FactorScorer`:
    ``user_vectors`` and ``item_vectors_``), so top-n can run on its factors."""
    return callable(getattr(scorer, "user_vectors", None)) and getattr(scorer, "item_vectors_", None) is not None


def top_n(scorer, users: np.ndarray, X: sp.csr_matrix | None = None, n: int = 10, *,
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
    factor = is_factor(scorer)
    if factor and n_items > DENSE_ITEMS_MAX:
        ids, scores = _implicit_top_n(scorer, users, X, k, filter, excl, num_threads, user_vectors)
    else:
        U, keep = None, None
        if factor:
            U = np.asarray(scorer.user_vectors(users, X) if user_vectors is None else user_vectors, dtype=np.float32)
            V = np.asarray(scorer.item_vectors_, dtype=np.float32)
            if excl is not None and len(users) * len(excl) > n_items:
                # excluded titles are not scored (saves more than copying the kept titles' vectors)
                keep = np.setdiff1d(np.arange(n_items), excl)
                V = V[keep]
                local = np.full(n_items, -1, dtype=np.int64)
                local[keep] = np.arange(len(keep))
                excl = None
            chunk = max(1, min(chunk, _CHUNK_CELLS // max(n_items, 1)))
        ids = np.full((len(users), k), -1, dtype=np.int32)
        scores = np.full((len(users), k), -np.inf, dtype=np.float32)
        if filter is not None:  # the filtered cells as (row, column) arrays, rows ascending
            filter = sp.csr_matrix(filter)
            f_ptr = filter.indptr
            f_rows = np.repeat(np.arange(filter.shape[0]), np.diff(f_ptr))
            f_cols = filter.indices if keep is None else local[filter.indices]
        for start in range(0, len(users) if k else 0, chunk):
            sl = slice(start, start + chunk)
            S = U[sl] @ V.T if factor else np.asarray(scorer.score(users[sl], X), dtype=np.float32).copy()
            cells = None
            if filter is not None:
                lo, hi = f_ptr[start], f_ptr[min(start + chunk, len(users))]
                r, c = f_rows[lo:hi] - start, f_cols[lo:hi]
                cells = (r[c >= 0], c[c >= 0])
            ids[sl], scores[sl] = _select(S, k, excl, cells)
            if keep is not None:
                ids[sl] = keep[ids[sl]]
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
