"""Policies assembled by name: scorer + re-rankers + row builder + artwork policy.

``make_policy(name, params)`` builds what an experiment file's arm names (docs/contracts.md section 5):

========== ===================================================================================
random     :class:`~recsys.policy.RandomPolicy`
popularity :class:`~recsys.policy.PopularityPolicy` (time-decayed plays; the usual control)
cf         :class:`RecommenderPolicy` over :class:`~recsys.models.ALS` (or ``cf = "bpr"``, or an
           item-item model: ``"itemknn"``, ``"rp3beta"``, ``"ease"``; ``cf_params`` sets its own parameters)
content    :class:`RecommenderPolicy` over :class:`~recsys.models.Content`
hybrid     :class:`RecommenderPolicy` over :class:`~recsys.models.Hybrid`
oracle     ``recsys.oracle.OraclePolicy``: ranks by the hidden truth, so the caller (the harness)
           must pass ``world=``; no other policy receives it
========== ===================================================================================

A :class:`RecommenderPolicy` is fitted on the observable play log (watch-share weights) and the
public catalog, and builds a batch of pages at once: top-``candidates`` titles per user by the
scorer (implicit's batch top-k over titles already released; the user's recent plays among
them are then dropped), greedy re-ranking of the first ``rerank_depth``, then named rows and
artwork.
Users without fitted history (new sign-ups) are scored from the recent plays in their context.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from recsys.artwork import ArtworkPolicy, make_artwork
from recsys.core.errors import InputError
from recsys.models import ALS, BPR, EASE, Content, Hybrid, ItemKNN, RP3beta, make_hybrid
from recsys.models._threads import single_threaded_blas
from recsys.models.base import FactorScorer, Scorer
from recsys.models.data import interaction_matrix
from recsys.models.topn import top_n
from recsys.core.page import Explanation, Layout, Page, UserContext
from recsys.policy import PopularityPolicy, Policy, RandomPolicy
from recsys.rerank import (SIMILARITIES, Calibration, Diversity, ItemInfo, LongTail, Reranker, RerankContext,
                           audience_embedding, rerank)
from recsys.core.rng import KeyedRandom
from recsys.rows import DEFAULT_ROWS, RowBuilder
from recsys.core.logs import OBSERVED_PLAY_COLUMNS, Logs
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
    """A scorer, re-rankers, a row builder and an artwork policy, as one :class:`Policy`.

    ``halflife`` (days) decays old plays in the matrix the scorer fits on (None: no decay);
    "Popular now" always uses plays decayed by ``popular_halflife``. Pages are built in equal
    chunks of at most ``chunk`` users, on ``n_jobs`` threads (numpy and implicit release the GIL;
    keep 1 when the harness already runs one process per core); the pages do not depend on either.
    """

    def __init__(self, scorer: Scorer, rerankers: tuple[Reranker, ...] = (), rows: RowBuilder | None = None,
                 artwork: ArtworkPolicy | None = None, *, name: str = "recommender", candidates: int = 100,
                 rerank_depth: int = 100, halflife: float | None = None, popular_halflife: float = 7.0,
                 chunk: int = 1024, n_jobs: int = 1):
        super().__init__(artwork)
        self.scorer = scorer
        self.rerankers = tuple(rerankers)
        self.rows = rows if rows is not None else RowBuilder()
        self.name = name
        self.candidates = candidates
        self.rerank_depth = rerank_depth
        self.halflife = halflife
        self.popular_halflife = popular_halflife
        self.chunk = chunk
        self.n_jobs = n_jobs

    def fit(self, logs: Logs, catalog: Catalog, *, day: int, n_users: int) -> "RecommenderPolicy":
        super().fit(logs, catalog, day=day, n_users=n_users)
        plays = logs.plays[[c for c in OBSERVED_PLAY_COLUMNS if c in logs.plays]]
        X = interaction_matrix(plays, n_users, catalog.n_titles, runtime=catalog.runtime, day=day,
                               halflife=self.halflife)
        self.scorer_ = clone(self.scorer).fit(X, catalog.items_frame())
        recent = interaction_matrix(plays, n_users, catalog.n_titles, runtime=catalog.runtime, day=day,
                                    halflife=self.popular_halflife)
        recent_pop = np.asarray(recent.sum(axis=0)).ravel()
        order = np.argsort(-recent_pop, kind="stable")
        self.popular_order_ = order.astype(np.int32)
        self.popularity_rank_ = np.empty(catalog.n_titles, dtype=np.int64)
        self.popularity_rank_[order] = np.arange(catalog.n_titles)
        emb = self.scorer_.item_embedding() if isinstance(self.scorer_, FactorScorer) else None
        if emb is not None and emb.shape[1] <= 1:
            emb = None
        # the audience vectors are built here, once per fit, and only when a re-ranker reads them
        # (the play matrix itself does not travel with the policy)
        audience = (audience_embedding(X) if any(getattr(r, "similarity", None) == "audience" for r in self.rerankers)
                    else None)
        self.info_ = ItemInfo(catalog.genres.tocsr(), np.asarray(X.sum(axis=0)).ravel(),
                              catalog.release_day.astype(np.int64), emb, audience=audience)
        self.rerankers_ = tuple(clone(r).fit(self.info_) for r in self.rerankers)
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
        U = self.scorer_.user_vectors(ctx.user_ids, X) if isinstance(self.scorer_, FactorScorer) else None
        n = max(self.candidates - ctx.recent.shape[1], k)
        ids, sc = top_n(self.scorer_, ctx.user_ids, X, n, filter=recent_matrix(ctx, T),
                        exclude=np.flatnonzero(~self.catalog_.available(ctx.day)), num_threads=num_threads,
                        user_vectors=U)
        return ids, sc, U

    def _ranked(self, ctx: UserContext, k: int, num_threads: int = 0):
        ids, sc, U = self._scored(ctx, k, num_threads)
        if self.rerankers_:
            rctx = RerankContext(ctx.genre_profile, ctx.day)
            ids, sc = rerank(ids, sc, list(self.rerankers_), rctx, k=k, depth=max(self.rerank_depth, k))
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
        if U is not None:
            ex_sc = U @ self.scorer_.item_vectors_[extras].T
        else:
            ex_sc = self.scorer_.score(ctx.user_ids, context_matrix(ctx, self.catalog_.n_titles), items=extras)
        # extras rank after the personal list, in the order of their personal score
        order = np.argsort(-ex_sc, axis=1, kind="stable")
        pool = np.concatenate([ids, np.take_along_axis(ex, order, 1)], axis=1)
        score = np.concatenate([sc, np.take_along_axis(ex_sc, order, 1)], axis=1)
        return self.rows.build(pool, score, ctx, layout, genres=self.genres_,
                               popularity_rank=self.popularity_rank_, release_day=self.catalog_.release_day,
                               embedding=self.info_.embedding)

    def explain(self, ctx: UserContext, page: Page) -> Explanation:
        """Why ``page`` (built by :meth:`pages` for ``ctx``) holds each title: the scorer's score,
        for the hybrid its cf / content / popularity terms and blend weights, and each title's rank
        in the scorer's list and after re-ranking. Recomputes the ranking; not for the simulator."""
        n = len(ctx)
        shape = page.titles.shape
        slots = int(np.prod(shape[1:]))
        ids, sc, _ = self._scored(ctx, slots)
        final = ids
        if self.rerankers_:
            final, _ = rerank(ids, sc, list(self.rerankers_), RerankContext(ctx.genre_profile, ctx.day), k=slots,
                              depth=max(self.rerank_depth, slots))
        flat = page.titles.reshape(n, slots)

        def rank_in(lst: np.ndarray) -> np.ndarray:
            hit = (flat[:, :, None] == lst[:, None, :]) & (flat >= 0)[:, :, None]
            return np.where(hit.any(-1), hit.argmax(-1) + 1, 0).reshape(shape).astype(np.int32)

        parts = weights = None
        if isinstance(self.scorer_, Hybrid):
            X = context_matrix(ctx, self.catalog_.n_titles)
            terms, weights = hybrid_terms(self.scorer_, ctx.user_ids, X, np.maximum(flat, 0))
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


