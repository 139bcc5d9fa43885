"""recsys.metrics.exposure: homogenisation (mean pairwise Jaccard) against hand-computed and brute-force
values, the sample, coverage / long tail / genre shares, and, on a small world, what retraining
on the arm's own feedback and the diversity weight do to them. Homogenisation falls as the MMR
weight rises when MMR compares titles by their audiences (and rises when it compares genres);
retraining raises it and narrows the catalog when the model's first data came from a random
start-up period, as in Chaney et al. (2018), and not under the default personalised incumbent,
which has already homogenised users (docs/tune.md, 'What the world does'). Under that incumbent
retraining's effect on coverage in this small world is noise: seed 2 +0.7%, +0.3%, -3.2% and
seed 3 -4.3%, -0.5%, -1.6% for the three arms (numpy 2.4 with OpenBLAS 0.3.31; an earlier
BLAS's rounding gave seed 2 a fall in every arm), so no test claims it."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.runner import run_experiment
from recsys.metrics.exposure import (exposure_table, genre_shares, head_titles, homogenization, mean_jaccard, play_matrix,
                             sample_users)
from recsys.world.config import WorldConfig


def plays_of(sets: dict[int, list[int]]) -> pd.DataFrame:
    rows = [(u, t) for u, ts in sets.items() for t in ts]
    return pd.DataFrame(rows, columns=["user_id", "title"])


def test_hand_computed_case():
    # A={0,1,2}, B={1,2,3}, C={4}; D watched nothing; A's repeated play of 1 counts once
    plays = plays_of({10: [0, 1, 2, 1], 11: [1, 2, 3], 12: [4]})
    # pairs: J(A,B) = 2/4, J(A,C) = 0, J(B,C) = 0  ->  mean 1/6
    assert homogenization(plays, [10, 11, 12, 13], n_titles=6) == pytest.approx(1 / 6)
    assert homogenization(plays, [10, 11], n_titles=6) == pytest.approx(0.5)
    assert np.isnan(homogenization(plays, [12, 13], n_titles=6))   # one user with plays: no pair
    X = play_matrix(plays, np.array([13, 12, 10]), 6)
    assert X.toarray().tolist() == [[0] * 6, [0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 0]]


def test_matches_brute_force_on_random_sets():
    rng = np.random.default_rng(3)
    X = sp.random(40, 25, density=0.12, random_state=rng, format="csr")
    X.data[:] = 1
    sets = [set(X[i].indices) for i in range(40) if X[i].nnz]
    brute = np.mean([len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2)])
    assert mean_jaccard(X) == pytest.approx(brute, rel=1e-12)
    identical = sp.csr_matrix(np.ones((5, 4)))
    assert mean_jaccard(identical) == pytest.approx(1.0)
    disjoint = sp.identity(6, format="csr")
    assert mean_jaccard(disjoint) == 0.0


def test_sample_is_keyed_by_user_not_by_group():
    ids = np.arange(1000, 3000)
    s = sample_users(ids, 300, seed=5)
    assert len(s) == 300 and np.isin(s, ids).all() and len(np.unique(s)) == 300
    assert np.array_equal(s, sample_users(ids[::-1], 300, seed=5))            # order does not matter
    sub = sample_users(np.concatenate([s, np.arange(5000, 5010)]), 300, seed=5)
    assert np.isin(sub, np.concatenate([s, np.arange(5000, 5010)])).all()
    assert not np.array_equal(s, sample_users(ids, 300, seed=6))
    assert np.array_equal(sample_users(ids[:10], 300, seed=5), ids[:10])


def test_exposure_table_coverage_long_tail_and_genres():
    plays = plays_of({0: [0, 1], 1: [1, 2], 2: [3], 3: [3, 4], 4: []})
    users = pd.DataFrame({"user_id": [0, 1, 2, 3, 4], "arm": ["a", "a", "b", "b", "b"]})
    pop = np.array([9, 8, 1, 1, 0, 0, 0, 0, 0, 0])   # head (top 20% of 10 titles) = titles 0 and 1
    assert head_titles(pop).nonzero()[0].tolist() == [0, 1]
    e = exposure_table(plays, users, 10, popularity=pop).set_index("arm")
    assert e.loc["a", "users"] == 2 and e.loc["b", "users"] == 3
    assert e.loc["a", "coverage"] == pytest.approx(0.3) and e.loc["b", "coverage"] == pytest.approx(0.2)
    assert e.loc["a", "long_tail_share"] == pytest.approx(1 / 4) and e.loc["b", "long_tail_share"] == pytest.approx(1.0)
    assert e.loc["a", "homogenization"] == pytest.approx(1 / 3) and e.loc["b", "homogenization"] == pytest.approx(0.5)
    G = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1], [0, 1], [1, 0]] + [[1, 0]] * 5))
    g = genre_shares(plays, users, G, names=["drama", "comedy"]).set_index("arm")
    assert g.loc["a"].tolist() == pytest.approx([0.5, 0.5])           # 0: drama, 1: half each, 1, 2: comedy
    assert g.loc["b"].tolist() == pytest.approx([1 / 3, 2 / 3])


@pytest.fixture(scope="module")
def feedback_runs():
    """The same small world and users, three hybrid arms (no re-ranking, MMR at weight 1 over
    genres, MMR at weight 1 over audiences), with the model never refitted and refitted every 3
    days on its own arm's feedback: exposure per arm for each."""
    arms = (ArmConfig("d0", "hybrid", 1 / 3, {"diversity": 0.0}),
            ArmConfig("genre", "hybrid", 1 / 3, {"diversity": 1.0, "similarity": "genre"}),
            ArmConfig("audience", "hybrid", 1 / 3, {"diversity": 1.0, "similarity": "audience"}))
    base = ExperimentConfig(seed=2, users=4500, days=10, warmup_days=14, control="d0", arms=arms,
                            world=WorldConfig(users=4500, titles=600))
    out = {}
    for retrain in (0, 3):
        res = run_experiment(base.replace(retrain_every=retrain), keep_impressions=False)
        pop = np.bincount(res.warmup.logs.plays["title"], minlength=600)
        out[retrain] = exposure_table(res.logs.plays, res.table, 600, popularity=pop).set_index("arm")
    return out


