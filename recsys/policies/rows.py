"""The homepage row builder: ranked titles -> named rows, de-duplicated across the page.

Input is a per-user *pool* of candidate titles, already ranked (and re-ranked) best first, plus
a few shared extras (the popular and the newly released titles) so that every row kind has
material. Each row takes, among the pool titles not yet placed on the page, the first
``row_length`` that qualify for it by its own order:

================= ======================================== ==================================
kind              qualifies                                order
================= ======================================== ==================================
top_picks         any                                      the user's ranking
because_you_watched any; anchor = most recent play         similarity to the anchor
genre             has the user's next genre without a row  the user's ranking
new_this_week     released within ``new_days`` of the day  the user's ranking
popular_now       any                                      popularity
================= ======================================== ==================================

A page never holds two rows of the same kind and reference. A row that finds fewer than
``min_fill`` of its length qualifying (no recent play, no new titles, a genre short of titles),
or that would repeat a row already on the page, becomes a row of the user's next genre that has
enough titles left; a row's remaining slots are filled from the user's ranking, and a row with
nothing left to hold stays empty.

Rows are named for what they hold. A user with no play at all is ranked by the scorer's
cold-start fallback, which is popularity: their "top picks" row is emitted as ``popular_now``
and their genre rows as ``popular_now`` with the genre as reference ("Popular in Comedy"); the
planned "Popular now" row then repeats the first and gives way to a genre. Everything is
vectorised over users; the loop runs over the page's rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.core.page import ROW_KIND, ROW_KINDS, Layout, Page, UserContext

DEFAULT_ROWS = ("top_picks", "because_you_watched", "genre", "new_this_week", "popular_now")


def _first_ranked(eligible: np.ndarray, L: int) -> np.ndarray:
    """Per row, the first ``L`` eligible positions (-1 if none): a stable sort of a bool mask."""
    idx = np.argsort(~eligible, axis=1, kind="stable")[:, :L]
    idx[~np.take_along_axis(eligible, idx, 1)] = -1
    return idx


def _first(key: np.ndarray | None, eligible: np.ndarray, L: int) -> np.ndarray:
    """Per row, the positions of the ``L`` smallest ``key`` among ``eligible`` (-1 if none);
    ``key`` None means the pool's own order."""
    if key is None:
        return _first_ranked(eligible, L)
    k = np.where(eligible, key, np.inf)
    P = k.shape[1]
    L = min(L, P)
    if L < P:
        part = np.argpartition(k, L - 1, axis=1)[:, :L]
    else:
        part = np.broadcast_to(np.arange(P), k.shape).copy()
    order = np.argsort(np.take_along_axis(k, part, 1), axis=1, kind="stable")
    idx = np.take_along_axis(part, order, 1)
    idx[~np.isfinite(np.take_along_axis(k, idx, 1))] = -1
    return idx


def dedupe(titles: np.ndarray) -> np.ndarray:
    """Mask (n, P) of the first occurrence of each title in each row (and not -1)."""
    order = np.argsort(titles, axis=1, kind="stable")
    s = np.take_along_axis(titles, order, 1)
    first_sorted = np.ones(s.shape, dtype=bool)
    first_sorted[:, 1:] = s[:, 1:] != s[:, :-1]
    first = np.zeros(titles.shape, dtype=bool)
    np.put_along_axis(first, order, first_sorted, 1)
    return first & (titles >= 0)


def _mark(mask: np.ndarray, pos: np.ndarray) -> None:
    """Set ``mask[i, pos[i, j]]`` for every ``pos >= 0``."""
    r, c = np.nonzero(pos >= 0)
    mask[r, pos[r, c]] = True


def _unit(genres: np.ndarray) -> np.ndarray:
    g = genres.astype(np.float32)
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    return np.divide(g, norm, out=np.zeros_like(g), where=norm > 0)


