"""recsys.exposure: homogenisation (mean pairwise Jaccard) against hand-computed and brute-force
values, the sample, coverage / long tail / genre shares, and, on a small world, what retraining
on the arm's own feedback and the diversity weight do to them. The two feedback-loop phenomena
the brief asks for are strict xfails: the current world does not produce them (an XPASS, once
it does, fails the run so the marker gets removed)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.experiment.config import ArmConfig, ExperimentConfig
from recsys.experiment.runner import run_experiment
from recsys.exposure import (exposure_table, genre_shares, head_titles, homogenization, mean_jaccard, play_matrix,
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
    """The same small world, users and arms (hybrid at diversity 0 and 1), with the model never
    refitted and refitted every 3 days on its own arm's feedback: exposure per arm for each."""
    arms = tuple(ArmConfig(f"d{w:g}", "hybrid", 0.5, {"diversity": w}) for w in (0.0, 1.0))
    base = ExperimentConfig(seed=2, users=3000, days=10, warmup_days=14, control="d0", arms=arms,
                            world=WorldConfig(users=3000, titles=600))
    out = {}
    for retrain in (0, 3):
        res = run_experiment(base.replace(retrain_every=retrain), keep_impressions=False)
        pop = np.bincount(res.warmup.logs.plays["title"], minlength=600)
        out[retrain] = exposure_table(res.logs.plays, res.table, 600, popularity=pop).set_index("arm")
    return out


def test_retraining_on_own_feedback_concentrates_the_catalog(feedback_runs):
    """The feedback loop narrows what an arm watches as a whole: fewer distinct titles played."""
    static, retrained = feedback_runs[0], feedback_runs[3]
    assert (retrained["coverage"] < static["coverage"]).all()


@pytest.mark.xfail(strict=True, reason="in this world, genre MMR appears to move users to the same popular titles of "
                   "other genres: pairwise Jaccard rises and the long-tail share falls with the weight "
                   "(docs/tune.md, 'What the world does')")
def test_homogenization_falls_as_the_diversity_weight_rises(feedback_runs):
    """With the hybrid re-ranked for diversity, users watch less alike."""
    for e in feedback_runs.values():
        assert e.loc["d1", "homogenization"] < e.loc["d0", "homogenization"]


@pytest.mark.xfail(strict=True, reason="in this world, refitting on the arm's own feedback personalises more: "
                   "pairwise Jaccard falls while coverage falls (docs/tune.md, 'What the world does')")
def test_retraining_on_own_feedback_raises_homogenization(feedback_runs):
    """Chaney et al. (2018): a recommender retrained on its own feedback homogenises users."""
    static, retrained = feedback_runs[0], feedback_runs[3]
    assert (retrained["homogenization"] > static["homogenization"]).all()
