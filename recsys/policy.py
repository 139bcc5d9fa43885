"""The policy interface the simulator runs, and the reference policies ``random`` and ``popularity``.

A policy is fitted on observable logs and the public catalog, then builds pages for batches of
users from a :class:`~recsys.page.UserContext`. Between days the harness may call ``update``
with the arm's new logs. Randomness comes in as a :class:`~recsys.rng.KeyedRandom`, keyed by
user and day, so a user's page never depends on who else is in the batch.
"""

from __future__ import annotations

import itertools

import numpy as np

from recsys.artwork import ArtworkPolicy, FixedArtwork
from recsys.models.data import interaction_matrix
from recsys.models.popularity import Popularity
from recsys.page import Layout, Page, UserContext
from recsys.rng import KeyedRandom
from recsys.simulate.logs import Logs
from recsys.world.catalog import Catalog


def take_unseen(candidates: np.ndarray, recent: np.ndarray, k: int) -> np.ndarray:
    """First ``k`` candidates per row that are not in the row's ``recent`` titles (-1 pads).

    ``candidates`` (n, M) int32 ranked best first (-1 = none); returns (n, k), -1 padded.
    """
    seen = (candidates[:, :, None] == recent[:, None, :]).any(-1) | (candidates < 0)
    order = np.argsort(seen, axis=1, kind="stable")[:, :k]
    out = np.take_along_axis(candidates, order, 1)
    out[np.take_along_axis(seen, order, 1)] = -1
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
    return out


def random_titles(user_ids: np.ndarray, day: int, pool: np.ndarray, k: int, rand: KeyedRandom) -> np.ndarray:
    """``k`` distinct titles per user drawn from ``pool``, by a random affine permutation of it."""
    m = len(pool)
    k = min(k, m)
    coprime = np.flatnonzero(np.gcd(np.arange(m), m) == 1)
    a = coprime[(rand.uniform(user_ids, day, 1) * len(coprime)).astype(np.int64)]
    b = (rand.uniform(user_ids, day, 2) * m).astype(np.int64)
    idx = (a[:, None] * np.arange(k)[None, :] + b[:, None]) % m
    return pool[idx].astype(np.int32)


_FIT_IDS = itertools.count(1)


class Policy:
    """Base class: ``fit`` on logs, ``pages`` for a batch of users, optional ``update``.

    ``update`` may change only the artwork policy: the simulator sends the rest of a fitted
    policy to its workers once per ``fit`` and the (small) artwork state every day."""

    name = "base"
    reads_hidden_truth = False

    def __init__(self, artwork: ArtworkPolicy | None = None):
        self.artwork = artwork if artwork is not None else FixedArtwork()

    def fit(self, logs: Logs, catalog: Catalog, *, day: int, n_users: int) -> "Policy":
        """Train on ``logs`` (days before ``day``) and the public catalog."""
        self.fit_id_ = next(_FIT_IDS)  # tells the simulator to re-send the fitted policy to workers
        self.catalog_ = catalog
        self.artwork.fit(catalog, logs)
        return self

    def rank(self, ctx: UserContext, k: int, rand: KeyedRandom) -> tuple[np.ndarray, np.ndarray | None]:
        """Ranked titles (n, k) and their scores (or None); subclasses implement this."""
        raise NotImplementedError

    def pages(self, ctx: UserContext, layout: Layout, rand: KeyedRandom) -> Page:
        ranked, scores = self.rank(ctx, layout.slots, rand)
        page = Page.from_ranked(ranked, layout, self.row_kind, scores)
        return self.add_artwork(page, ctx, rand)

    row_kind = "top_picks"

    def add_artwork(self, page: Page, ctx: UserContext, rand: KeyedRandom) -> Page:
        n = len(page)
        flat = page.titles.reshape(n, -1)
        art, prop = self.artwork.select(flat, ctx, rand.child("artwork"))
        page.artwork = art.reshape(page.titles.shape)
        page.propensity = prop.reshape(page.titles.shape).astype(np.float32)
        return page

    def update(self, logs: Logs) -> "Policy":
        """Learn from the arm's logs of the day just simulated (default: only the artwork)."""
        self.artwork.update(logs)
        return self


class RandomPolicy(Policy):
    """Random available titles at random positions: the floor, and the position-bias probe."""

    name = "random"
    row_kind = "explore"

    def rank(self, ctx, k, rand):
        pool = np.flatnonzero(self.catalog_.available(ctx.day)).astype(np.int32)
        cand = random_titles(ctx.user_ids, ctx.day, pool, k + ctx.recent.shape[1], rand)
        return take_unseen(cand, ctx.recent, k), None


class PopularityPolicy(Policy):
    """Most played titles (time-decayed), minus the user's recent plays; optional exploration.

    ``explore`` is the share of slots given to random available titles: the warm-up logging
    policy uses it so the logs carry some exposure to the long tail, as real logs do.
    """

    name = "popularity"
    row_kind = "popular_now"

    def __init__(self, halflife: float = 7.0, explore: float = 0.0, artwork: ArtworkPolicy | None = None):
        super().__init__(artwork)
        self.halflife = halflife
        self.explore = explore

    def fit(self, logs, catalog, *, day, n_users):
        super().fit(logs, catalog, day=day, n_users=n_users)
        X = interaction_matrix(logs.plays, n_users, catalog.n_titles, runtime=catalog.runtime,
                               day=day, halflife=self.halflife)
        self.scorer_ = Popularity(smoothing=1e-6).fit(X)
        self.order_ = np.argsort(-self.scorer_.popularity_, kind="stable").astype(np.int32)
        return self

    def rank(self, ctx, k, rand):
        avail = self.catalog_.available(ctx.day)
        order = self.order_[avail[self.order_]]
        m = min(len(order), k + ctx.recent.shape[1])
        cand = np.broadcast_to(order[:m], (len(ctx), m))
        ranked = take_unseen(cand, ctx.recent, k)
        if self.explore > 0:
            pool = np.flatnonzero(avail).astype(np.int32)
            rnd = random_titles(ctx.user_ids, ctx.day, pool, k, rand.child("explore"))
            swap = rand.uniform(ctx.user_ids[:, None], ctx.day, np.arange(k)[None, :]) < self.explore
            ranked = np.where(swap, rnd, ranked)
        scores = self.scorer_.popularity_[np.maximum(ranked, 0)]
        return ranked, scores