# ---------------------------------------------------------------------------------------------
# make_policy: names and parameters as an experiment file gives them

POLICIES = ("random", "popularity", "cf", "content", "hybrid", "oracle")

_COMMON = {"artwork": "fixed"}
_RERANK = {"diversity": 0.0, "similarity": "genre", "calibration": 0.0, "longtail": 0.0, "new_days": 7,
           "candidates": 100, "rerank_depth": 100, "rows": list(DEFAULT_ROWS), "halflife": None}
_CF = {"cf": "als", "factors": None, "regularization": None, "alpha": None, "iterations": None,
       "learning_rate": None, "cf_params": None}  # None: the tuned default below for the chosen cf model
#: item-item CF models a policy may take (``cf``); their parameters come as the table ``cf_params``
ITEM_ITEM_CF = {"itemknn": ItemKNN, "rp3beta": RP3beta, "ease": EASE}
#: defaults of the cf model inside a policy, tuned offline on the default world's warm-up plays
#: (about 12 per user: few factors, strong regularisation; docs/models.md)
CF_DEFAULTS = {"als": {"factors": 16, "regularization": 10.0, "alpha": 40.0, "iterations": 15},
               "bpr": {"factors": 32, "regularization": 0.01, "learning_rate": 0.005, "iterations": 100}}
