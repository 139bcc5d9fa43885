"""Off-policy evaluation against ground truth: bad inputs, coverage of the true value, and DR's variance.

A synthetic logged bandit with known per-variant rates (as the Open Bandit Pipeline's synthetic
data): titles drawn uniformly, a uniformly random logging policy, and a ``bandit-play`` target
trained on separate logs. The truth is the target's expected qualified-play rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.policies.artwork import BanditPlay, RandomArtwork
from recsys.policies.artwork.base import padded_art
from recsys.core.errors import InputError
from recsys.evaluate.ope import DR, IPS, SNIPS, BanditFeedback, DirectMethod, VariantRateModel, estimate_all, feedback_from_logs
from test_artwork import simulate_day, tiny_catalog


def _world(seed=0):
    rng = np.random.default_rng(seed)
    n_var = rng.integers(3, 6, 30)
    cat = tiny_catalog(n_var)
    p_click = rng.uniform(0.05, 0.35, cat.n_artwork)
    p_qual = rng.uniform(0.1, 0.9, cat.n_artwork)
    return cat, p_click, p_qual


def _target(cat, p_click, p_qual):
    """bandit-play trained for a few days on its own logs (separate from the evaluation logs)."""
    pol = BanditPlay(random_state=1).fit(cat)
    for day in range(3):
        logs, _ = simulate_day(pol, cat, day, 40, p_click, p_qual, seed=99, slots=10)
        pol.update(logs)
    return pol


def _replicate(cat, dist_table, q, n, rng):
    """Uniform-random logging of ``n`` impressions; reward ~ Bernoulli(q[artwork])."""
    t = rng.integers(0, cat.n_titles, n)
    nv = cat.n_variants[t].astype(np.int64)
    local = (rng.random(n) * nv).astype(np.int64)
    art = cat.art_offsets[t] + local
    r = (rng.random(n) < q[art]).astype(float)
    query = padded_art(cat, t)
    qhat = VariantRateModel().cross_predict(art, r, cat.art_title, query, folds=2, seed=int(rng.integers(1 << 30)))
    return BanditFeedback(r, 1.0 / nv, action=local, target_dist=dist_table[t], reward_hat=qhat)


def test_ips_snips_dr_cover_the_true_value_and_dr_has_lower_variance():
    cat, p_click, p_qual = _world()
    target = _target(cat, p_click, p_qual)
    V = target.table_.shape[1]
    dist_table = target.table_
    q = p_click * p_qual                                    # true qualified-play probability
    qpad = np.where(padded_art(cat, np.arange(cat.n_titles)) >= 0,
                    q[np.maximum(padded_art(cat, np.arange(cat.n_titles)), 0)], 0.0)
    truth = float((dist_table * qpad).sum(1).mean())        # titles drawn uniformly
    rng = np.random.default_rng(2024)
    est = {"ips": [], "snips": [], "dr": []}
    se = {k: [] for k in est}
    cover = {k: 0 for k in est}
    R = 200
    for _ in range(R):
        data = _replicate(cat, dist_table, q, 3000, rng)
        for name, e in estimate_all(data).items():
            if name in est:
                est[name].append(e.value)
                se[name].append(e.se)
                cover[name] += e.covers(truth)
    coverage = {k: v / R for k, v in cover.items()}
    for k in est:
        assert 0.9 <= coverage[k] <= 0.99, (k, coverage)
        assert abs(np.mean(est[k]) - truth) < 0.2 * np.std(est[k]) + 1e-3, k
    # Bernoulli reward noise dominates at these rates, so DR's gain is modest (about 10%),
    # but it holds both across replicates and in every replicate's own standard error
    var = {k: np.var(v, ddof=1) for k, v in est.items()}
    assert var["dr"] < var["ips"], var
    assert (np.array(se["dr"]) < np.array(se["ips"])).mean() > 0.95
    assert V >= 3


def test_feedback_from_logs_end_to_end():
    cat, p_click, p_qual = _world(1)
    target = _target(cat, p_click, p_qual)
    logger = RandomArtwork().fit(cat)
    logs, _ = simulate_day(logger, cat, 10, 300, p_click, p_qual, seed=5, slots=20)
    q = p_click * p_qual
    art = padded_art(cat, np.arange(cat.n_titles))
    qpad = np.where(art >= 0, q[np.maximum(art, 0)], 0.0)
    truth_play = float((target.table_ * qpad).sum(1).mean())
    cpad = np.where(art >= 0, p_click[np.maximum(art, 0)], 0.0)
    truth_click = float((target.table_ * cpad).sum(1).mean())
    for reward, truth in (("play", truth_play), ("click", truth_click)):
        data = feedback_from_logs(logs, cat, target, reward=reward)
        ests = estimate_all(data)
        assert set(ests) == {"ips", "snips", "dr", "dm"}
        for e in ests.values():
            assert e.ci_low < e.value < e.ci_high
            assert abs(e.value - truth) < 4 * e.se + 0.01, (reward, e)
    # without a reward model only IPS and SNIPS
    assert set(estimate_all(feedback_from_logs(logs, cat, target, model=None))) == {"ips", "snips"}


def test_same_policy_as_logger_gives_the_on_policy_mean():
    r = np.array([1.0, 0.0, 1.0, 1.0])
    p = np.array([0.5, 0.25, 0.5, 1.0])
    data = BanditFeedback(r, p, target_prob=p)
    assert IPS().estimate(data).value == pytest.approx(r.mean())
    assert SNIPS().estimate(data).value == pytest.approx(r.mean())


def test_snips_delta_method_matches_a_bootstrap():
    rng = np.random.default_rng(0)
    n = 4000
    p = rng.choice([0.2, 0.5], n)
    tp = rng.choice([0.0, 0.5, 1.0], n)
    r = (rng.random(n) < 0.3).astype(float)
    data = BanditFeedback(r, p, target_prob=tp)
    se = SNIPS().estimate(data).se
    w = tp / p
    boots = []
    for _ in range(300):
        i = rng.integers(0, n, n)
        boots.append((w[i] * r[i]).sum() / w[i].sum())
    assert se == pytest.approx(np.std(boots), rel=0.15)


BAD = [
    (dict(reward=[1.0], propensity=[0.5], target_prob=[0.5]), "at least 2"),
    (dict(reward=[1, 0], propensity=[0.5, 0.0], target_prob=[0.5, 0.5]), r"propensity must be in \(0, 1\]; row 1"),
    (dict(reward=[1, 0], propensity=[0.5, 1.5], target_prob=[0.5, 0.5]), "propensity"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5], target_prob=[0.5, -0.1]), r"target_prob must be in \[0, 1\]; row 1"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5], target_prob=[0.5]), "shape"),
    (dict(reward=[1, np.nan], propensity=[0.5, 0.5], target_prob=[0.5, 0.5]), "reward has a non-finite value at row 1"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5]), "give target_prob"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5], action=[0, 3], target_dist=[[1, 0], [0, 1]]), "action must index"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5], action=[0, 1], target_dist=[[0.5, 0.2], [0, 1]]), "sum to 1"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5], action=[0.0, 1.0], target_dist=[[1, 0], [0, 1]]), "integer"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5], target_prob=[1, 1], action=[0, 1], target_dist=[[1, 0], [1, 0]]),
     "disagrees"),
    (dict(reward=[1, 0], propensity=[0.5, 0.5], action=[0, 1], target_dist=[[1, 0], [0, 1]], reward_hat=[[1], [0]]),
     "same shape"),
    (dict(reward=["a", "b"], propensity=[0.5, 0.5], target_prob=[1, 1]), "numeric"),
]


@pytest.mark.parametrize("kwargs, message", BAD)
def test_bad_feedback_is_rejected_with_a_message(kwargs, message):
    with pytest.raises(InputError, match=message):
        BanditFeedback(**kwargs)


@pytest.mark.parametrize("make, message", [
    (lambda: IPS(alpha=0), "alpha"), (lambda: SNIPS(alpha=1.5), "alpha"), (lambda: DR(max_weight=0), "max_weight"),
    (lambda: IPS(max_weight=-1), "max_weight"), (lambda: VariantRateModel(shrinkage=-1), "shrinkage"),
])
def test_bad_estimator_parameters(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_dr_and_dm_need_a_reward_model_and_snips_needs_weight():
    data = BanditFeedback([1, 0], [0.5, 0.5], target_prob=[0.5, 0.5])
    with pytest.raises(InputError, match="DR needs"):
        DR().estimate(data)
    with pytest.raises(InputError, match="DM needs"):
        DirectMethod().estimate(data)
    with pytest.raises(InputError, match="SNIPS is undefined"):
        SNIPS().estimate(BanditFeedback([1, 0], [0.5, 0.5], target_prob=[0, 0]))


def test_dr_is_unbiased_with_a_wrong_reward_model_and_dm_is_not():
    rng = np.random.default_rng(3)
    n, V = 20000, 3
    q = np.array([0.1, 0.3, 0.5])
    a = rng.integers(0, V, n)
    r = (rng.random(n) < q[a]).astype(float)
    dist = np.tile([0.0, 0.2, 0.8], (n, 1))
    truth = float(dist[0] @ q)
    wrong = np.tile([0.4, 0.4, 0.4], (n, 1))
    data = BanditFeedback(r, np.full(n, 1 / V), action=a, target_dist=dist, reward_hat=wrong)
    dr, dm = DR().estimate(data), DirectMethod().estimate(data)
    assert dr.covers(truth)
    assert not dm.covers(truth)


def test_clipping_caps_the_weights():
    data = BanditFeedback([1.0, 1.0], [0.01, 0.5], target_prob=[1.0, 1.0])
    assert IPS(max_weight=10).estimate(data).value == pytest.approx((10 + 2) / 2)
