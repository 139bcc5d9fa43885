"""Re-rankers: diversity (MMR), calibration to the user's genre mix, long-tail / new-title boost.

Each is a small component with one ``weight``; 0 leaves the ranking untouched. They work on a
batch of candidate lists at once, ``cand`` (n, M) title ids best first (-1 = none) with
relevance ``rel`` (n, M), and are combined greedily by :func:`rerank`: position by position,
each user takes the candidate maximising

    r(i) + sum over re-rankers of weight * gain(i | titles already chosen)

where ``r`` is the relevance min-max scaled to [0, 1] within the user's list. The loop runs
over output positions, never over users. Gains:

* :class:`Diversity` (MMR, Carbonell and Goldstein 1998): ``-max similarity`` to the titles
  already chosen, cosine over genres, over latent item vectors, or over the titles' audiences
  (who played them, :func:`audience_embedding`);
* :class:`Calibration` (Steck 2018): ``-KL(p || q~)`` between the user's genre mix ``p`` and that
  of the list so far with the candidate added, ``q~ = (1 - a) q + a p`` (a = 0.01);
* :class:`LongTail`: a fixed bonus, 1 - popularity percentile, and 1 for a title released
  within ``new_days`` of the day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import randomized_svd



#: rank of the audience embedding (:func:`audience_embedding`)
AUDIENCE_RANK = 64


def audience_embedding(X: sp.spmatrix, rank: int = AUDIENCE_RANK, random_state: int = 0) -> np.ndarray:
    """(T, d) title vectors whose dot products approximate the cosine similarity of the titles'
    audiences: the columns of the binary users x titles play matrix ``X`` (who played each title).

    Two titles are alike when the same people watch them (item-item cosine, Sarwar et al. 2001).
    Audiences of popular titles overlap by sheer size, so popular titles are alike and a title
    few people watch is alike to almost nothing. The exact T x T matrix is replaced by its best
    rank-``d`` approximation (``d = min(rank, T - 1)``): with ``X~`` the column-normalised binary
    matrix and ``X~ = U S V'`` its truncated SVD, the vectors are the rows of ``V S``, so
    ``V S^2 V'`` approximates ``X~' X~``. Rows have norm at most 1 (a title with no play: 0),
    so similarities stay in [-1, 1] (in practice near [0, 1]). The randomized SVD (Halko et al.
    2011) is seeded, so the result is reproducible.
    """
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    X.eliminate_zeros()
    X.data[:] = 1.0
    n_users, n_items = X.shape
    d = max(1, min(int(rank), n_items - 1, n_users - 1))
    if X.nnz == 0 or n_items < 2 or n_users < 2:
        return np.zeros((n_items, d), dtype=np.float32)
    norm = np.sqrt(np.asarray(X.sum(axis=0)).ravel())
    Xn = X @ sp.diags(np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0))
    _, s, vt = randomized_svd(Xn, d, n_iter=5, random_state=random_state)
    return np.ascontiguousarray((vt.T * s).astype(np.float32))


@dataclass(frozen=True, eq=False)
class ItemInfo:
    """Public per-title facts the re-rankers read (built once per fit)."""

    genres: sp.csr_matrix            # (T, G) 0/1
    popularity: np.ndarray           # (T,) training interaction mass
    release_day: np.ndarray | None = None   # (T,) int, or None when unknown
    embedding: np.ndarray | None = None     # (T, d) unit rows for latent similarity
    audience: np.ndarray | None = None      # (T, d) audience vectors (audience_embedding), if a re-ranker reads them

    @property
    def n_items(self) -> int:
        return self.genres.shape[0]

    # derived arrays, cached on first use
    def _cached(self, name, make):
        cache = self.__dict__.setdefault("_cache", {})
        if name not in cache:
            cache[name] = make()
        return cache[name]

    def genre_slots(self) -> tuple[np.ndarray, np.ndarray]:
        """Genres of each title as (T, J) indices (-1 pads, read as genre 0 with weight 0) and
        (T, J) weights of the title's genre distribution (1 / number of genres)."""
        def make():
            g = self.genres.tocsr()
            counts = np.diff(g.indptr)
            J = max(int(counts.max()) if len(counts) else 0, 1)
            pos = np.arange(len(g.indices)) - np.repeat(g.indptr[:-1], counts)
            idx = np.zeros((self.n_items, J), dtype=np.int64)
            w = np.zeros((self.n_items, J), dtype=np.float64)
            rows = np.repeat(np.arange(self.n_items), counts)
            idx[rows, pos] = g.indices
            w[rows, pos] = 1.0 / counts[rows]
            return idx, w
        return self._cached("genre_slots", make)

    def genre_unit(self) -> np.ndarray:
        return self._cached("genre_unit", lambda: normalize(self.genres).toarray().astype(np.float32))

    def audience_vectors(self) -> np.ndarray | None:
        return self.audience

    def tail_score(self) -> np.ndarray:
        """1 - popularity percentile (0 for the most played title, near 1 for unplayed ones)."""
        def make():
            ranks = pd.Series(self.popularity).rank(method="average", pct=True).to_numpy()
            return (1.0 - ranks).astype(np.float32)
        return self._cached("tail", make)