_CONTENT = {"genre_weight": 1.0, "cast_weight": 0.5, "runtime_weight": 0.3, "kind_weight": 0.3,
            "popularity_band_weight": 0.2, "n_components": 64}
_HYBRID = {"cf_weight": 1.0, "content_weight": 0.35, "popularity_weight": 0.5, "shrinkage": 5.0}

#: parameters each policy accepts, with their defaults
POLICY_PARAMS: dict[str, dict[str, Any]] = {
    "random": dict(_COMMON),
    "popularity": {**_COMMON, "halflife": 7.0, "explore": 0.0},
    "cf": {**_COMMON, **_RERANK, **_CF},
    "content": {**_COMMON, **_RERANK, **_CONTENT},
    "hybrid": {**_COMMON, **_RERANK, **_CF, **_CONTENT, **_HYBRID},
    "oracle": None,  # parameters are the oracle's own (recsys.oracle)
}


def _number(name: str, v: Any, *, lo: float = 0.0, integer: bool = False, allow_none: bool = False):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
        kind = "an integer" if integer else "a number"
        raise InputError(f"policy parameter {name} must be {kind}, got {v!r}")
    if v < lo:
        raise InputError(f"policy parameter {name} must be >= {lo:g}, got {v!r}")
    return int(v) if integer else float(v)


def _item_item_scorer(p: dict) -> Scorer:
    """``cf`` an item-item model, ``cf_params`` its parameters (the class's defaults otherwise)."""
    for k in ("factors", "regularization", "alpha", "iterations", "learning_rate"):
        if p.get(k) is not None:
            raise InputError(f"policy parameter {k} does not apply to cf = {p['cf']!r} (use cf_params)")
    cls = ITEM_ITEM_CF[p["cf"]]
    params = p.get("cf_params") or {}
    if not isinstance(params, Mapping):
        raise InputError(f"policy parameter cf_params must be a table, got {params!r}")
    known = cls().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InputError(f"unknown cf_params key {unknown[0]!r} for cf = {p['cf']!r} (known: {', '.join(sorted(known))})")
    return cls(**params).check_params()


def _cf_scorer(p: dict, seed: int) -> Scorer:
    if p["cf"] in ITEM_ITEM_CF:
        return _item_item_scorer(p)
    if p["cf"] not in CF_DEFAULTS:
        raise InputError(f"policy parameter cf must be als or bpr, or an item-item model ({', '.join(ITEM_ITEM_CF)}), "
                         f"got {p['cf']!r}")
    if p.get("cf_params"):
        raise InputError(f"policy parameter cf_params applies to item-item cf models, not cf = {p['cf']!r}")
    q = {k: (p[k] if p.get(k) is not None else v) for k, v in CF_DEFAULTS[p["cf"]].items()}
    for k in ("alpha", "learning_rate"):
        if p["cf"] not in (("als",) if k == "alpha" else ("bpr",)) and p.get(k) is not None:
            raise InputError(f"policy parameter {k} does not apply to cf = {p['cf']!r}")
    args = {k: _number(k, v, lo=1 if k in ("factors", "iterations") else 0, integer=k in ("factors", "iterations"))
            for k, v in q.items()}
    return (ALS if p["cf"] == "als" else BPR)(random_state=seed, **args)


