"""Whole-page off-policy evaluation: the logger's propensities, the weights by hand, the
estimators' coverage on a page world with stopping, and the truth machinery held to the
simulator's own logged probabilities. The coverage over replicates of the world is a slow test
(tests/test_slate_ope_calibration.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core.errors import InputError
from recsys.core.page import Layout, UserContext
from recsys.core.rng import KeyedRandom
from recsys.evaluate.page_ope import estimate_page_policies
from recsys.evaluate.slate import (PageDR, PageFeedback, PageIPS, PageSNIPS, card_weights)
from recsys.experiment.config import ExperimentConfig
from recsys.experiment.logged import TargetPages, card_probabilities, log_window, session_states
from recsys.core.logs import Logs
from recsys.policies import make_policy
from recsys.policies.reference import GenreRowsPolicy
from recsys.simulate.behaviour import BehaviourModel
from recsys.world.catalog import make_catalog
from recsys.world.config import WorldConfig


# ---------------------------------------------------------------- the logger's propensities

def test_uniform_exploration_logs_exact_title_propensities():
    """explore_draw = "uniform": each slot keeps its own title with probability 1 - eps (+ eps/m)
    and otherwise shows a uniform available title; the logged propensity is that formula."""
    cfg = WorldConfig(titles=300, cast=100)
    catalog, _ = make_catalog(cfg, 1)
    layout = Layout(5, 8)
    n, eps = 3000, 0.3
    ctx = UserContext(0, np.arange(n, dtype=np.int64), np.full((n, 4), -1, np.int32),
                      np.random.default_rng(0).random((n, cfg.genres)).astype(np.float32),
                      np.ones(n, np.int32), np.ones(n, np.int32), np.full(n, -30, np.int32))
    rand = KeyedRandom.from_seed(5, "logger")
    own = GenreRowsPolicy(explore=0.0).fit(Logs(), catalog, day=0, n_users=n).pages(ctx, layout, rand)
    pol = GenreRowsPolicy(explore=eps, explore_draw="uniform").fit(Logs(), catalog, day=0, n_users=n)
    page = pol.pages(ctx, layout, rand)
    m = int(catalog.available(0).sum())
    t, o, p = page.titles.ravel(), own.titles.ravel(), page.title_propensity.ravel()
    np.testing.assert_allclose(p, (1 - eps) * (t == o) + eps / m, rtol=1e-6)
    keep = (t == o).mean()
    assert abs(keep - (1 - eps + eps / m)) < 4 * np.sqrt(eps * (1 - eps) / len(t))
    drawn = t[t != o]
    counts = np.bincount(drawn, minlength=catalog.n_titles)[catalog.available(0)]
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.25)   # uniform: Poisson-like counts
    # the default draw (no repeats on a page) logs its approximate propensity, never 1 for a drawn title
    dflt = GenreRowsPolicy(explore=eps).fit(Logs(), catalog, day=0, n_users=n).pages(ctx, layout, rand)
    swapped = dflt.titles.ravel() != o
    assert (dflt.title_propensity.ravel()[swapped] < 0.05).all()


# ---------------------------------------------------------------- weights, by hand

def test_card_weights_by_hand():
    """Target page for user 1 on day -1: titles 5 6 7 8 with position weights .4 .3 .2 .1.
    Card title 6, logged with propensity .75: weight .3 / .75 = .4; title 9 (not on the
    target's page): 0; title 8 drawn by exploration with propensity .001: .1 / .001 = 100."""
    pages = TargetPages("t", np.array([1]), np.array([-1]), np.array([[5, 6, 7, 8]]), np.zeros((1, 4), np.int64))
    cards = pd.DataFrame({"user_id": [1, 1, 1], "day": [-1, -1, -1], "title": [6, 9, 8],
                          "title_propensity": [0.75, 0.5, 0.001]})
    pos, w = card_weights(cards, pages, np.array([0.4, 0.3, 0.2, 0.1]))
    np.testing.assert_allclose(pos, [0.3, 0.0, 0.1])
    np.testing.assert_allclose(w, [0.4, 0.0, 100.0])
    with pytest.raises(InputError, match="no target page for the card of user 2"):
        card_weights(cards.assign(user_id=[1, 2, 1]), pages, np.array([0.4, 0.3, 0.2, 0.1]))
    with pytest.raises(InputError, match="title_propensity must be in"):
        card_weights(cards.assign(title_propensity=[0.5, 0.0, 1.0]), pages, np.array([0.4, 0.3, 0.2, 0.1]))


def test_estimators_by_hand():
    fb = PageFeedback(user=np.array([1, 1, 2, 3]), reward=np.array([1.0, 0.0, 1.0, 0.0]),
                      weight=np.array([0.5, 2.0, 1.0, 0.5]), q_card=np.array([0.2, 0.1, 0.3, 0.2]),
                      q_target=np.array([0.25, 0.25, 0.2, 0.2]))
    assert PageIPS().estimate(fb).value == pytest.approx((0.5 + 1.0) / 4)
    assert PageSNIPS().estimate(fb).value == pytest.approx(1.5 / 4.0)
    dr = (0.25 + 0.5 * 0.8) + (0.25 + 2.0 * -0.1) + (0.2 + 1.0 * 0.7) + (0.2 + 0.5 * -0.2)
    assert PageDR().estimate(fb).value == pytest.approx(dr / 4)
    # users as units: the IPS standard error of the ratio of user totals (3 users)
    a, b = np.array([0.5, 1.0, 0.0]), np.array([2.0, 1.0, 1.0])
    v = a.sum() / b.sum()
    se = np.sqrt(((a - v * b) ** 2).sum() * 3 / 2) / b.sum()
    assert PageIPS().estimate(fb).se == pytest.approx(se)
    with pytest.raises(InputError, match="DR needs"):
        PageDR().estimate(PageFeedback(fb.user, fb.reward, fb.weight))


def test_estimators_cover_the_estimand_on_pages_where_browsing_stops():
    """A page world in numpy: per session, a logger page (slot k keeps its own title with
    probability 1 - eps, else a uniform title), slots examined in order with probability
    theta_k, a click with the user-title attraction, and browsing stops at the first click. The
    target's examination-weighted attraction, averaged over the examined cards, is covered by
    the 95% intervals about 95% of the time over 300 replicates, although where browsing stops
    depends on the page."""
    rng = np.random.default_rng(3)
    T, S, U, eps, reps = 60, 6, 400, 0.4, 300
    theta = np.array([1.0, 0.8, 0.7, 0.6, 0.5, 0.4])
    w = theta / theta.sum()
    hits = {"ips": 0, "snips": 0, "dr": 0}
    for _ in range(reps):
        attract = rng.beta(1, 5, (U, T))
        own = np.argsort(rng.random((U, T)), 1)[:, :S]              # the logger's own page
        target = np.argsort(-attract + rng.normal(0, 0.1, (U, T)), 1)[:, :S]
        swap = rng.random((U, S)) < eps
        shown = np.where(swap, rng.integers(0, T, (U, S)), own)
        prop = (1 - eps) * (shown == own) + eps / T
        exam = rng.random((U, S)) < theta
        click = exam & (rng.random((U, S)) < attract[np.arange(U)[:, None], shown])
        first = np.where(click.any(1), click.argmax(1), S)
        seen = exam & (np.arange(S)[None, :] <= first[:, None])      # examined until the first click
        u, k = np.nonzero(seen)
        truth = (attract[np.arange(U)[:, None], target] @ w)[u].mean()
        t = shown[u, k]
        hit = target[u] == t[:, None]
        weight = (hit * w).sum(1) / prop[u, k]
        q = np.full(T, 0.15)
        fb = PageFeedback(u, click[u, k].astype(float), weight, q[t], np.full(len(u), 0.15))
        for name, est in (("ips", PageIPS()), ("snips", PageSNIPS()), ("dr", PageDR())):
            e = est.estimate(fb)
            hits[name] += e.ci_low <= truth <= e.ci_high
    band = 3 * np.sqrt(0.05 * 0.95 / reps)
    for name, h in hits.items():
        assert abs(h / reps - 0.95) < band, (name, h / reps)


# ---------------------------------------------------------------- in the world

@pytest.fixture(scope="module")
def window():
    cfg = ExperimentConfig.from_dict({"experiment": dict(seed=4, users=1500, days=1, warmup_days=10,
                                                         warmup_explore=0.3, warmup_explore_draw="uniform"),
                                      "world": dict(titles=300, cast=150, behaviour={"change_reaction": False})})
    return log_window(cfg, 3)


def test_truth_reproduces_the_probabilities_the_simulator_logged(window):
    """card_probabilities at the reconstructed state of every logged session (later sessions of a
    day included) gives exactly the click probability the simulator drew each logged card with
    (in a world without the reaction to a changed page, which the logged cards cannot rebuild)."""
    model = BehaviourModel(window.world.config, window.world.catalog, window.world.truth)
    S = window.layout.slots
    checked = 0
    for d in window.days:
        c = window.cards[window.cards["day"] == d]
        for r, s, rows, users in session_states(window, d):
            cc = c[(c["session"] == r) & c["user_id"].isin(users)]
            at = pd.Index(users).get_indexer(cc["user_id"])
            titles = np.full((len(users), S), -1)
            art = np.full((len(users), S), -1)
            titles[at, cc["slot"]] = cc["title"]
            art[at, cc["slot"]] = cc["artwork"]
            pc, _ = card_probabilities(model, s, rows, titles, art, d)
            np.testing.assert_array_equal(pc[at, cc["slot"]].astype(np.float32), cc["p_click"].to_numpy(np.float32))
            checked += len(cc)
    assert checked == len(window.cards) and (window.cards["session"] > 0).any()


def test_page_estimates_beside_the_truth(window):
    df = estimate_page_policies(window, {"popularity": make_policy("popularity")}, truth=True)
    assert set(df["estimator"]) == {"ips", "snips", "dr"} and set(df["reward"]) == {"click", "qualified"}
    z = (df["value"] - df["truth"]) / df["se"]
    assert (z.abs() < 4).all(), df
    assert (df["share_of_cards_matched"] > 0).all()
    # only each user's first session of a day (later ones start from a state the day's page shaped)
    first = int((window.cards["session"] == 0).sum())
    assert (df["cards"] == first).all() and first < len(window.cards)


def test_log_window_refuses_a_logger_that_does_not_explore():
    cfg = ExperimentConfig.from_dict({"experiment": dict(seed=4, users=100, days=1, warmup_days=10, warmup_explore=0.0),
                                      "world": dict(titles=300, cast=150)})
    with pytest.raises(InputError, match="explores"):
        log_window(cfg, 3)
