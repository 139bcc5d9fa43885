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
genre             has the user's n-th genre                the user's ranking
new_this_week     released within ``new_days`` of the day  the user's ranking
popular_now       any                                      popularity
================= ======================================== ==================================

A row that finds fewer than ``min_fill`` of its length qualifying (no recent play, no new
titles) becomes a further "top picks" row; a row's remaining slots are filled from the user's
ranking. Everything is vectorised over users; the loop runs over the page's rows.
"""

from __future__ import annotations

import numpy as np

from recsys.page import ROW_KIND, Layout, Page, UserContext

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
    """Turns a ranked pool into a :class:`~recsys.page.Page` of named rows.

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
        valid = dedupe(pool)
        used = ~valid
        rank = np.arange(P, dtype=np.float64)[None, :]
        safe = np.maximum(pool, 0)
        titles = np.full((n, R, L), -1, dtype=np.int32)
        slot_pos = np.full((n, R, L), -1, dtype=np.int64)
        kinds = np.full((n, R), ROW_KIND["top_picks"], dtype=np.int8)
        refs = np.full((n, R), -1, dtype=np.int32)
        genre_rank = self._genre_order(ctx, pool, genres)
        genre_row = 0
        need = int(np.ceil(self.min_fill * L))

        for r, kind in enumerate(self.plan(R)):
            eligible = ~used
            key = None
            ref = np.full(n, -1, dtype=np.int32)
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
                if genres.shape[1]:
                    g = genre_rank[:, min(genre_row, genre_rank.shape[1] - 1)]
                    eligible = eligible & genres[safe, g[:, None]]
                    ref = g.astype(np.int32)
                else:
                    eligible = np.zeros_like(eligible)
                genre_row += 1
            elif kind == "new_this_week":
                if release_day is None:
                    eligible = np.zeros_like(eligible)
                else:
                    rd = release_day[safe]
                    eligible = eligible & (rd <= ctx.day) & (rd > ctx.day - self.new_days)
            elif kind == "popular_now":
                key = popularity_rank[safe].astype(np.float64)
            picked = _first(key, eligible, L)
            enough = (picked >= 0).sum(1) >= (need if kind != "top_picks" else 0)
            picked[~enough] = -1
            # unfilled slots (and rows that became top picks) take the ranking's next titles;
            # `picked` holds its -1s at the end, so the j-th empty slot takes the j-th filler
            taken = used.copy()
            _mark(taken, picked)
            fill = _first(None, ~taken, L)
            shift = np.maximum(np.cumsum(picked < 0, axis=1) - 1, 0)
            picked = np.where(picked < 0, np.take_along_axis(fill, shift, 1), picked)
            ok = picked >= 0
            _mark(used, picked)
            slot_pos[:, r] = picked
            titles[:, r] = np.where(ok, np.take_along_axis(pool, np.maximum(picked, 0), 1), -1)
            kinds[:, r] = np.where(enough, ROW_KIND[kind], ROW_KIND["top_picks"])
            refs[:, r] = np.where(enough, ref, -1)

        flat = slot_pos.reshape(n, -1)
        sc = np.where(flat >= 0, np.take_along_axis(score, np.maximum(flat, 0), 1), np.nan).astype(np.float32)
        return Page(titles=titles, artwork=np.full(titles.shape, -1, np.int32),
                    propensity=np.ones(titles.shape, np.float32), row_kind=kinds, row_ref=refs,
                    score=sc.reshape(titles.shape))

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
