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

from recsys.artwork import ArtworkPolicy, FixedArtwork
from recsys.models.data import interaction_matrix
from recsys.models.popularity import Popularity
from recsys.core.page import ROW_KIND, Layout, Page, UserContext
from recsys.core.rng import KeyedRandom
from recsys.core.logs import Logs
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
    order = np.argsort(seen, axis=1, kind="stable")[:, :k]
    out = np.take_along_axis(candidates, order, 1)
    out[np.take_along_axis(seen, order, 1)] = -1
    return _width(out, k)


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
        shard's worker; default: the artwork policy's :meth:`~recsys.artwork.ArtworkPolicy.summarize`)."""
        return self.artwork.summarize(logs)

    def learn(self, parts: list) -> "Policy":
        """Learn from the :meth:`summarize` of every shard of a day, in shard order."""
        self.artwork.learn(parts)
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


class GenreRowsPolicy(Policy):
    """A cheap personalised homepage: rows of the user's top observed genres, each holding the
    most played (time-decayed) available titles of that genre, then "Popular now" and "New this
    week" rows; optional exploration. The warm-up's logging policy, standing in for a service's
    current homepage.

    ``rows`` names the rows top to bottom (kinds ``genre``, ``popular_now``, ``new_this_week``);
    a layout with more rows adds ``popular_now`` rows. The n-th ``genre`` row shows the user's
    n-th genre by their observed genre profile (``UserContext.genre_profile``); a user with fewer
    genres (no history: none) gets a "Popular now" row instead, and a "New this week" row with
    fewer than half its length of releases (within ``new_days`` of the day) too. Titles are never
    repeated on a page nor taken from the user's recent plays; a genre row short of titles is
    completed by popularity. ``explore`` is the share of slots given to random available titles,
    drawn per user and day (:func:`random_titles`), so a page never depends on the batch.
    Everything is vectorised over users; the loop runs over the page's rows.
    """

    name = "genre_rows"
    row_kind = "popular_now"
    KINDS = ("genre", "popular_now", "new_this_week")

    def __init__(self, halflife: float = 7.0, explore: float = 0.0,
                 rows: tuple[str, ...] = ("genre", "genre", "popular_now", "new_this_week", "popular_now"),
                 new_days: int = 7, artwork: ArtworkPolicy | None = None):
        super().__init__(artwork)
        unknown = [r for r in rows if r not in self.KINDS]
        if unknown:
            raise ValueError(f"unknown row kind {unknown[0]!r} (known: {', '.join(self.KINDS)})")
        self.halflife = halflife
        self.explore = explore
        self.rows = tuple(rows)
        self.new_days = new_days

    def fit(self, logs, catalog, *, day, n_users):
        super().fit(logs, catalog, day=day, n_users=n_users)
        X = interaction_matrix(logs.plays, n_users, catalog.n_titles, runtime=catalog.runtime,
                               day=day, halflife=self.halflife)
        self.popularity_ = Popularity(smoothing=1e-6).fit(X).popularity_
        self.order_ = np.argsort(-self.popularity_, kind="stable").astype(np.int32)
        # per genre, its titles by popularity (G, M), -1 padded
        member = catalog.genres.toarray()[self.order_] > 0     # (T, G) rows in popularity order
        self.genre_order_ = np.full((catalog.n_genres, max(int(member.sum(0).max(initial=0)), 1)), -1, np.int32)
        for j in range(catalog.n_genres):                      # a loop over the ~20 genres, not users
            mine = self.order_[member[:, j]]
            self.genre_order_[j, :len(mine)] = mine
        return self

    def plan(self, n_rows: int) -> list[str]:
        plan = list(self.rows[:n_rows])
        return plan + ["popular_now"] * (n_rows - len(plan))

    #: users per block: a block keeps a users x titles "already shown" mask of about this many cells
    block_cells = 1 << 24

    def pages(self, ctx, layout, rand):
        n, R, L = len(ctx), layout.rows, layout.row_length
        avail = self.catalog_.available(ctx.day)
        M = layout.slots + ctx.recent.shape[1]     # enough to find L titles past recent plays and the page
        popular = _width(self.order_[avail[self.order_]][None, :], M)[0]
        go = self.genre_order_
        ok = (go >= 0) & avail[np.maximum(go, 0)]
        keep = np.argsort(~ok, axis=1, kind="stable")
        by_genre = _width(np.where(np.take_along_axis(ok, keep, 1), np.take_along_axis(go, keep, 1), -1), M)
        rd = self.catalog_.release_day
        fresh = np.flatnonzero(avail & (rd > ctx.day - self.new_days))
        fresh = fresh[np.lexsort((-rd[fresh], -self.popularity_[fresh]))][:M].astype(np.int32)
        pool = np.flatnonzero(avail).astype(np.int32)

        titles = np.full((n, R, L), -1, np.int32)
        kinds = np.full((n, R), ROW_KIND["popular_now"], np.int8)
        refs = np.full((n, R), -1, np.int32)
        step = max(256, self.block_cells // max(self.catalog_.n_titles, 1))
        for lo in range(0, n, step):
            sl = slice(lo, min(lo + step, n))
            self._block(ctx.take(np.arange(sl.start, sl.stop)), layout, rand, popular, by_genre, fresh, pool,
                        titles[sl], kinds[sl], refs[sl])
        flat = titles.reshape(n, -1)
        score = np.where(flat >= 0, self.popularity_[np.maximum(flat, 0)], np.nan).astype(np.float32)
        page = Page(titles=titles, artwork=np.full(titles.shape, -1, np.int32),
                    propensity=np.ones(titles.shape, np.float32), row_kind=kinds, row_ref=refs,
                    score=score.reshape(titles.shape))
        return self.add_artwork(page, ctx, rand)

    def _block(self, ctx, layout, rand, popular, by_genre, fresh, pool, titles, kinds, refs):
        """Fill ``titles``, ``kinds``, ``refs`` (views of the page arrays) for one block of users."""
        n, R, L = len(ctx), layout.rows, layout.row_length
        shown = np.zeros((n, self.catalog_.n_titles), bool)   # recent plays and titles already placed
        _mark_shown(shown, ctx.recent)
        prof = np.asarray(ctx.genre_profile, np.float64)
        plan = self.plan(R)
        top = np.argsort(-prof, axis=1, kind="stable")[:, :max(plan.count("genre"), 1)]
        has_genre = np.take_along_axis(prof, top, 1) > 0
        pop = np.broadcast_to(popular, (n, len(popular)))
        need = int(np.ceil(0.5 * L))
        genre_row = 0
        for r, kind in enumerate(plan):
            if kind == "genre" and genre_row < top.shape[1]:
                g, has = top[:, genre_row], has_genre[:, genre_row]
                row = _first_unseen(np.where(has[:, None], by_genre[g], pop), shown, L)
                kinds[:, r] = np.where(has, ROW_KIND["genre"], ROW_KIND["popular_now"])
                refs[:, r] = np.where(has, g, -1)
                genre_row += 1
            elif kind == "new_this_week":
                row = _first_unseen(np.broadcast_to(fresh, (n, len(fresh))), shown, L)
                enough = (row >= 0).sum(1) >= need
                row[~enough] = -1
                kinds[:, r] = np.where(enough, ROW_KIND["new_this_week"], ROW_KIND["popular_now"])
            else:
                row = _first_unseen(pop, shown, L)
            _mark_shown(shown, row)
            short = np.flatnonzero((row < 0).any(1))
            if len(short):   # complete short rows by popularity, keeping the row's own titles first
                fill = _first_unseen(pop[short], shown[short], L)
                mine = row[short]
                j = np.maximum(np.cumsum(mine < 0, axis=1) - 1, 0)
                row[short] = np.where(mine < 0, np.take_along_axis(fill, j, 1), mine)
                _mark_shown(shown, row)
            titles[:, r] = row

        if self.explore > 0:
            S = layout.slots
            flat = titles.reshape(n, S)
            swap = rand.uniform(ctx.user_ids[:, None], ctx.day, np.arange(S)[None, :]) < self.explore
            u, k = np.nonzero(swap & (flat >= 0))
            shown[u, flat[u, k]] = False       # titles are unique and never recent: the mask keeps the rest
            rnd = random_titles(ctx.user_ids, ctx.day, pool, 2 * S + ctx.recent.shape[1], rand.child("explore"))
            rnd = _first_unseen(rnd, shown, S)
            j = np.maximum(np.cumsum(swap, axis=1) - 1, 0)   # the j-th swapped slot takes the j-th draw
            titles[:] = np.where(swap, np.take_along_axis(rnd, j, 1), flat).reshape(titles.shape)