def test_homogenization_falls_as_the_diversity_weight_rises(feedback_runs):
    """With the hybrid re-ranked for diversity over audiences, users watch less alike (the ratio
    to no re-ranking, averaged over the runs with and without retraining, below 0.92), and more
    of the long tail in each run. At this size one run's ratio is too noisy to judge alone: an
    A/A pair of arms gives 0.921/0.967, 0.965/0.964 and 0.994/0.999 on seeds 2-4 (averages 0.944
    to 0.997), audience MMR 0.870/0.928, 0.880/0.862 and 0.883/0.851 (averages 0.867 to 0.899)."""
    ratio = [e.loc["audience", "homogenization"] / e.loc["d0", "homogenization"] for e in feedback_runs.values()]
    assert np.mean(ratio) < 0.92, ratio
    for e in feedback_runs.values():
        assert e.loc["audience", "long_tail_share"] > e.loc["d0", "long_tail_share"]


def test_genre_mmr_moves_everyone_to_the_same_popular_titles(feedback_runs):
    """MMR over genres fills a page's other genres with their best candidates, which in a user's
    list are the catalogue's popular titles: users watch *more* alike and less of the long tail
    (the reason the diversity weight should vary audiences, not genres, to de-homogenise)."""
    for e in feedback_runs.values():
        assert e.loc["genre", "homogenization"] > 1.08 * e.loc["d0", "homogenization"]
        assert e.loc["genre", "long_tail_share"] < e.loc["d0", "long_tail_share"]


@pytest.fixture(scope="module")
def startup_runs():
    """Chaney et al.'s setting: the history the model first trains on comes from a random
    start-up period (``warmup_explore = 1``), then the same arms never refitted or refitted
    every 3 days on their own feedback."""
    arms = (ArmConfig("d0", "hybrid", 0.5, {"diversity": 0.0}),
            ArmConfig("audience", "hybrid", 0.5, {"diversity": 1.0, "similarity": "audience"}))
    base = ExperimentConfig(seed=2, users=4500, days=10, warmup_days=14, warmup_explore=1.0, control="d0",
                            arms=arms, world=WorldConfig(users=4500, titles=600))
    out = {}
    for retrain in (0, 3):
        res = run_experiment(base.replace(retrain_every=retrain), keep_impressions=False)
        out[retrain] = exposure_table(res.logs.plays, res.table, res.world.catalog.n_titles,
                                      seed=2).set_index("arm")
    return out


def test_retraining_on_own_feedback_raises_homogenization(startup_runs):
    """Chaney et al. (2018): a recommender retrained on its own feedback homogenises users, when
    its first training data came from a random start-up period (here: by more than 5% in every
    arm; the paired static twin shares users and draws), and under the feedback loop audience MMR
    keeps users less alike than no re-ranking (-6%; without refits the two are level in this
    small world, +0.4%, within an A/A pair's noise: the users' own boredom already spreads
    their viewing over genres)."""
    static, retrained = startup_runs[0], startup_runs[3]
    assert (retrained["homogenization"] > 1.05 * static["homogenization"]).all()
    assert (retrained["coverage"] < static["coverage"]).all()
    assert retrained.loc["audience", "homogenization"] < 0.97 * retrained.loc["d0", "homogenization"]


def test_a_personalised_incumbent_already_homogenises(feedback_runs, startup_runs):
    """Why the default world's refits do not homogenise further: its warm-up logger (genre rows
    of the most played titles, 25% exploration) leaves users watching more alike than a random
    start-up does, before any refit."""
    assert feedback_runs[0].loc["d0", "homogenization"] > 1.1 * startup_runs[0].loc["d0", "homogenization"]
