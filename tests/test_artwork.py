"""Artwork policies: interface, propensities, Thompson sampling's regret, and what each bandit learns.

The synthetic problems here carry their true rates beside the logs (as the Open Bandit
Pipeline's synthetic data does); the policies see only the observational columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.policies.artwork import (ARTWORK_POLICIES, BanditClick, BanditPlay, ContextualArtwork, FixedArtwork,
                            RandomArtwork, impression_rewards, make_artwork)
from recsys.core.errors import InputError
from recsys.core.page import UserContext
from recsys.core.rng import KeyedRandom
from recsys.core.logs import IMPRESSION_SCHEMA, PLAY_SCHEMA, Logs, empty_frame, frame
from recsys.world.catalog import Catalog, make_catalog
from recsys.world.config import WorldConfig

G = 4


def tiny_catalog(n_variants, art_genre=None, art_theme=None) -> Catalog:
    """A hand-made catalog: title t has ``n_variants[t]`` variants; themes default to genre 0."""
    n_variants = np.asarray(n_variants)
    T = len(n_variants)
    offsets = np.concatenate([[0], np.cumsum(n_variants)]).astype(np.int64)
    A = int(offsets[-1])
    theme = np.zeros(A, np.int8) if art_theme is None else np.asarray(art_theme, np.int8)
    genre = np.zeros(A, np.int16) if art_genre is None else np.asarray(art_genre, np.int16)
    genres = sp.csr_matrix(np.eye(G, dtype=np.float32)[np.arange(T) % G])
    cast = sp.csr_matrix(np.ones((T, 1), np.float32))
    return Catalog(
        name=np.array([f"T{i}" for i in range(T)]), kind=np.zeros(T, np.int8), genres=genres, cast=cast,
        runtime=np.full(T, 90, np.float32), episodes=np.ones(T, np.int16), release_day=np.full(T, -100, np.int32),
        genre_names=tuple(f"g{i}" for i in range(G)), cast_names=np.array(["Ana Lind"]),
        art_offsets=offsets, art_title=np.repeat(np.arange(T, dtype=np.int32), n_variants),
        art_theme=theme, art_genre=np.where(theme == 0, genre, -1).astype(np.int16),
        art_cast=np.where(theme == 1, 0, -1).astype(np.int32),
        art_mood=np.where(theme == 2, 0, -1).astype(np.int8))


def context(users, day, profile=None) -> UserContext:
    n = len(users)
    prof = np.zeros((n, G), np.float32) if profile is None else np.asarray(profile, np.float32)
    return UserContext(day=day, user_ids=np.asarray(users, np.int64), recent=np.full((n, 3), -1, np.int32),
                       genre_profile=prof, plays=np.zeros(n, np.int32), sessions=np.zeros(n, np.int32),
                       signup_day=np.zeros(n, np.int32))


def simulate_day(policy, catalog, day, n_users, p_click, p_qual, seed, slots=None, profile=None):
    """One day of logs: every user sees ``slots`` titles (all titles by default) with the policy's artwork.

    ``p_click`` is (A,) or a function (user_rows, art) -> probability; ``p_qual`` (A,) is the
    probability that a click becomes a play longer than two minutes.
    """
    rng = np.random.default_rng([seed, day + 1000])
    T = catalog.n_titles
    S = T if slots is None else slots
    users = np.arange(n_users, dtype=np.int64)
    titles = np.argsort(rng.random((n_users, T)), axis=1)[:, :S].astype(np.int32)
    ctx = context(users, day, profile)
    art, prop = policy.select(titles, ctx, KeyedRandom.from_seed(seed, "artwork"))
    urow = np.repeat(np.arange(n_users), S)
    a = art.ravel().astype(np.int64)
    pc = p_click(urow, a) if callable(p_click) else p_click[a]
    clicked = rng.random(len(a)) < pc
    imps = frame(IMPRESSION_SCHEMA, dict(
        user_id=users[urow], day=np.full(len(a), day), session=np.zeros(len(a)), row=np.zeros(len(a)),
        position=np.tile(np.arange(S), n_users), title=titles.ravel(), artwork=a, clicked=clicked,
        p_click=pc, propensity=prop.ravel()))
    c = np.flatnonzero(clicked)
    qual = rng.random(len(c)) < p_qual[a[c]]
    plays = frame(PLAY_SCHEMA, dict(
        user_id=users[urow[c]], day=np.full(len(c), day), session=np.zeros(len(c)), title=titles.ravel()[c],
        artwork=a[c], source=np.zeros(len(c)), minutes=np.where(qual, 30.0, 1.0), completed=qual,
        abandoned_early=~qual, episodes=np.ones(len(c)), p_abandon=1 - p_qual[a[c]]))
    return Logs(plays=plays, sessions=empty_frame({"user_id": np.int64}), impressions=imps), prop


# ---------------------------------------------------------------- interface

@pytest.mark.parametrize("name", sorted(ARTWORK_POLICIES))
def test_every_policy_selects_valid_variants_with_propensities_that_sum_to_one(name):
    cat, _ = make_catalog(WorldConfig(titles=120, cast=60, genres=6), seed=3)
    pol = make_artwork(name).fit(cat)
    users = np.arange(50)
    titles = np.tile(np.arange(40, dtype=np.int32), (50, 1))
    titles[:, -3:] = -1
    ctx = context(users, 0, np.random.default_rng(0).poisson(1.0, (50, 6)))
    art, prop = pol.select(titles, ctx, KeyedRandom(5))
    ok = titles >= 0
    assert art.shape == titles.shape and art.dtype == np.int32 and prop.dtype == np.float32
    assert (art[~ok] == -1).all()
    assert (cat.art_title[art[ok]] == titles[ok]).all()
    probs = pol.variant_probs(titles, ctx)
    np.testing.assert_allclose(probs[ok].sum(-1), 1.0, atol=1e-9)
    assert (probs[~ok] == 0).all()
    local = art[ok] - cat.art_offsets[titles[ok]]
    np.testing.assert_allclose(prop[ok], np.take_along_axis(probs[ok], local[:, None], 1)[:, 0], rtol=1e-6)
    assert (prop[ok] > 0).all()


def test_fixed_and_random_keep_their_behaviour():
    cat, _ = make_catalog(WorldConfig(titles=100, cast=50, genres=5), seed=1)
    titles = np.arange(100, dtype=np.int32)[None, :].repeat(3, 0)
    ctx = context([1, 2, 3], 4)
    art, prop = FixedArtwork().fit(cat).select(titles, ctx, KeyedRandom(1))
    assert (art == cat.default_art[titles]).all() and (prop == 1).all()
    art, prop = RandomArtwork().fit(cat).select(titles, ctx, KeyedRandom(1))
    np.testing.assert_allclose(prop, 1.0 / cat.n_variants[titles])


def test_selection_frequencies_match_propensities():
    cat = tiny_catalog([4])
    pol = BanditClick(random_state=1).fit(cat)
    logs, _ = simulate_day(pol, cat, 0, 400, np.array([0.05, 0.1, 0.15, 0.2]), np.ones(4), seed=2)
    pol.update(logs)
    probs = pol.variant_probs(np.zeros((1, 1), np.int32), context([0], 1))[0, 0]
    titles = np.zeros((20000, 1), np.int32)
    art, prop = pol.select(titles, context(np.arange(20000), 1), KeyedRandom(9))
    freq = np.bincount(art.ravel(), minlength=4) / 20000
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(0.25 / 20000))
    np.testing.assert_allclose(prop.ravel(), probs[art.ravel()], rtol=1e-6)


def test_a_users_choice_does_not_depend_on_the_batch():
    cat, _ = make_catalog(WorldConfig(titles=100, cast=50, genres=5), seed=2)
    pol = BanditPlay(random_state=3).fit(cat)
    titles = np.tile(np.arange(30, dtype=np.int32), (10, 1))
    full, _ = pol.select(titles, context(np.arange(10), 2), KeyedRandom(4))
    part, _ = pol.select(titles[5:7], context(np.arange(5, 7), 2), KeyedRandom(4))
    assert (full[5:7] == part).all()


def test_same_random_state_same_policy_and_fit_twice_is_idempotent():
    cat, _ = make_catalog(WorldConfig(titles=80, cast=40, genres=5), seed=4)
    p_click = np.random.default_rng(0).uniform(0.02, 0.3, cat.n_artwork)
    p_qual = np.full(cat.n_artwork, 0.5)
    a = BanditClick(random_state=11).fit(cat)
    logs, _ = simulate_day(a, cat, 0, 30, p_click, p_qual, seed=1)
    a.update(logs)
    b = BanditClick(random_state=11).fit(cat).update(logs)
    np.testing.assert_array_equal(a.probs_, b.probs_)
    first = BanditClick(random_state=11).fit(cat, logs).probs_
    np.testing.assert_array_equal(first, BanditClick(random_state=11).fit(cat, logs).probs_)


def test_make_artwork_rejects_unknown_names_and_bad_parameters():
    with pytest.raises(InputError, match="unknown artwork policy 'nope'"):
        make_artwork("nope")
    with pytest.raises(InputError, match="no parameter 'colour'"):
        make_artwork("bandit-click", colour=1)
    with pytest.raises(InputError, match="decay"):
        make_artwork("bandit-click", decay=0.0)
    with pytest.raises(InputError, match="reward"):
        make_artwork("bandit-play", reward="click")
    with pytest.raises(InputError, match="n_sim"):
        make_artwork("contextual", n_sim=0)
    assert make_artwork("bandit-play", threshold_minutes=5).threshold_minutes == 5


def test_policies_read_only_observed_columns():
    cat = tiny_catalog([3, 3])
    p_click = np.array([0.1, 0.3, 0.2, 0.2, 0.1, 0.4])
    pol = BanditPlay(random_state=0).fit(cat)
    logs, _ = simulate_day(pol, cat, 0, 200, p_click, np.full(6, 0.6), seed=5)
    obs = BanditPlay(random_state=0).fit(cat).update(logs.observed())
    full = BanditPlay(random_state=0).fit(cat).update(logs)
    np.testing.assert_array_equal(obs.probs_, full.probs_)


# ---------------------------------------------------------------- rewards

def test_qualified_play_reward_joins_plays_on_the_impression_keys():
    imps = frame(IMPRESSION_SCHEMA, dict(
        user_id=[1, 1, 2, 2], day=[0, 0, 0, 0], session=[0, 1, 0, 0], row=[0, 0, 0, 0], position=[0, 0, 0, 1],
        title=[5, 5, 5, 6], artwork=[10, 10, 11, 12], clicked=[True, True, True, False],
        p_click=[.1] * 4, propensity=[.5] * 4))
    plays = frame(PLAY_SCHEMA, dict(
        user_id=[1, 1, 2, 2], day=[0, 0, 0, 0], session=[0, 1, 0, 0], title=[5, 5, 5, 6], artwork=[10, 10, 11, -1],
        source=[0, 0, 0, 1], minutes=[1.5, 40.0, 3.0, 50.0], completed=[0, 1, 0, 1], abandoned_early=[1, 0, 0, 0],
        episodes=[1] * 4, p_abandon=[.1] * 4))
    logs = Logs(plays=plays, impressions=imps)
    assert impression_rewards(logs, "click")["reward"].tolist() == [1, 1, 1, 0]
    assert impression_rewards(logs, "play")["reward"].tolist() == [0, 1, 1, 0]
    assert impression_rewards(logs, "play", threshold_minutes=5)["reward"].tolist() == [0, 1, 0, 0]
    np.testing.assert_allclose(impression_rewards(logs, "minutes", minutes_cap=60)["reward"], [1.5 / 60, 40 / 60, 3 / 60, 0])


# ---------------------------------------------------------------- learning

def test_thompson_sampling_regret_grows_sublinearly():
    """Stationary Bernoulli problem: cumulative regret against the best fixed arm flattens out.

    Regret is the expected regret of each day's impressions under the selection probabilities
    the policy used that day, summed over four seeds to keep the check stable.
    """
    means = np.array([0.10, 0.20, 0.30])
    gap = means.max() - means
    cat = tiny_catalog([3])
    per_day = np.zeros(40)
    for seed in range(4):
        pol = BanditClick(random_state=seed).fit(cat)
        for day in range(40):
            logs, _ = simulate_day(pol, cat, day, 100, means, np.ones(3), seed=seed)
            per_day[day] += 100 * float(pol.table_[0] @ gap)
            pol.update(logs)
    cum = np.cumsum(per_day)
    first, second = per_day[:20].sum(), per_day[20:].sum()
    assert second < 0.3 * first
    avg = cum / np.arange(1, 41)                   # regret(T) / T keeps falling
    assert avg[39] < 0.6 * avg[19] and avg[19] < 0.6 * avg[9]
    assert per_day[-10:].mean() < 0.05 * per_day[0]
    uniform_regret = 4 * 100 * 40 * float(gap.mean())
    assert cum[-1] < 0.15 * uniform_regret


def _clickbait_problem():
    """Twelve titles, three variants each: 0 plain, 1 clickbait (many clicks, few qualified), 2 honest."""
    cat = tiny_catalog([3] * 12)
    p_click = np.tile([0.10, 0.30, 0.20], 12)
    p_qual = np.tile([0.60, 0.15, 0.80], 12)
    return cat, p_click, p_qual


def _train(pol, cat, p_click, p_qual, days=12, users=150):
    pol.fit(cat)
    for day in range(days):
        logs, _ = simulate_day(pol, cat, day, users, p_click, p_qual, seed=11, slots=6)
        pol.update(logs)
    return pol


def test_bandit_click_favours_clicks_and_bandit_play_favours_qualified_plays():
    cat, p_click, p_qual = _clickbait_problem()
    click = _train(BanditClick(random_state=0), cat, p_click, p_qual)
    play = _train(BanditPlay(random_state=0), cat, p_click, p_qual)
    pc = click.table_[:, :3]
    pp = play.table_[:, :3]
    assert pc[:, 1].mean() > 0.9     # clickbait: click rate 0.30 vs 0.20 and 0.10
    assert pp[:, 2].mean() > 0.9     # honest: qualified rate 0.16 vs 0.045 and 0.06
    # and each wins on its own reward
    qual = p_click * p_qual
    assert (pc.ravel() @ p_click) > (pp.ravel() @ p_click)
    assert (pp.ravel() @ qual) > (pc.ravel() @ qual)


def test_bandit_play_on_minutes_also_avoids_clickbait():
    cat, p_click, p_qual = _clickbait_problem()
    pol = _train(BanditPlay(reward="minutes", random_state=0), cat, p_click, p_qual)
    assert pol.table_[:, 2].mean() > 0.8


def _history(users, titles, day=-1, repeat=1):
    """Play-only logs: user ``users[i]`` played title ``titles[i]`` ``repeat`` times on ``day``."""
    u = np.repeat(np.asarray(users, np.int64), repeat)
    t = np.repeat(np.asarray(titles, np.int32), repeat)
    n = len(u)
    plays = frame(PLAY_SCHEMA, dict(
        user_id=u, day=np.full(n, day), session=np.zeros(n), title=t, artwork=np.full(n, -1),
        source=np.ones(n), minutes=np.full(n, 30.0), completed=np.ones(n), abandoned_early=np.zeros(n),
        episodes=np.ones(n), p_abandon=np.zeros(n)))
    return Logs(plays=plays, impressions=empty_frame(IMPRESSION_SCHEMA))


def test_contextual_policy_matches_the_variant_theme_to_the_genre_profile():
    """Two variants per title, playing up genre 0 or genre 1; users click the one matching their taste.

    Users' histories (20 plays of a title in their genre) are given to ``fit``; the context's
    profile says the same, as the simulator's would.
    """
    T = 20
    cat = tiny_catalog([2] * T, art_genre=np.tile([0, 1], T))
    n = 200
    group = np.arange(n) % 2                      # users 0,2,.. like genre 0; 1,3,.. like genre 1
    history = _history(np.arange(n), group, repeat=20)   # title 0 has genre 0, title 1 genre 1
    profile = np.zeros((n, G))
    profile[np.arange(n), group] = 20.0

    def p_click(urow, art):
        return np.where(cat.art_genre[art] == group[urow], 0.30, 0.10)

    def train(pol):
        pol.fit(cat, history)
        for day in range(6):
            logs, _ = simulate_day(pol, cat, day, n, p_click, np.ones(cat.n_artwork), seed=3, slots=5,
                                   profile=profile)
            pol.update(logs)
        titles = np.tile(np.arange(T, dtype=np.int32), (n, 1))
        probs = pol.variant_probs(titles, context(np.arange(n), 7, profile))
        return probs[np.arange(n)[:, None], np.arange(T)[None, :], group[:, None]].mean()

    ctx_share = train(ContextualArtwork(reward="click", random_state=0))
    cf_share = train(BanditClick(random_state=0))
    assert ctx_share > 0.9
    # a context-free bandit cannot do better than half right here
    assert cf_share < 0.7


def test_contextual_warm_start_from_logs():
    T = 10
    cat = tiny_catalog([2] * T, art_genre=np.tile([0, 1], T))
    logs, _ = simulate_day(RandomArtwork().fit(cat), cat, 0, 50, np.full(2 * T, 0.2), np.ones(2 * T), seed=1)
    pol = ContextualArtwork(random_state=0).fit(cat, logs)
    assert np.isfinite(pol.mean_).all() and pol.shows_.sum() == len(logs.impressions)


def test_contextual_fallback_profiles_use_only_earlier_plays():
    cat = tiny_catalog([2] * 4)                       # title t has genre t % 4
    pol = ContextualArtwork().fit(cat)
    plays = frame(PLAY_SCHEMA, dict(
        user_id=[1, 1, 1, 2], day=[0, 1, 1, 1], session=[0] * 4, title=[0, 1, 1, 2], artwork=[0, 2, 2, 4],
        source=[0] * 4, minutes=[5.0] * 4, completed=[1] * 4, abandoned_early=[0] * 4, episodes=[1] * 4,
        p_abandon=[0.1] * 4))
    table = pol._cumulative_profiles(Logs(plays=plays))
    rows = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "day": [0, 1, 2, 1, 5, 9]})
    got = pol._profiles_before(rows, table)
    want = np.zeros((6, G))
    want[1, 0] = 1
    want[2, [0, 1]] = [1, 2]
    want[4, 2] = 1
    np.testing.assert_array_equal(got, want)


def test_contextual_keeps_play_counts_across_updates_and_ignores_batching():
    T = 6
    cat = tiny_catalog([2] * T, art_genre=np.tile([0, 1], T))
    a = ContextualArtwork(reward="click").fit(cat, _history([5, 6, 5], [0, 1, 2]))
    a.update(_history([6, 7], [1, 3], day=0))
    np.testing.assert_array_equal(a.profile_users_, [5, 6, 7])
    np.testing.assert_array_equal(a.profile_counts_, [[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 0, 1]])
    # the learned state depends on the logs only, not on how select was batched
    profile = np.zeros((30, G))
    profile[:, 0] = 3
    b = ContextualArtwork(reward="click").fit(cat)
    logs, _ = simulate_day(b, cat, 0, 30, np.full(2 * T, 0.3), np.ones(2 * T), seed=2, profile=profile)
    b.update(logs)
    c = ContextualArtwork(reward="click").fit(cat).update(logs)
    np.testing.assert_array_equal(b.theta_, c.theta_)
