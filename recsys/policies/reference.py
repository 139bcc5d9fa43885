"""The reference policies: ``random`` (the floor, and the position-bias probe), ``popularity``
(the usual control) and ``genre_rows`` (the warm-up's logging policy, a cheap personalised
incumbent)."""

from __future__ import annotations

import numpy as np

from recsys.core.page import ROW_KIND, Page
from recsys.models.data import interaction_matrix
from recsys.models.popularity import Popularity
from recsys.policies.artwork.base import ArtworkPolicy
from recsys.policies.base import Policy, _first_unseen, _mark_shown, _width, random_titles, take_unseen


def _shown_in(shown: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Per row of a users x titles mask, how many of the titles ``pool`` it marks (a few per
    row: counted from the marked cells, not by reading every pool column)."""
    n, T = shown.shape
    cells = np.flatnonzero(shown)
    in_pool = np.zeros(T, bool)
    in_pool[pool] = True
    return np.bincount(cells[in_pool[cells % T]] // T, minlength=n)


class RandomPolicy(Policy):
    """Random available titles at random positions: the floor, and the position-bias probe."""

    name = "random"
    row_kind = "explore"

    def rank(self, ctx, k, rand):
        pool = np.flatnonzero(self.catalog_.available(ctx.day)).astype(np.int32)
        cand = random_titles(ctx.user_ids, ctx.day, pool, k + ctx.recent.shape[1], rand)
        return take_unseen(cand, ctx.recent, k), None


def decayed_popularity(logs, catalog, *, day: int, n_users: int, halflife: float) -> tuple[Popularity, np.ndarray]:
    """Play counts decayed with ``halflife`` days up to ``day`` (a fitted :class:`Popularity`),
    and the titles from most to least played (ties by title id)."""
    X = interaction_matrix(logs.plays, n_users, catalog.n_titles, runtime=catalog.runtime, day=day, halflife=halflife)
    scorer = Popularity(smoothing=1e-6).fit(X)
    return scorer, np.argsort(-scorer.popularity_, kind="stable").astype(np.int32)


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
        self.scorer_, self.order_ = decayed_popularity(logs, catalog, day=day, n_users=n_users, halflife=self.halflife)
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

    ``explore_draw`` says how an explored slot's title is drawn. ``"unseen"`` (the default): the
    next available title of a random permutation that is not yet on the page nor a recent play,
    so a page never repeats a title; its logged ``title_propensity`` is approximate (the
    probability of a title in a slot, ``(1 - explore) [title is the slot's own] + explore / U``
    with ``U`` the titles it could have drawn). ``"uniform"``: any available title, uniformly and
    independently per slot (a title may then repeat on a page or be a recent play); the logged
    propensity ``(1 - explore) [title is the slot's own] + explore / available titles`` is exact,
    positive for every available title in every slot, and the same whatever the other slots
    show: what whole-page off-policy evaluation needs (:mod:`recsys.evaluate.slate`).
    """

    name = "genre_rows"
    row_kind = "popular_now"
    KINDS = ("genre", "popular_now", "new_this_week")
    DRAWS = ("unseen", "uniform")

    def __init__(self, halflife: float = 7.0, explore: float = 0.0,
                 rows: tuple[str, ...] = ("genre", "genre", "popular_now", "new_this_week", "popular_now"),
                 new_days: int = 7, artwork: ArtworkPolicy | None = None, explore_draw: str = "unseen"):
        super().__init__(artwork)
        unknown = [r for r in rows if r not in self.KINDS]
        if unknown:
            raise ValueError(f"unknown row kind {unknown[0]!r} (known: {', '.join(self.KINDS)})")
        if explore_draw not in self.DRAWS:
            raise ValueError(f"unknown explore_draw {explore_draw!r} (known: {', '.join(self.DRAWS)})")
        self.halflife = halflife
        self.explore = explore
        self.rows = tuple(rows)
        self.new_days = new_days
        self.explore_draw = explore_draw

    def fit(self, logs, catalog, *, day, n_users):
        super().fit(logs, catalog, day=day, n_users=n_users)
        scorer, self.order_ = decayed_popularity(logs, catalog, day=day, n_users=n_users, halflife=self.halflife)
        self.popularity_ = scorer.popularity_
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
        tprop = np.ones((n, R, L), np.float32)
        kinds = np.full((n, R), ROW_KIND["popular_now"], np.int8)
        refs = np.full((n, R), -1, np.int32)
        step = max(256, self.block_cells // max(self.catalog_.n_titles, 1))
        for lo in range(0, n, step):
            sl = slice(lo, min(lo + step, n))
            self._block(ctx.take(np.arange(sl.start, sl.stop)), layout, rand, popular, by_genre, fresh, pool,
                        titles[sl], kinds[sl], refs[sl], tprop[sl])
        flat = titles.reshape(n, -1)
        score = np.where(flat >= 0, self.popularity_[np.maximum(flat, 0)], np.nan).astype(np.float32)
        page = Page(titles=titles, artwork=np.full(titles.shape, -1, np.int32),
                    propensity=np.ones(titles.shape, np.float32), row_kind=kinds, row_ref=refs,
                    score=score.reshape(titles.shape), title_propensity=tprop)
        return self.add_artwork(page, ctx, rand)

    def _block(self, ctx, layout, rand, popular, by_genre, fresh, pool, titles, kinds, refs, tprop):
        """Fill ``titles``, ``kinds``, ``refs``, ``tprop`` (views of the page arrays) for one block of users."""
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
            flat = titles.reshape(n, S).copy()         # each slot's own title
            swap = rand.uniform(ctx.user_ids[:, None], ctx.day, np.arange(S)[None, :]) < self.explore
            if self.explore_draw == "uniform":
                u = rand.child("explore-uniform").uniform(ctx.user_ids[:, None], ctx.day, np.arange(S)[None, :])
                drawn = pool[np.minimum((u * len(pool)).astype(np.int64), len(pool) - 1)]
                choices = np.float32(len(pool))
            else:
                u, k = np.nonzero(swap & (flat >= 0))
                shown[u, flat[u, k]] = False       # titles are unique and never recent: the mask keeps the rest
                rnd = random_titles(ctx.user_ids, ctx.day, pool, 2 * S + ctx.recent.shape[1], rand.child("explore"))
                rnd = _first_unseen(rnd, shown, S)
                j = np.maximum(np.cumsum(swap, axis=1) - 1, 0)   # the j-th swapped slot takes the j-th draw
                drawn = np.take_along_axis(rnd, j, 1)
                choices = np.maximum(len(pool) - _shown_in(shown, pool), 1).astype(np.float32)[:, None]
            shown_t = np.where(swap, drawn, flat)
            titles[:] = shown_t.reshape(titles.shape)
            own = (shown_t == flat) & (shown_t >= 0)
            prop = np.where(shown_t >= 0, (1 - self.explore) * own + self.explore / choices, 1.0)
            tprop[:] = prop.reshape(tprop.shape)
