"""Policies assembled by name: parameters, and the pages a RecommenderPolicy builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core.errors import InputError
from recsys.core.page import ROW_KIND, Layout, UserContext
from recsys.policies import POLICIES, RecommenderPolicy, make_policy
from recsys.policies.reference import GenreRowsPolicy, PopularityPolicy, RandomPolicy
from recsys.core.rng import KeyedRandom
from recsys.core.logs import PLAY_SCHEMA, Logs, frame
from recsys.world.catalog import make_catalog
from recsys.world.config import WorldConfig

N_USERS, H = 600, 6
LAYOUT = Layout(5, 8)


@pytest.fixture(scope="module")
def setup():
    cfg = WorldConfig(titles=400, cast=150, new_title_share=0.15)
    catalog, _ = make_catalog(cfg, 2)
    rng = np.random.default_rng(0)
    g = catalog.genres.toarray() > 0
    old = catalog.release_day < -7
    big = np.argsort(-(g & old[:, None]).sum(0))[:6]
    fav = rng.choice(big, N_USERS)
    n = rng.poisson(12, N_USERS) + 1
    users = np.repeat(np.arange(N_USERS), n)
    # plays: 80% a random old title of the user's favourite genre, else any old title
    own = g[:, fav[users]].T & old[None, :]
    pick_own = np.array([rng.choice(np.flatnonzero(r)) for r in own])
    titles = np.where(rng.random(len(users)) < 0.8, pick_own, rng.choice(np.flatnonzero(old), len(users)))
    m = len(users)
    plays = frame(PLAY_SCHEMA, dict(
        user_id=users, day=rng.integers(-28, 0, m), session=np.zeros(m), title=titles, artwork=np.zeros(m),
        source=np.zeros(m), minutes=catalog.runtime[titles] * rng.random(m), completed=np.zeros(m, bool),
        abandoned_early=np.zeros(m, bool), episodes=np.ones(m), p_abandon=rng.random(m)))
    return catalog, Logs(plays=plays), fav


def _ctx(catalog, logs, users, day=0, no_history=()):
    p = logs.plays[logs.plays.user_id.isin(users)].sort_values(["user_id", "day"], ascending=[True, False])
    p = p.assign(r=p.groupby("user_id").cumcount())
    p = p[p.r < H]
    pos = pd.Index(users).get_indexer(p.user_id)
    recent = np.full((len(users), H), -1, np.int32)
    recent[pos, p.r] = p.title
    recent[list(no_history)] = -1
    prof = np.zeros((len(users), catalog.n_genres), np.float32)
    np.add.at(prof, pos, catalog.genres.toarray()[p.title.to_numpy()])
    z = np.zeros(len(users), np.int32)
    return UserContext(day=day, user_ids=np.asarray(users, np.int64), recent=recent, genre_profile=prof,
                       plays=z, sessions=z, signup_day=z)


RAND = KeyedRandom.from_seed(0, "test")


def _fit(name, params, setup, seed=0):
    catalog, logs, _ = setup
    return make_policy(name, params, seed=seed).fit(logs, catalog, day=0, n_users=N_USERS)


def test_names_build_the_right_policies():
    assert isinstance(make_policy("random"), RandomPolicy)
    assert isinstance(make_policy("popularity", {"halflife": 3}), PopularityPolicy)
    for name in ("cf", "content", "hybrid"):
        pol = make_policy(name, {"diversity": 0.2, "artwork": "random"})
        assert isinstance(pol, RecommenderPolicy) and pol.name == name
        assert pol.artwork.name == "random"
    assert set(POLICIES) == {"random", "popularity", "cf", "content", "hybrid", "oracle",
                             "als", "bpr", "itemknn", "rp3beta", "ease"}      # each CF model by its name too
    ease = make_policy("ease", {"cf_params": {"l2": 50.0}})
    assert isinstance(ease, RecommenderPolicy) and ease.pipeline.scorer.l2 == 50.0


@pytest.mark.parametrize("name, params, message", [
    ("bandit", {}, "unknown policy 'bandit' (known: random, popularity, cf, content, hybrid, oracle, als, bpr"),
    ("hybrid", {"diversty": 0.3}, "unknown parameter 'diversty' for policy 'hybrid'"),
    ("popularity", {"diversity": 0.3}, "unknown parameter 'diversity' for policy 'popularity'"),
    ("hybrid", {"diversity": "high"}, "diversity must be a number"),
    ("hybrid", {"diversity": -1}, "diversity must be >= 0"),
    ("cf", {"factors": 2.5}, "factors must be an integer"),
    ("cf", {"cf": "svd"}, "cf must be one of als, bpr"),
    ("cf", {"cf": "bpr", "alpha": 3.0}, "alpha does not apply"),
    ("hybrid", {"artwork": "psychic"}, "unknown artwork policy 'psychic'"),
    ("hybrid", {"rows": ["top_picks", "trending"]}, "unknown row kind 'trending'"),
    ("oracle", {}, "the harness must pass world="),
])
def test_bad_names_and_params(name, params, message):
    with pytest.raises(InputError, match=None) as err:
        make_policy(name, params)
    assert message in str(err.value)


def test_oracle_hook_receives_the_world():
    from recsys.policies.oracle import OraclePolicy
    from recsys.world.build import build_world

    world = build_world(WorldConfig(users=50, titles=200, cast=60), 1)
    assert isinstance(make_policy("oracle", {}, world=world), OraclePolicy)
    with pytest.raises(InputError, match="unknown parameter"):
        make_policy("oracle", {"diversity": 0.1}, world=world)


@pytest.mark.parametrize("name", ["cf", "content", "hybrid"])
def test_pages_respect_the_rules(setup, name):
    catalog, logs, _ = setup
    pol = _fit(name, {"diversity": 0.2}, setup)
    users = np.arange(0, N_USERS, 3)
    ctx = _ctx(catalog, logs, users)
    page = pol.pages(ctx, LAYOUT, RAND)
    n = len(users)
    assert page.titles.shape == (n, 5, 8) and page.artwork.shape == (n, 5, 8)
    flat = page.titles.reshape(n, -1)
    assert (flat >= 0).all()
    s = np.sort(flat, 1)
    assert not (s[:, 1:] == s[:, :-1]).any()                                   # no title twice
    assert not (flat[:, :, None] == ctx.recent[:, None, :]).any()               # no recent play
    assert catalog.available(0)[flat].all()                                     # nothing unreleased
    np.testing.assert_array_equal(page.artwork, catalog.default_art[page.titles])
    assert (page.row_kind[:, 0] == ROW_KIND["top_picks"]).all()
    assert np.isfinite(page.score).all()


def test_pages_are_personal_and_independent_of_the_batch(setup):
    catalog, logs, fav = setup
    pol = _fit("hybrid", {}, setup)
    users = np.arange(200)
    ctx = _ctx(catalog, logs, users)
    page = pol.pages(ctx, LAYOUT, RAND)
    g = catalog.genres.toarray() > 0
    assert g[page.titles[:, 0], fav[users, None]].mean() > 0.6                  # top picks match the taste
    alone = pol.pages(ctx.take(np.array([17])), LAYOUT, RAND)
    np.testing.assert_array_equal(alone.titles[0], page.titles[17])
    pol.chunk = 64
    pol.n_jobs = 2
    np.testing.assert_array_equal(pol.pages(ctx, LAYOUT, RAND).titles, page.titles)


def test_same_seed_same_pages_and_hidden_columns_ignored(setup):
    catalog, logs, _ = setup
    ctx = _ctx(catalog, logs, np.arange(100))
    a = _fit("hybrid", {"diversity": 0.3}, setup).pages(ctx, LAYOUT, RAND)
    shuffled = Logs(plays=logs.plays.assign(p_abandon=np.random.default_rng(9).permutation(logs.plays.p_abandon.to_numpy())))
    b = make_policy("hybrid", {"diversity": 0.3}).fit(shuffled, catalog, day=0, n_users=N_USERS).pages(ctx, LAYOUT, RAND)
    np.testing.assert_array_equal(a.titles, b.titles)


def test_new_users_are_served_from_their_recent_plays(setup):
    catalog, logs, fav = setup
    pol = _fit("hybrid", {}, setup)
    ctx = _ctx(catalog, logs, np.arange(50))
    # the same recent plays under unknown user ids (signed up after the fit)
    new_ctx = UserContext(ctx.day, ctx.user_ids + 10_000, ctx.recent, ctx.genre_profile, ctx.plays, ctx.sessions,
                          ctx.signup_day)
    page = pol.pages(new_ctx, LAYOUT, RAND)
    g = catalog.genres.toarray() > 0
    assert g[page.titles[:, 0], fav[:50, None]].mean() > 0.5
    blank = UserContext(0, np.array([20_000]), np.full((1, H), -1, np.int32), np.zeros((1, catalog.n_genres), np.float32),
                        np.zeros(1, np.int32), np.zeros(1, np.int32), np.zeros(1, np.int32))
    assert (pol.pages(blank, LAYOUT, RAND).titles >= 0).all()                   # nothing known: popularity


def test_diversity_raises_page_diversity(setup):
    catalog, logs, _ = setup
    ctx = _ctx(catalog, logs, np.arange(150))
    g = catalog.genres.toarray().astype(np.float64)
    unit = g / np.linalg.norm(g, axis=1, keepdims=True)

    def ild(page):
        V = unit[page.titles[:, 0]]
        s = V.sum(1)
        return ((64 - ((s * s).sum(1) - 8)) / 56).mean()

    lo = ild(_fit("hybrid", {"diversity": 0.0}, setup).pages(ctx, LAYOUT, RAND))
    hi = ild(_fit("hybrid", {"diversity": 1.0}, setup).pages(ctx, LAYOUT, RAND))
    assert hi > lo + 0.1


def test_new_releases_reach_the_new_row(setup):
    catalog, logs, _ = setup
    pol = _fit("hybrid", {"longtail": 0.5, "calibration": 0.2}, setup)
    day = 10
    ctx = _ctx(catalog, logs, np.arange(60), day=day)
    page = pol.pages(ctx, LAYOUT, RAND)
    rd = catalog.release_day
    assert (rd[page.titles] <= day).all()
    fresh = (rd > day - 7) & (rd <= day)
    new_rows = page.row_kind == ROW_KIND["new_this_week"]
    assert new_rows.any()
    assert fresh[page.titles[new_rows]].mean() >= 0.5


def test_a_fitted_policy_pickles(setup):
    """Worker processes receive policies by pickle."""
    import pickle

    catalog, logs, _ = setup
    pol = _fit("hybrid", {"diversity": 0.3, "calibration": 0.1}, setup)
    ctx = _ctx(catalog, logs, np.arange(40))
    again = pickle.loads(pickle.dumps(pol))
    np.testing.assert_array_equal(again.pages(ctx, LAYOUT, RAND).titles, pol.pages(ctx, LAYOUT, RAND).titles)


def _blank(ctx, users):
    """``ctx`` with no history for ``users`` (positions in the batch)."""
    recent, prof = ctx.recent.copy(), ctx.genre_profile.copy()
    recent[users], prof[users] = -1, 0
    return UserContext(ctx.day, ctx.user_ids, recent, prof, ctx.plays, ctx.sessions, ctx.signup_day)


def test_genre_rows_follow_the_observed_genre_profile(setup):
    """The warm-up's logging policy: the user's top observed genres, each its most played titles."""
    catalog, logs, fav = setup
    pol = GenreRowsPolicy().fit(logs, catalog, day=0, n_users=N_USERS)
    users = np.arange(300)
    ctx = _blank(_ctx(catalog, logs, users, day=10), np.arange(20))
    page = pol.pages(ctx, LAYOUT, RAND)
    n = len(users)
    flat = page.titles.reshape(n, -1)
    assert (flat >= 0).all()
    s = np.sort(flat, 1)
    assert not (s[:, 1:] == s[:, :-1]).any()                                   # no title twice
    assert not (flat[:, :, None] == ctx.recent[:, None, :]).any()               # no recent play
    assert catalog.available(10)[flat].all()

    g = catalog.genres.toarray() > 0
    top = np.argsort(-ctx.genre_profile, axis=1, kind="stable")[:, :2]
    hist = np.arange(20, n)
    avail = catalog.available(10)
    for r in (0, 1):   # rows 1 and 2: the user's first and second genres
        assert (page.row_kind[hist, r] == ROW_KIND["genre"]).all()
        np.testing.assert_array_equal(page.row_ref[hist, r], top[hist, r])
        mine = g[page.titles[hist, r], page.row_ref[hist, r, None]]
        assert mine.mean() > 0.95
        for u in hist[np.flatnonzero(~mine.all(1))]:   # completed by popularity only once the genre runs out
            k = g[page.titles[u, r], top[u, r]]
            assert not (~k[:-1] & k[1:]).any()
            left = avail & g[:, top[u, r]]
            left[ctx.recent[u][ctx.recent[u] >= 0]] = False
            left[page.titles[u, :r + 1].ravel()] = False
            assert not left.any()
    assert (page.row_ref[hist, 0] == fav[hist]).mean() > 0.9                   # the taste the plays show
    # the first genre row is the genre's most played titles, minus recent plays (a reference loop)
    for u in hist[:40]:
        cand = [t for t in np.argsort(-pol.popularity_, kind="stable")
                if g[t, top[u, 0]] and avail[t] and t not in ctx.recent[u]]
        np.testing.assert_array_equal(page.titles[u, 0], cand[:8])
    assert (page.row_kind[hist, 2] == ROW_KIND["popular_now"]).all()
    fresh = (catalog.release_day > 3) & (catalog.release_day <= 10)
    new_row = page.row_kind == ROW_KIND["new_this_week"]
    k = fresh[page.titles[:, 3]]
    assert new_row[:, 3].all() and (k.sum(1) >= 4).all() and not (~k[:, :-1] & k[:, 1:]).any()   # releases first

    # no history: popularity rows, the same page for everyone
    assert (page.row_kind[:20] != ROW_KIND["genre"]).all() and (page.row_ref[:20] == -1).all()
    assert (page.titles[:20] == page.titles[0]).all()
    order = np.argsort(-pol.popularity_, kind="stable")
    np.testing.assert_array_equal(page.titles[0, :3].ravel(), order[avail[order]][:24])   # the most played


def test_genre_rows_explore_is_keyed_by_user_and_ignores_hidden_columns(setup):
    catalog, logs, _ = setup
    ctx = _ctx(catalog, logs, np.arange(300))
    base = GenreRowsPolicy().fit(logs, catalog, day=0, n_users=N_USERS).pages(ctx, LAYOUT, RAND)
    pol = GenreRowsPolicy(explore=0.25).fit(logs, catalog, day=0, n_users=N_USERS)
    page = pol.pages(ctx, LAYOUT, RAND)
    flat = page.titles.reshape(len(ctx), -1)
    assert 0.15 < (page.titles != base.titles).mean() < 0.3
    s = np.sort(flat, 1)
    assert (flat >= 0).all() and not (s[:, 1:] == s[:, :-1]).any()
    assert not (flat[:, :, None] == ctx.recent[:, None, :]).any()
    alone = pol.pages(ctx.take(np.array([17, 211])), LAYOUT, RAND)
    np.testing.assert_array_equal(alone.titles, page.titles[[17, 211]])
    shuffled = Logs(plays=logs.plays.assign(p_abandon=np.random.default_rng(9).permutation(logs.plays.p_abandon.to_numpy())))
    again = GenreRowsPolicy(explore=0.25).fit(shuffled, catalog, day=0, n_users=N_USERS).pages(ctx, LAYOUT, RAND)
    np.testing.assert_array_equal(again.titles, page.titles)
