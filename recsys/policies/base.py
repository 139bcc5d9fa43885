"""The policy interface the simulator runs, and the reference policies ``random``, ``popularity``
and ``genre_rows`` (the warm-up's logging policy).

A policy is fitted on observable logs and the public catalog, then builds pages for batches of
users from a :class:`~recsys.core.page.UserContext`. Between days the harness may call ``update``
with the arm's new logs. Randomness comes in as a :class:`~recsys.core.rng.KeyedRandom`, keyed by
user and day, so a user's page never depends on who else is in the batch.
"""

from __future__ import annotations

import itertools

import numpy as np

from recsys.core.logs import Logs
from recsys.core.page import Layout, Page, UserContext
from recsys.core.rng import KeyedRandom
from recsys.policies.artwork.base import ArtworkPolicy, FixedArtwork
from recsys.world.catalog import Catalog


def take_unseen(candidates: np.ndarray, recent: np.ndarray, k: int) -> np.ndarray:
    """First ``k`` candidates per row that are not in the row's ``recent`` titles (-1 pads).

    ``candidates`` (n, M) int32 ranked best first (-1 = none); returns (n, k), -1 padded.
    """
    seen = candidates < 0
    for h in range(recent.shape[1]):   # a loop over the history's length, vectorised over users
        seen |= candidates == recent[:, h, None]
    return _first_k(candidates, seen, k)


def _first_k(candidates: np.ndarray, seen: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` candidates per row that are not ``seen`` (n, k), -1 padded: each kept
    candidate goes to its rank among the row's kept ones (a running count, no sort)."""
    n, M = candidates.shape
    out = np.full((n, k), -1, candidates.dtype)
    if M == 0:
        return out
    keep = ~seen
    rank = np.cumsum(keep, axis=1, dtype=np.int32)     # int32: several times faster than the default here
    cell = np.flatnonzero(keep & (rank <= k))
    row, col = np.divmod(cell, M)
    out.reshape(-1)[row * k + np.take(rank, cell) - 1] = candidates[row, col]
    return out


def random_titles(user_ids: np.ndarray, day: int, pool: np.ndarray, k: int, rand: KeyedRandom) -> np.ndarray:
    """``k`` distinct titles per user drawn from ``pool``, by a random affine permutation of it."""
    m = len(pool)
    k = min(k, m)
    coprime = np.flatnonzero(np.gcd(np.arange(m), m) == 1)
    a = coprime[(rand.uniform(user_ids, day, 1) * len(coprime)).astype(np.int64)]
    b = (rand.uniform(user_ids, day, 2) * m).astype(np.int64)
    idx = (a[:, None] * np.arange(k)[None, :] + b[:, None]) % m
    return np.take(pool, idx).astype(np.int32)


def _width(a: np.ndarray, m: int) -> np.ndarray:
    """The first ``m`` columns of ``a``, -1 padded if it has fewer."""
    if a.shape[1] >= m:
        return a[:, :m]
    return np.pad(a, ((0, 0), (0, m - a.shape[1])), constant_values=-1)


def _mark_shown(shown: np.ndarray, titles: np.ndarray) -> None:
    """Set ``shown[i, t]`` for every title ``t >= 0`` of row ``i`` of ``titles``."""
    u, k = np.nonzero(titles >= 0)
    shown[u, titles[u, k]] = True


def _first_unseen(candidates: np.ndarray, shown: np.ndarray, k: int) -> np.ndarray:
    """:func:`take_unseen` against a users x titles mask: the first ``k`` candidates per row
    that are not ``shown`` (-1 pads)."""
    flat = np.maximum(candidates, 0).astype(np.int64)
    flat += (np.arange(len(candidates), dtype=np.int64) * shown.shape[1])[:, None]
    seen = (candidates < 0) | np.take(shown.reshape(-1), flat)  # a flat take: faster than 2-d indexing
    return _first_k(candidates, seen, k)


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
        return self.learn([self.summarize(logs)])

    def summarize(self, logs: Logs):
        """What :meth:`learn` needs from one shard's part of the arm's logs of a day (runs on the
        shard's worker; default: the artwork policy's :meth:`~recsys.policies.artwork.ArtworkPolicy.summarize`)."""
        return self.artwork.summarize(logs)

    def learn(self, parts: list) -> "Policy":
        """Learn from the :meth:`summarize` of every shard of a day, in shard order."""
        self.artwork.learn(parts)
        return self
