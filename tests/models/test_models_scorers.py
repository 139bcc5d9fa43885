"""Model-specific behaviour: the hybrid blend, content cold start, fold-in, planted structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.evaluate import evaluate_models, planted_dataset
from recsys.models import ALS, BPR, Content, Hybrid, Popularity, Random
from recsys.models.features import item_features, popularity_bands


@pytest.fixture(scope="module")
def planted():
    return planted_dataset(1500, 300, clusters=6, mean_plays=15, seed=5)


def _matrix(inter, n_users, n_items):
    return sp.csr_matrix((inter["weight"].to_numpy(np.float32), (inter["user"], inter["item"])), shape=(n_users, n_items))


def test_hybrid_blend_weights_follow_history():
    h = Hybrid(cf_weight=1.0, content_weight=0.4, popularity_weight=0.6, shrinkage=5.0)
    cf, ct, pop = h.blend_weights(np.array([0, 1, 5, 100]))
    np.testing.assert_allclose(cf, [0, 1 / 6, 0.5, 100 / 105])
    np.testing.assert_allclose(ct, [0, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(pop, 0.6 * (1 - cf))


def test_hybrid_is_the_documented_blend_of_z_scores(planted):
    inter, items = planted
    X = _matrix(inter, 1500, 300)
    h = Hybrid(ALS(factors=8, iterations=4), Content(n_components=8), random_state=0).fit(X, items)
    users = np.arange(12)
    z = lambda s: (s - s.mean(1, keepdims=True)) / s.std(1, keepdims=True)
    n = np.diff(X.indptr)[users]
    w_cf, w_ct, w_pop = h.blend_weights(n)
    lp = np.log1p(np.asarray(X.sum(0)).ravel())
    expect = (w_cf[:, None] * z(h.cf_.score(users).astype(np.float64))
              + w_ct[:, None] * z(h.content_.score(users).astype(np.float64))
              + w_pop[:, None] * ((lp - lp.mean()) / lp.std())[None, :])
    np.testing.assert_allclose(h.score(users), expect, atol=2e-3)


def test_new_user_without_history_gets_popularity(planted):
    inter, items = planted
    X = _matrix(inter, 1500, 300)
    pop_order = np.argsort(-Popularity().fit(X).popularity_, kind="stable")[:10]
    for model in (ALS(factors=8, iterations=3, random_state=0), Content(random_state=0), Hybrid(random_state=0)):
        ids, _ = model.fit(X, items).recommend(np.array([5000]), None, n=10)
        assert set(ids[0]) == set(pop_order), type(model).__name__


def test_fold_in_recovers_a_fitted_users_taste(planted):
    inter, items = planted
    X = _matrix(inter, 1500, 300)
    model = ALS(factors=8, iterations=6, random_state=0).fit(X)
    u = int(np.argmax(np.diff(X.indptr)))
    # the same history under a new id: folded in, it ranks like the fitted user
    new = 1500
    H = sp.vstack([X, X[u]]).tocsr()
    a = model.score(np.array([u]), X)[0]
    b = model.score(np.array([new]), H)[0]
    assert np.corrcoef(a, b)[0, 1] > 0.9


def test_content_scores_titles_with_no_plays(planted):
    inter, items = planted
    X = _matrix(inter, 1500, 300)
    X2 = X.tolil()
    X2[:, 10] = 0  # title 10 never played
    X2 = X2.tocsr()
    X2.eliminate_zeros()
    model = Content(random_state=0).fit(X2, items)
    s = model.score(np.arange(100))
    assert np.ptp(s[:, 10]) > 0.1  # scored like any other title, varying with the user


def test_content_works_with_genre_only_items():
    items = pd.DataFrame({"item": np.arange(30), "genres": [["a", "b"][: 1 + i % 2] if i % 3 else ["c"] for i in range(30)]})
    X = sp.random(40, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
    s = Content(random_state=0).fit(X, items).score(np.arange(40))
    assert np.isfinite(s).all()
    F = item_features(items, 30)
    assert F.shape[1] == 3  # genres only, no popularity counts given


def test_popularity_bands():
    np.testing.assert_array_equal(popularity_bands(np.array([0, 1, 10, 100, 1000, 0]), bands=2), [0, 1, 1, 2, 2, 0])


def test_bpr_single_thread_is_reproducible(planted):
    inter, items = planted
    X = _matrix(inter, 1500, 300)
    a = BPR(factors=8, iterations=5, random_state=2).fit(X).score(np.arange(10))
    b = BPR(factors=8, iterations=5, random_state=2).fit(X).score(np.arange(10))
    np.testing.assert_array_equal(a, b)


def test_planted_structure_orders_models(planted):
    """ALS > popularity > random on held-out plays; content beats ALS on never-played titles."""
    inter, items = planted
    models = {"random": Random(random_state=0), "popularity": Popularity(),
              "als": ALS(factors=12, random_state=0), "content": Content(random_state=0),
              "hybrid": Hybrid(ALS(factors=12), random_state=0)}
    res = evaluate_models(inter, items, models, k=10, split="temporal").set_index("model")["ndcg"]
    assert res["als"] > 1.3 * res["popularity"]
    assert res["popularity"] > 2 * res["random"]
    assert res["hybrid"] >= res["als"]
    cold = evaluate_models(inter, items, {"als": models["als"], "content": models["content"]}, k=10,
                           split="temporal", cold_items=True).set_index("model")["ndcg"]
    assert cold["content"] > 1.3 * cold["als"]