@dataclass(frozen=True, eq=False)
class RerankContext:
    """Per-batch facts: each user's genre mix (n, G) and the day (for new titles)."""

    genre_profile: np.ndarray | None = None
    day: int | None = None


class Reranker(BaseEstimator):
    """One re-ranking term: ``gain`` per candidate given the titles chosen so far.

    Components in scikit-learn's manner: ``__init__`` stores the parameters (one ``weight``
    and a few options), ``fit(info)`` keeps the item facts, so ``sklearn.base.clone`` works.
    """

    static = False  # True when the gain does not depend on what was chosen

    def __init__(self, weight: float = 0.0):
        self.weight = weight

    def fit(self, info: ItemInfo) -> "Reranker":
        self.info_ = info
        return self

    def start(self, cand: np.ndarray, ctx: RerankContext) -> dict:
        return {}

    def gain(self, state: dict) -> np.ndarray:
        raise NotImplementedError

    def update(self, state: dict, rows: np.ndarray, picked: np.ndarray) -> None:
        """``picked`` (n,) positions in ``cand`` just chosen for each user."""

    def rerank(self, cand: np.ndarray, rel: np.ndarray, ctx: RerankContext | None = None,
               k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return rerank(cand, rel, [self], ctx, k)


SIMILARITIES = ("genre", "latent", "audience")


class Diversity(Reranker):
    """MMR: penalise a candidate by its highest similarity to a title already chosen.

    ``similarity``: "genre" (cosine of genre vectors), "latent" (cosine of the item embedding
    given in :class:`ItemInfo`, e.g. CF item factors) or "audience" (cosine of the titles'
    audiences in the logs, :func:`audience_embedding`).

    The choice decides *what* a varied list varies. Genre and latent cosines spread the list
    over tastes: the best candidates of the user's other genres, which in a user's candidate
    list are mostly the catalogue's popular titles, the same for everyone. The audience cosine
    counts two popular titles as redundant (their audiences overlap) and a title with a small
    audience of its own as new, so it spreads the list away from what everyone watches
    (docs/tune.md, "What the world does").
    """

    def __init__(self, weight: float = 0.0, similarity: str = "genre"):
        self.weight = weight
        self.similarity = similarity

    def fit(self, info):
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {self.similarity!r}: use {', '.join(SIMILARITIES)}")
        if self.similarity == "latent" and info.embedding is None:
            raise ValueError("latent similarity needs ItemInfo.embedding")
        if self.similarity == "audience" and info.audience is None:
            raise ValueError("audience similarity needs ItemInfo.audience (a Pipeline builds it when a re-ranker reads it)")
        return super().fit(info)

    def _embedding(self) -> np.ndarray:
        if self.similarity == "genre":
            return self.info_.genre_unit()
        if self.similarity == "audience":
            return self.info_.audience_vectors()
        return self.info_.embedding

    def start(self, cand, ctx):
        E = self._embedding()
        emb = E[np.maximum(cand, 0)] * (cand >= 0)[:, :, None]
        return {"emb": np.ascontiguousarray(emb, dtype=np.float32), "maxsim": np.zeros(cand.shape, dtype=np.float32)}

    def gain(self, state):
        return -state["maxsim"]

    def update(self, state, rows, picked):
        emb = state["emb"]
        sim = np.matmul(emb, emb[rows, picked][:, :, None])[:, :, 0]   # (n, M) cosines
        np.maximum(state["maxsim"], sim, out=state["maxsim"])


class Calibration(Reranker):
    """Steck (2018): keep the list's genre mix close to the user's (KL divergence)."""

    def __init__(self, weight: float = 0.0, alpha: float = 0.01):
        self.weight = weight
        self.alpha = alpha

    def start(self, cand, ctx):
        G = max(self.info_.genres.shape[1], 1)
        n = cand.shape[0]
        prof = None if ctx is None else ctx.genre_profile
        if prof is None or self.info_.genres.shape[1] == 0:
            p = np.zeros((n, G), dtype=np.float32)
        else:
            prof = np.asarray(prof, dtype=np.float32)
            tot = prof.sum(1, keepdims=True)
            p = np.divide(prof, tot, out=np.zeros_like(prof), where=tot > 0)
        idx, w = self.info_.genre_slots()
        J = idx.shape[1]
        c = np.maximum(cand, 0)
        ng = np.maximum(np.rint(1.0 / np.where(w[c] > 0, w[c], 1.0)).astype(np.int64), 1)  # genres of the title
        # (J, n, M) slabs of indices into a per-user table (G genres x J genre counts); slots
        # that are padding, or empty candidates, point at an extra zero column
        live = (w[c] > 0) & (cand >= 0)[:, :, None]
        cell = np.where(live, idx[c] * J + np.minimum(ng, J) - 1, G * J)
        table_idx = np.ascontiguousarray((np.arange(n)[:, None, None] * (G * J + 1) + cell).transpose(2, 0, 1))
        return {"p": p, "A": np.zeros_like(p), "t": 0, "J": J, "table_idx": table_idx,
                "gidx": idx[c], "gw": (w[c] * live).astype(np.float32)}

    def gain(self, state):
        # -KL(p || q~) = sum_g p_g log q~_g - sum_g p_g log p_g, q~ = (1 - a) q + a p. The second
        # sum is the same for every candidate and is dropped. A candidate with m genres adds 1/m
        # to each of them, changing log q~_g by log1p(c / (m q~_g)), c = (1 - a) / (t + 1): a
        # table per user over (genre, m), gathered for each candidate's genres.
        p, A, t, J = state["p"], state["A"], state["t"], state["J"]
        n, G = p.shape
        c = (1.0 - self.alpha) / (t + 1)
        qt = np.where(p > 0, c * A + self.alpha * p, 1.0).astype(np.float32)
        m = np.arange(1, J + 1, dtype=np.float32)
        table = np.zeros((n, G * J + 1), dtype=np.float32)
        table[:, :-1] = (p[:, :, None] * np.log1p(c / (m[None, None, :] * qt[:, :, None]))).reshape(n, G * J)
        flat = table.ravel()
        out = np.repeat((p * np.log(qt)).sum(1)[:, None], state["table_idx"].shape[2], axis=1)
        for ti in state["table_idx"]:
            out += flat[ti]
        return out

    def update(self, state, rows, picked):
        np.add.at(state["A"], (rows[:, None], state["gidx"][rows, picked]), state["gw"][rows, picked])
        state["t"] += 1


class LongTail(Reranker):
    """A fixed bonus for long-tail titles (1 - popularity percentile) and, when the day is
    known, for titles released within ``new_days`` of it (bonus 1)."""

    static = True

    def __init__(self, weight: float = 0.0, new_days: int = 7):
        self.weight = weight
        self.new_days = new_days

    def start(self, cand, ctx):
        bonus = self.info_.tail_score()
        rd = self.info_.release_day
        if ctx is not None and ctx.day is not None and rd is not None:
            fresh = (rd <= ctx.day) & (rd > ctx.day - self.new_days)
            bonus = np.where(fresh, 1.0, bonus).astype(np.float32)
        return {"bonus": np.where(cand >= 0, bonus[np.maximum(cand, 0)], 0.0).astype(np.float32)}

    def gain(self, state):
        return state["bonus"]


def scale_relevance(rel: np.ndarray) -> np.ndarray:
    """Min-max scale each row's finite relevance to [0, 1]; -inf stays -inf."""
    rel = np.asarray(rel, dtype=np.float32)
    ok = np.isfinite(rel)
    lo = np.where(ok, rel, np.inf).min(1, keepdims=True)
    hi = np.where(ok, rel, -np.inf).max(1, keepdims=True)
    span = np.where(np.isfinite(hi - lo) & (hi > lo), hi - lo, 1.0)
    r = np.where(ok, (rel - np.where(np.isfinite(lo), lo, 0.0)) / span, -np.inf)
    return r.astype(np.float32)


def rerank(cand: np.ndarray, rel: np.ndarray, rerankers: list[Reranker], ctx: RerankContext | None = None,
           k: int | None = None, depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Re-order each user's candidates; returns (cand, rel) permuted, the whole list.

    ``cand`` must be sorted by ``rel`` (best first). The first ``k`` positions (default all) are
    chosen greedily by the combined objective; the rest keep their relevance order. With no
    re-ranker of nonzero weight the input is returned as it is. ``depth`` limits the pool the
    greedy choice looks at to the first ``depth`` candidates (the rest follow in their order).
    """
    cand = np.asarray(cand)
    active = [r for r in rerankers if r.weight != 0]
    n, M = cand.shape
    if not active or M == 0 or n == 0:
        return cand, rel
    if depth is not None and depth < M:
        head_c, head_r = rerank(cand[:, :depth], rel[:, :depth], active, ctx, k, None)
        return np.concatenate([head_c, cand[:, depth:]], 1), np.concatenate([head_r, rel[:, depth:]], 1)
    k = M if k is None else min(int(k), M)
    if n > _CHUNK:  # chunks of users keep the working arrays in cache
        parts = [rerank(cand[i:i + _CHUNK], rel[i:i + _CHUNK], active, _take(ctx, slice(i, i + _CHUNK)), k)
                 for i in range(0, n, _CHUNK)]
        return np.concatenate([c for c, _ in parts]), np.concatenate([r for _, r in parts])
    valid = cand >= 0
    base = scale_relevance(rel)
    states = [rr.start(cand, ctx) for rr in active]
    for rr, s in zip(active, states):
        if rr.static:
            base += np.float32(rr.weight) * rr.gain(s)
    dynamic = [(rr, s) for rr, s in zip(active, states) if not rr.static]
    if not dynamic:
        order = np.argsort(-base, axis=1, kind="stable")
    else:
        rows = np.arange(n)
        picked = np.zeros((n, M), dtype=bool)
        picks = np.empty((n, k), dtype=np.int64)
        for t in range(k):
            obj = base
            for rr, s in dynamic:
                obj = obj + np.float32(rr.weight) * rr.gain(s)
            p = np.argmax(obj, axis=1)
            empty = obj[rows, p] == -np.inf
            if empty.any():  # nothing valid left: take any position not yet picked (an empty slot)
                p[empty] = np.argmin(picked[empty], axis=1)
            picks[:, t] = p
            picked[rows, p] = True
            base[rows, p] = -np.inf
            for rr, s in dynamic:
                rr.update(s, rows, p)
        rest = np.argsort(np.where(picked, np.inf, np.arange(M)[None, :]), axis=1, kind="stable")[:, : M - k]
        order = np.concatenate([picks, rest], axis=1)
    # empty slots (-1) go to the end
    bad = ~np.take_along_axis(valid, order, 1)
    order = np.take_along_axis(order, np.argsort(bad, axis=1, kind="stable"), 1)
    return np.take_along_axis(cand, order, 1), np.take_along_axis(np.asarray(rel), order, 1)


_CHUNK = 1024


def _take(ctx: RerankContext | None, sl: slice) -> RerankContext | None:
    if ctx is None or ctx.genre_profile is None:
        return ctx
    return RerankContext(ctx.genre_profile[sl], ctx.day)


RERANKERS = {"diversity": Diversity, "calibration": Calibration, "longtail": LongTail}
