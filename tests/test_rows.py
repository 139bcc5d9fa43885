"""The row builder: named rows, no title twice on a page, fallbacks when a row has no material."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.core.page import ROW_KIND, Layout, UserContext
from recsys.policies.rows import RowBuilder, dedupe

T, G = 200, 6


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(1)
    genres = np.zeros((T, G), dtype=bool)
    genres[np.arange(T), np.arange(T) % G] = True
    genres[np.arange(T), (np.arange(T) * 5 + 1) % G] = True
    release = np.where(np.arange(T) % 10 == 0, -rng.integers(0, 6, T), -100)  # every 10th title is new
    pop_rank = rng.permutation(T)
    emb = rng.standard_normal((T, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return genres, release, pop_rank, emb


def _ctx(n, rng, recent_len=3, no_recent=()):
    recent = rng.integers(0, T, (n, recent_len)).astype(np.int32)
    recent[list(no_recent)] = -1
    prof = rng.random((n, G)).astype(np.float32)
    z = np.zeros(n, np.int32)
    return UserContext(day=0, user_ids=np.arange(n), recent=recent, genre_profile=prof, plays=z, sessions=z, signup_day=z)


def _pool(n, rng, P=120):
    pool = np.stack([rng.permutation(T)[:P] for _ in range(n)]).astype(np.int32)
    pool[:, 5] = pool[:, 2]  # duplicates in the pool are ignored
    return pool, np.sort(rng.random((n, P)), axis=1)[:, ::-1].astype(np.float32)


def _build(world, ctx, pool, score, layout, **kw):
    genres, release, pop_rank, emb = world
    return RowBuilder(**kw).build(pool, score, ctx, layout, genres=genres, popularity_rank=pop_rank,
                                  release_day=release, embedding=emb)


def test_rows_are_named_and_deduplicated(world):
    rng = np.random.default_rng(0)
    n = 40
    ctx = _ctx(n, rng, no_recent=[0, 1])
    pool, score = _pool(n, rng)
    page = _build(world, ctx, pool, score, Layout(5, 8))
    assert page.titles.shape == (n, 5, 8) and page.row_kind.shape == (n, 5)
    flat = page.titles.reshape(n, -1)
    assert (flat >= 0).all()
    s = np.sort(flat, 1)
    assert not (s[:, 1:] == s[:, :-1]).any()
    assert all(np.isin(flat[i], pool[i]).all() for i in range(n))
    assert (page.row_kind[2:, 0] == ROW_KIND["top_picks"]).all()
    assert (page.row_kind[:2, 0] == ROW_KIND["popular_now"]).all()      # users 0 and 1 have no play


def test_top_picks_are_the_ranking_head(world):
    rng = np.random.default_rng(3)
    ctx = _ctx(10, rng)
    pool = np.stack([rng.permutation(T)[:100] for _ in range(10)]).astype(np.int32)
    score = np.sort(rng.random((10, 100)), axis=1)[:, ::-1].astype(np.float32)
    page = _build(world, ctx, pool, score, Layout(5, 8))
    np.testing.assert_array_equal(page.titles[:, 0], pool[:, :8])
    np.testing.assert_array_equal(page.score[:, 0], score[:, :8])


def test_because_you_watched_anchors_on_the_latest_play(world):
    genres, release, pop_rank, emb = world
    rng = np.random.default_rng(4)
    n = 30
    ctx = _ctx(n, rng, no_recent=[0])
    pool, score = _pool(n, rng)
    page = _build(world, ctx, pool, score, Layout(5, 8))
    byw = ROW_KIND["because_you_watched"]
    # no play at all: not "because you watched", but the user's next genre (named for what it holds)
    assert page.row_kind[0, 1] == ROW_KIND["popular_now"] and page.row_ref[0, 1] >= 0
    for i in range(1, n):
        assert page.row_kind[i, 1] == byw
        a = ctx.recent[i, 0]
        assert page.row_ref[i, 1] == a
        row = page.titles[i, 1]
        sims = emb[row] @ emb[a]
        # the row is the most similar titles among those left after "Top picks"
        left = [t for t in dict.fromkeys(pool[i]) if t not in page.titles[i, 0] and t != a]
        best = np.sort(emb[left] @ emb[a])[::-1][:8]
        np.testing.assert_allclose(np.sort(sims)[::-1], best, rtol=1e-5)


def test_genre_new_and_popular_rows_qualify(world):
    genres, release, pop_rank, emb = world
    rng = np.random.default_rng(5)
    n = 30
    ctx = _ctx(n, rng)
    pool, score = _pool(n, rng, P=180)
    page = _build(world, ctx, pool, score, Layout(5, 8))
    g_row, new_row, pop_row = page.titles[:, 2], page.titles[:, 3], page.titles[:, 4]
    assert (page.row_kind[:, 2] == ROW_KIND["genre"]).all()
    top_genre = np.argmax(ctx.genre_profile, axis=1)
    np.testing.assert_array_equal(page.row_ref[:, 2], top_genre)
    assert genres[g_row, top_genre[:, None]].all()
    new_kind = page.row_kind[:, 3] == ROW_KIND["new_this_week"]
    assert new_kind.any()
    fresh = (release[new_row] <= 0) & (release[new_row] > -7)
    assert fresh[new_kind].sum(1).min() >= 4  # at least min_fill qualify; the rest filled from the ranking
    assert (page.row_kind[:, 4] == ROW_KIND["popular_now"]).all()
    assert (np.diff(pop_rank[pop_row], axis=1) > 0).all()


def test_layouts_with_more_or_fewer_rows(world):
    rng = np.random.default_rng(6)
    ctx = _ctx(8, rng)
    pool, score = _pool(8, rng, P=150)
    big = _build(world, ctx, pool, score, Layout(7, 6))
    assert big.titles.shape == (8, 7, 6)
    assert (big.row_kind[:, 5:] == ROW_KIND["genre"]).all()
    assert (big.row_ref[:, 5] != big.row_ref[:, 2]).all()  # the user's next genres
    small = _build(world, ctx, pool, score, Layout(2, 4))
    assert small.titles.shape == (8, 2, 4)


def test_short_pool_leaves_empty_slots(world):
    rng = np.random.default_rng(7)
    ctx = _ctx(4, rng)
    pool = np.full((4, 20), -1, np.int32)
    pool[:, :10] = np.arange(10)
    page = _build(world, ctx, pool, np.zeros((4, 20), np.float32), Layout(5, 8))
    flat = page.titles.reshape(4, -1)
    assert ((flat >= 0).sum(1) == 10).all()


def test_dedupe():
    np.testing.assert_array_equal(dedupe(np.array([[3, 1, 3, -1, 1, 2]])), [[True, True, False, False, False, True]])


def test_unknown_row_kind():
    with pytest.raises(ValueError, match="unknown row kind"):
        RowBuilder(rows=("top_picks", "nope")).plan(2)


def _kinds_and_refs(page, i):
    """(kind, ref) of each non-empty row of user ``i``."""
    return [(int(k), int(r)) for k, r, t in zip(page.row_kind[i], page.row_ref[i], page.titles[i]) if (t >= 0).any()]


def test_no_page_repeats_a_row_kind_and_reference(world):
    """Rows that cannot be what was planned (no play to anchor on, no new titles, a plan naming a
    kind twice, more genre rows than the user's genres have titles) become the user's next genre:
    never a second row of a kind and reference already on the page."""
    genres, release, pop_rank, emb = world
    rng = np.random.default_rng(8)
    n = 60
    ctx = _ctx(n, rng, no_recent=range(20))
    pool, score = _pool(n, rng)
    no_new = np.full(T, -100)                       # nothing released this week
    plans = [None, ("top_picks", "top_picks", "because_you_watched", "because_you_watched", "popular_now",
                    "popular_now", "new_this_week", "genre", "genre")]
    for rows in plans:
        kw = {} if rows is None else {"rows": rows}
        page = RowBuilder(**kw).build(pool, score, ctx, Layout(9, 6), genres=genres, popularity_rank=pop_rank,
                                      release_day=no_new, embedding=emb)
        for i in range(n):
            pairs = _kinds_and_refs(page, i)
            assert len(pairs) == len(set(pairs)), (rows, i, pairs)
        flat = page.titles.reshape(n, -1)
        s = np.sort(np.where(flat >= 0, flat, -np.arange(1, flat.shape[1] + 1)), 1)
        assert not (s[:, 1:] == s[:, :-1]).any()
        # a fallback genre row holds at least min_fill titles of its genre
        g_rows = (page.row_kind == ROW_KIND["genre"]) & (page.row_ref >= 0)
        i, r = np.nonzero(g_rows)
        hits = genres[np.maximum(page.titles[i, r], 0), page.row_ref[i, r][:, None]] & (page.titles[i, r] >= 0)
        assert (hits.sum(1) >= 3).all()


def test_a_user_without_plays_gets_rows_named_for_popularity(world):
    """The scorer ranks a user with no play by popularity, so the rows say so: "Popular now" and
    "Popular in <genre>" (popular_now with the genre as reference); no "Top picks" row."""
    genres, release, pop_rank, emb = world
    rng = np.random.default_rng(9)
    n = 12
    ctx = _ctx(n, rng, no_recent=range(6))
    pool, score = _pool(n, rng)
    page = _build(world, ctx, pool, score, Layout(5, 8))
    pop = ROW_KIND["popular_now"]
    for i in range(6):
        kinds = page.row_kind[i]
        assert ROW_KIND["top_picks"] not in kinds and ROW_KIND["genre"] not in kinds
        np.testing.assert_array_equal(page.titles[i, 0], list(dict.fromkeys(pool[i]))[:8])  # the scorer's head, renamed
        assert page.row_kind[i, 0] == pop and page.row_ref[i, 0] == -1
        in_genre = [r for r in range(5) if kinds[r] == pop and page.row_ref[i, r] >= 0]
        assert len(in_genre) >= 2
        for r in in_genre:
            assert genres[page.titles[i, r], page.row_ref[i, r]].sum() >= 4
    # users with plays keep their personal rows
    assert (page.row_kind[6:, 0] == ROW_KIND["top_picks"]).all()
    assert (page.row_kind[6:, 1] == ROW_KIND["because_you_watched"]).all()
