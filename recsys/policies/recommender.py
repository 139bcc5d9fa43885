"""A recommender as a policy: a ranking :class:`~recsys.policies.pipeline.Pipeline` (scorer,
candidates, re-rankers), a :class:`~recsys.policies.rows.RowBuilder` and an artwork policy.

Fitted on the observable play log (watch-share weights) and the public catalog, it builds a
batch of pages at once: the pipeline's top candidates per user over titles already released
(the user's recent plays dropped), re-ranked, then the most popular titles and this week's
releases as extras, named rows and artwork. Users without fitted history (new sign-ups) are
scored from the recent plays in their context.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from recsys.core.logs import OBSERVED_PLAY_COLUMNS, Logs
from recsys.core.page import Explanation, Layout, Page, UserContext
from recsys.core.rng import KeyedRandom
from recsys.models._threads import single_threaded_blas
from recsys.models.base import FactorScorer
from recsys.models.data import interaction_matrix
from recsys.models.hybrid import Hybrid
from recsys.policies.artwork.base import ArtworkPolicy
from recsys.policies.base import Policy
from recsys.policies.pipeline import Pipeline
from recsys.policies.rows import RowBuilder
from recsys.world.catalog import Catalog


def context_matrix(ctx: UserContext, n_titles: int) -> sp.csr_matrix:
    """The recent plays of a batch as a CSR indexed by user id (weight 1 per play)."""
    recent = ctx.recent
    ok = recent >= 0
    uid = np.broadcast_to(ctx.user_ids[:, None], recent.shape)[ok]
    rows = int(ctx.user_ids.max()) + 1 if len(ctx.user_ids) else 0
    X = sp.csr_matrix((np.ones(ok.sum(), np.float32), (uid, recent[ok])), shape=(rows, n_titles))
    X.sum_duplicates()
    return X


def recent_matrix(ctx: UserContext, n_titles: int) -> sp.csr_matrix:
    """Recent plays as a CSR with one row per user of the batch (the titles to leave out)."""
    recent = ctx.recent
    ok = recent >= 0
    r = np.broadcast_to(np.arange(len(ctx))[:, None], recent.shape)[ok]
    X = sp.csr_matrix((np.ones(ok.sum(), np.float32), (r, recent[ok])), shape=(len(ctx), n_titles))
    X.sum_duplicates()
    return X


class RecommenderPolicy(Policy):
    """A ranking pipeline, a row builder and an artwork policy, as one :class:`Policy`.

    ``halflife`` (days) decays old plays in the matrix the pipeline fits on (None: no decay);
    "Popular now" always uses plays decayed by ``popular_halflife``. Pages are built in equal
    chunks of at most ``chunk`` users, on ``n_jobs`` threads (numpy and implicit release the GIL;
    keep 1 when the harness already runs one process per core); the pages do not depend on either.
    """

    def __init__(self, pipeline: Pipeline, rows: RowBuilder | None = None, artwork: ArtworkPolicy | None = None, *,
                 name: str = "recommender", halflife: float | None = None, popular_halflife: float = 7.0,
                 chunk: int = 1024, n_jobs: int = 1):
        super().__init__(artwork)
        self.pipeline = pipeline
        self.rows = rows if rows is not None else RowBuilder()
        self.name = name
        self.halflife = halflife
        self.popular_halflife = popular_halflife
        self.chunk = chunk
        self.n_jobs = n_jobs

    @property
    def scorer_(self):
        """The fitted scorer (the pipeline's)."""
        return self.pipeline_.scorer_

    def fit(self, logs: Logs, catalog: Catalog, *, day: int, n_users: int) -> "RecommenderPolicy":
        super().fit(logs, catalog, day=day, n_users=n_users)
        plays = logs.plays[[c for c in OBSERVED_PLAY_COLUMNS if c in logs.plays]]
        X = interaction_matrix(plays, n_users, catalog.n_titles, runtime=catalog.runtime, day=day,
                               halflife=self.halflife)
        self.pipeline_ = clone(self.pipeline).fit(X, catalog.items_frame(), genres=catalog.genres)
        recent = interaction_matrix(plays, n_users, catalog.n_titles, runtime=catalog.runtime, day=day,
                                    halflife=self.popular_halflife)
        order = np.argsort(-np.asarray(recent.sum(axis=0)).ravel(), kind="stable")
        self.popular_order_ = order.astype(np.int32)
        self.popularity_rank_ = np.empty(catalog.n_titles, dtype=np.int64)
        self.popularity_rank_[order] = np.arange(catalog.n_titles)
        self.genres_ = catalog.genres.toarray() > 0
        return self

    def _extras(self, day: int, layout: Layout, history: int) -> np.ndarray:
        """Shared extra candidates: the most popular available titles and this week's releases."""
        avail = self.catalog_.available(day)
        pop = self.popular_order_[avail[self.popular_order_]][: 2 * layout.row_length + history]
        rd = self.catalog_.release_day
        new = np.flatnonzero(avail & (rd > day - self.rows.new_days))
        new = new[np.argsort(self.popularity_rank_[new], kind="stable")][:4 * layout.row_length]
        return np.concatenate([pop, new]).astype(np.int32)

    def ranked(self, ctx: UserContext, k: int, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The candidates per user, the first ``k`` re-ranked: (titles, scores), -1 padded."""
        ids, sc, _ = self._ranked(ctx, k, num_threads)
        return ids, sc

    def _scored(self, ctx: UserContext, k: int, num_threads: int = 0):
        """The scorer's candidates before re-ranking: (ids, scores, user vectors or None)."""
        # ``candidates`` titles are fetched; the user's recent plays among them are then dropped
        T = self.catalog_.n_titles
        X = context_matrix(ctx, T)
        scorer = self.pipeline_.scorer_
        U = scorer.user_vectors(ctx.user_ids, X) if isinstance(scorer, FactorScorer) else None
        n = max(self.pipeline_.candidates - ctx.recent.shape[1], k)
        ids, sc = self.pipeline_.scored(ctx.user_ids, X, n, filter=recent_matrix(ctx, T),
                                        exclude=np.flatnonzero(~self.catalog_.available(ctx.day)),
                                        num_threads=num_threads, user_vectors=U)
        return ids, sc, U

    def _ranked(self, ctx: UserContext, k: int, num_threads: int = 0):
        ids, sc, U = self._scored(ctx, k, num_threads)
        ids, sc = self.pipeline_.reranked(ids, sc, k, profile=ctx.genre_profile, day=ctx.day)
        return ids, sc, U

    def rank(self, ctx: UserContext, k: int, rand: KeyedRandom) -> tuple[np.ndarray, np.ndarray]:
        ids, sc = self.ranked(ctx, k)
        return ids[:, :k], sc[:, :k]

    def pages(self, ctx: UserContext, layout: Layout, rand: KeyedRandom) -> Page:
        n = len(ctx)
        if n == 0:
            return self.add_artwork(Page.from_ranked(np.zeros((0, layout.slots), np.int32), layout), ctx, rand)
        # equal chunks, as many as a multiple of the threads, so that no thread idles at the end
        jobs = max(int(self.n_jobs), 1)
        n_chunks = -(-n // max(int(self.chunk), 1))
        if jobs > 1 and n_chunks > 1:
            n_chunks = -(-n_chunks // jobs) * jobs
        chunks = np.array_split(np.arange(n), min(n_chunks, n))
        if jobs > 1 and len(chunks) > 1:
            with single_threaded_blas(), ThreadPoolExecutor(jobs) as pool:
                parts = list(pool.map(lambda idx: self._pages(ctx.take(idx), layout, 1), chunks))
        else:
            parts = [self._pages(ctx.take(idx), layout) for idx in chunks]
        page = parts[0] if len(parts) == 1 else Page.concat(parts)
        return self.add_artwork(page, ctx, rand)

    def _pages(self, ctx: UserContext, layout: Layout, num_threads: int = 0) -> Page:
        ids, sc, U = self._ranked(ctx, layout.slots, num_threads)
        extras = self._extras(ctx.day, layout, ctx.recent.shape[1])
        ex = np.broadcast_to(extras, (len(ctx), len(extras))).copy()
        ex[(ex[:, :, None] == ctx.recent[:, None, :]).any(-1)] = -1
        scorer = self.pipeline_.scorer_
        if U is not None:
            ex_sc = U @ scorer.item_vectors_[extras].T
        else:
            ex_sc = scorer.score(ctx.user_ids, context_matrix(ctx, self.catalog_.n_titles), items=extras)
        # extras rank after the personal list, in the order of their personal score
        order = np.argsort(-ex_sc, axis=1, kind="stable")
        pool = np.concatenate([ids, np.take_along_axis(ex, order, 1)], axis=1)
        score = np.concatenate([sc, np.take_along_axis(ex_sc, order, 1)], axis=1)
        return self.rows.build(pool, score, ctx, layout, genres=self.genres_,
                               popularity_rank=self.popularity_rank_, release_day=self.catalog_.release_day,
                               embedding=self.pipeline_.info_.embedding)

    def explain(self, ctx: UserContext, page: Page) -> Explanation:
        """Why ``page`` (built by :meth:`pages` for ``ctx``) holds each title: the scorer's score,
        for the hybrid its cf / content / popularity terms and blend weights, and each title's rank
        in the scorer's list and after re-ranking. Recomputes the ranking; not for the simulator."""
        n = len(ctx)
        shape = page.titles.shape
        slots = int(np.prod(shape[1:]))
        ids, sc, _ = self._scored(ctx, slots)
        final, _ = self.pipeline_.reranked(ids, sc, slots, profile=ctx.genre_profile, day=ctx.day)
        flat = page.titles.reshape(n, slots)

        def rank_in(lst: np.ndarray) -> np.ndarray:
            hit = (flat[:, :, None] == lst[:, None, :]) & (flat >= 0)[:, :, None]
            return np.where(hit.any(-1), hit.argmax(-1) + 1, 0).reshape(shape).astype(np.int32)

        parts = weights = None
        if isinstance(self.pipeline_.scorer_, Hybrid):
            X = context_matrix(ctx, self.catalog_.n_titles)
            terms, weights = hybrid_terms(self.pipeline_.scorer_, ctx.user_ids, X, np.maximum(flat, 0))
            parts = {k: np.where(flat >= 0, v, np.nan).reshape(shape).astype(np.float32) for k, v in terms.items()}
        return Explanation(score=page.score, parts=parts, rank_scored=rank_in(ids), rank_reranked=rank_in(final),
                           weights=weights)


def hybrid_terms(scorer: Hybrid, users: np.ndarray, X: sp.csr_matrix | None,
                 items: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The fitted hybrid's score of ``items`` (n, m) for ``users`` (n,) split into its additive
    terms (``cf``, ``content``, ``popularity``, ``prior``: they sum to the score), and the users'
    blend weights (``cf``, ``content``, ``popularity``), from the scorer's own user vectors."""
    U = scorer.user_vectors(users, X).astype(np.float64)
    V = scorer.item_vectors_.astype(np.float64)[items]                       # (n, m, d)
    blocks = [("cf", scorer.cf_)] + ([("content", scorer.content_)] if scorer.content_ is not None else [])
    terms, o = {}, 0
    for (name, model), (mu, _) in zip(blocks, scorer.stats_):
        d = model.item_vectors_.shape[1]
        Ub = U[:, o:o + d]
        terms[name] = np.einsum("nd,nmd->nm", Ub, V[..., o:o + d]) - (Ub @ mu)[:, None]
        o += d
    terms["popularity"] = U[:, o, None] * V[..., o]
    terms["prior"] = U[:, o + 2, None] * V[..., o + 2]      # the cold-start popularity prior
    counts, _, _ = scorer.cf_.history(np.asarray(users, np.int64), X)
    w = scorer.blend_weights(counts)
    return terms, {"cf": w[0], "content": w[1], "popularity": w[2]}