class RowBuilder:
    """Turns a ranked pool into a :class:`~recsys.core.page.Page` of named rows.

    ``rows``: the row kinds top to bottom; a layout with more rows repeats ``genre`` rows (the
    user's next genres), one with fewer keeps the first ones.
    """

    def __init__(self, rows: tuple[str, ...] = DEFAULT_ROWS, new_days: int = 7, min_fill: float = 0.5):
        self.rows = tuple(rows)
        self.new_days = new_days
        self.min_fill = min_fill

    def get_params(self, deep: bool = True) -> dict:
        return {"rows": self.rows, "new_days": self.new_days, "min_fill": self.min_fill}

    def plan(self, n_rows: int) -> list[str]:
        unknown = [r for r in self.rows if r not in ROW_KIND]
        if unknown:
            raise ValueError(f"unknown row kind {unknown[0]!r}")
        plan = list(self.rows[:n_rows])
        while len(plan) < n_rows:
            plan.append("genre")
        return plan

    def build(self, pool: np.ndarray, score: np.ndarray, ctx: UserContext, layout: Layout, *,
              genres: np.ndarray, popularity_rank: np.ndarray, release_day: np.ndarray | None,
              embedding: np.ndarray | None) -> Page:
        """``pool`` (n, P) title ids in the user's order (-1 = none), ``score`` (n, P);
        ``genres`` (T, G) bool; ``popularity_rank`` (T,) 0 = most popular; ``embedding`` (T, d)
        unit rows for "because you watched" (None: genre cosine)."""
        n, P = pool.shape
        R, L = layout.rows, layout.row_length
        G = genres.shape[1]
        valid = dedupe(pool)
        used = ~valid
        rank = np.arange(P, dtype=np.float64)[None, :]
        safe = np.maximum(pool, 0)
        titles = np.full((n, R, L), -1, dtype=np.int32)
        slot_pos = np.full((n, R, L), -1, dtype=np.int64)
        kinds = np.full((n, R), ROW_KIND["top_picks"], dtype=np.int8)
        refs = np.full((n, R), -1, dtype=np.int32)
        genre_rank = self._genre_order(ctx, pool, genres)
        need = int(np.ceil(self.min_fill * L))
        everyone = np.arange(n)
        # a user with no play at all is ranked by the scorer's cold-start fallback, popularity:
        # their "top picks" are what is popular, and their genre rows what is popular in the genre
        cold = (np.asarray(ctx.plays) <= 0) & ~(ctx.recent >= 0).any(1)
        shown_kind = np.zeros((n, len(ROW_KINDS)), dtype=bool)    # rows without a genre, one per kind
        shown_genre = np.zeros((n, max(G, 1)), dtype=bool)        # genres with a row (any kind)

        for r, kind in enumerate(self.plan(R)):
            eligible = ~used
            key = None
            ref = np.full(n, -1, dtype=np.int32)
            code = np.full(n, ROW_KIND[kind], dtype=np.int8)
            if kind == "because_you_watched":
                anchor = ctx.recent[:, 0].astype(np.int64) if ctx.recent.shape[1] else np.full(n, -1)
                has = anchor >= 0
                E = embedding if embedding is not None else _unit(genres)
                a = E[np.maximum(anchor, 0)]
                if P * E.shape[1] < E.shape[0]:
                    sim = np.einsum("npd,nd->np", E[safe], a)
                else:
                    sim = np.take_along_axis(a @ E.T, safe, 1)
                key = 1e-6 * rank / P - sim  # similarity to the anchor; the ranking breaks ties
                eligible = eligible & has[:, None] & (pool != anchor[:, None])
                ref = np.where(has, anchor, -1).astype(np.int32)
            elif kind == "genre":
                g, has = self._next_genre(genre_rank, shown_genre, G)
                eligible = eligible & has[:, None] & (genres[safe, g[:, None]] if G else False)
                ref = np.where(has, g, -1).astype(np.int32)
                code = np.where(cold, ROW_KIND["popular_now"], ROW_KIND["genre"]).astype(np.int8)
            elif kind == "new_this_week":
                if release_day is None:
                    eligible = np.zeros_like(eligible)
                else:
                    rd = release_day[safe]
                    eligible = eligible & (rd <= ctx.day) & (rd > ctx.day - self.new_days)
            elif kind == "popular_now":
                key = popularity_rank[safe].astype(np.float64)
            elif kind == "top_picks":
                code = np.where(cold, ROW_KIND["popular_now"], ROW_KIND["top_picks"]).astype(np.int8)
            picked = _first(key, eligible, L)
            enough = (picked >= 0).sum(1) >= (need if kind != "top_picks" else 0)
            # a row of a kind (and reference) already on the page is never repeated
            repeat = shown_kind[everyone, code] if kind != "genre" else np.zeros(n, dtype=bool)
            ok = enough & ~repeat
            fallback = np.flatnonzero(~ok)
            if len(fallback):
                # instead: the user's next genre with enough titles left (named as a genre row)
                picked[fallback] = -1
                code[fallback] = np.where(cold[fallback], ROW_KIND["popular_now"], ROW_KIND["genre"])
                ref[fallback] = -1
                if G:
                    gf, has_f = self._fallback_genre(pool[fallback], used[fallback], genre_rank[fallback],
                                                     shown_genre[fallback], genres, need)
                    el = ~used[fallback] & has_f[:, None] & genres[safe[fallback], gf[:, None]]
                    picked[fallback] = _first(None, el, L)
                    ref[fallback] = np.where(has_f, gf, -1)
                    ok[fallback] = has_f
            # unfilled slots take the ranking's next titles; `picked` holds its -1s at the end, so
            # the j-th empty slot takes the j-th filler. A row with nothing to hold stays empty.
            taken = used.copy()
            _mark(taken, picked)
            fill = _first(None, ~taken, L)
            shift = np.maximum(np.cumsum(picked < 0, axis=1) - 1, 0)
            picked = np.where((picked < 0) & ok[:, None], np.take_along_axis(fill, shift, 1), picked)
            _mark(used, picked)
            slot_pos[:, r] = picked
            titles[:, r] = np.where(picked >= 0, np.take_along_axis(pool, np.maximum(picked, 0), 1), -1)
            kinds[:, r] = code
            refs[:, r] = ref
            by_genre = (ref >= 0) & (code != ROW_KIND["because_you_watched"])
            shown = ok & (picked >= 0).any(1)
            shown_genre[everyone[shown & by_genre], ref[shown & by_genre]] = True
            shown_kind[everyone[shown & ~by_genre], code[shown & ~by_genre]] = True

        flat = slot_pos.reshape(n, -1)
        sc = np.where(flat >= 0, np.take_along_axis(score, np.maximum(flat, 0), 1), np.nan).astype(np.float32)
        return Page(titles=titles, artwork=np.full(titles.shape, -1, np.int32),
                    propensity=np.ones(titles.shape, np.float32), row_kind=kinds, row_ref=refs,
                    score=sc.reshape(titles.shape))

    @staticmethod
    def _next_genre(genre_rank: np.ndarray, shown_genre: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
        """Per user, the first genre in their order without a row yet, and whether there is one."""
        if G == 0:
            n = genre_rank.shape[0]
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        free = ~np.take_along_axis(shown_genre, genre_rank, 1)
        j = free.argmax(1)
        return genre_rank[np.arange(len(j)), j], free.any(1)

    @staticmethod
    def _fallback_genre(pool: np.ndarray, used: np.ndarray, genre_rank: np.ndarray, shown_genre: np.ndarray,
                        genres: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
        """For rows that could not be what was planned: per user the first genre in their order
        without a row yet that has ``need`` titles left in the pool (else the one with the most),
        and whether there is any such genre with a title left."""
        r, c = np.nonzero(~used & (pool >= 0))                              # titles left, as a users x titles
        left = sp.csr_matrix((np.ones(len(r), np.float32), (r, pool[r, c])), shape=(len(pool), genres.shape[0]))
        counts = np.take_along_axis(np.asarray(left @ genres.astype(np.float32)), genre_rank, 1)  # in the user's order
        free = ~np.take_along_axis(shown_genre, genre_rank, 1)
        good = free & (counts >= need)
        best = np.where(free, counts, -1)
        j = np.where(good.any(1), good.argmax(1), best.argmax(1))
        i = np.arange(len(j))
        return genre_rank[i, j], free[i, j] & (counts[i, j] > 0)

    @staticmethod
    def _genre_order(ctx: UserContext, pool: np.ndarray, genres: np.ndarray) -> np.ndarray:
        """(n, G) genres by the user's taste: their genre profile, then (to break ties, and
        for users with no history) how often each genre appears in their top 20 candidates."""
        G = genres.shape[1]
        n = pool.shape[0]
        if G == 0:
            return np.zeros((n, 1), dtype=np.int64)
        top = pool[:, :20]
        counts = (genres[np.maximum(top, 0)] & (top >= 0)[:, :, None]).sum(1).astype(np.float64)
        prof = np.zeros((n, G))
        if ctx.genre_profile is not None and ctx.genre_profile.shape[1] == G:
            prof = np.asarray(ctx.genre_profile, dtype=np.float64)
            tot = prof.sum(1, keepdims=True)
            prof = np.divide(prof, tot, out=np.zeros_like(prof), where=tot > 0)
        return np.lexsort((-counts, -prof), axis=1)