def _content_scorer(p: dict, seed: int) -> Content:
    return Content(genre_weight=_number("genre_weight", p["genre_weight"]),
                   cast_weight=_number("cast_weight", p["cast_weight"]),
                   runtime_weight=_number("runtime_weight", p["runtime_weight"]),
                   kind_weight=_number("kind_weight", p["kind_weight"]),
                   popularity_weight=_number("popularity_band_weight", p["popularity_band_weight"]),
                   n_components=_number("n_components", p["n_components"], lo=1, integer=True), random_state=seed)


def make_policy(name: str, params: Mapping[str, Any] | None = None, *, seed: int = 0, world=None) -> Policy:
    """The policy ``name`` with ``params`` (unknown names and parameters are an InputError).

    ``seed`` fixes the models' random state. ``world`` (a :class:`~recsys.world.build.World`,
    hidden truth included) is handed to ``oracle`` only and ignored by every other policy.
    """
    if name not in POLICY_PARAMS:
        raise InputError(f"unknown policy {name!r} (known: {', '.join(POLICIES)})")
    params = dict(params or {})
    if name == "oracle":
        if world is None:
            raise InputError("policy 'oracle' reads the world's hidden truth: the harness must pass world=")
        from recsys.oracle import OraclePolicy  # the one policy allowed to read hidden fields

        art = params.pop("artwork", "fixed")
        if not isinstance(art, str):
            raise InputError(f"policy parameter artwork must be a name, got {art!r}")
        if params:
            raise InputError(f"unknown parameter {sorted(params)[0]!r} for policy 'oracle' (known: artwork)")
        return OraclePolicy(world, artwork=make_artwork(art))
    known = POLICY_PARAMS[name]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r} for policy {name!r} (known: {', '.join(sorted(known))})")
    p = {**known, **params}
    if not isinstance(p["artwork"], str):
        raise InputError(f"policy parameter artwork must be a name, got {p['artwork']!r}")
    artwork = make_artwork(p["artwork"])
    if name == "random":
        return RandomPolicy(artwork)
    if name == "popularity":
        return PopularityPolicy(halflife=_number("halflife", p["halflife"]), explore=_number("explore", p["explore"]),
                                artwork=artwork)
    if name == "cf":
        scorer: Scorer = _cf_scorer(p, seed)
    elif name == "content":
        scorer = _content_scorer(p, seed)
    else:
        scorer = make_hybrid(_cf_scorer(p, seed), _content_scorer(p, seed),
                             cf_weight=_number("cf_weight", p["cf_weight"]),
                             content_weight=_number("content_weight", p["content_weight"]),
                             popularity_weight=_number("popularity_weight", p["popularity_weight"]),
                             shrinkage=_number("shrinkage", p["shrinkage"]), random_state=seed)
    if p["similarity"] not in SIMILARITIES:
        raise InputError(f"policy parameter similarity must be one of {', '.join(SIMILARITIES)}, "
                         f"got {p['similarity']!r}")
    rows = p["rows"]
    if isinstance(rows, str) or not all(isinstance(r, str) for r in rows):
        raise InputError("policy parameter rows must be a list of row kinds")
    from recsys.core.page import ROW_KIND

    bad = [r for r in rows if r not in ROW_KIND]
    if bad:
        raise InputError(f"unknown row kind {bad[0]!r} (known: {', '.join(ROW_KIND)})")
    new_days = _number("new_days", p["new_days"], lo=1, integer=True)
    rerankers = (Diversity(_number("diversity", p["diversity"]), similarity=p["similarity"]),
                 Calibration(_number("calibration", p["calibration"])),
                 LongTail(_number("longtail", p["longtail"]), new_days=new_days))
    return RecommenderPolicy(scorer, tuple(r for r in rerankers if r.weight > 0),
                             RowBuilder(tuple(rows), new_days=new_days), artwork, name=name,
                             candidates=_number("candidates", p["candidates"], lo=1, integer=True),
                             rerank_depth=_number("rerank_depth", p["rerank_depth"], lo=1, integer=True),
                             halflife=_number("halflife", p["halflife"], lo=0, allow_none=True))
