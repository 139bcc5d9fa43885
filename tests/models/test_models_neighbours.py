"""Item-item models (item-kNN, RP3beta, EASE) against reference computations, and their guards."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.nearest_neighbours import CosineRecommender, bm25_weight, tfidf_weight

from recsys.core.errors import InputError
from recsys.evaluate import evaluate_models, planted_dataset
from recsys.models import EASE, ALS, Content, DenseHybrid, Hybrid, ItemKNN, Popularity, RP3beta, make_hybrid
from recsys.models.neighbours import weight_interactions


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(4)
    dense = (rng.random((60, 25)) < 0.25) * rng.integers(1, 4, (60, 25))
    return sp.csr_matrix(dense.astype(np.float32))


def _cosine(W: np.ndarray, shrink: float) -> np.ndarray:
    norm = np.linalg.norm(W, axis=0)
    S = (W.T @ W) / (np.outer(norm, norm) + shrink + 1e-12)
    np.fill_diagonal(S, 0.0)
    return S


def _keep_top(S: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(S)
    for i in range(S.shape[1]):  # reference loop, per column
        top = np.argsort(-S[:, i], kind="stable")[:k]
        out[top, i] = S[top, i]
    return np.where(out > 0, out, 0.0)


@pytest.mark.parametrize("shrink", [0.0, 5.0])
def test_itemknn_is_cosine_with_shrinkage_and_top_k_per_title(small, shrink):
    W = small.toarray().astype(np.float64)
    ref = _keep_top(_cosine(W, shrink), 6)
    got = ItemKNN(neighbours=6, shrinkage=shrink).fit(small).weights_.toarray()
    # ties at the k-th value may keep a different title: compare the values per column
    np.testing.assert_allclose(np.sort(got, axis=0), np.sort(ref, axis=0), rtol=1e-5, atol=1e-7)
    users = np.arange(10)
    np.testing.assert_allclose(ItemKNN(neighbours=6, shrinkage=shrink).fit(small).score(users), W[users] @ got,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Method expects CSR input")
def test_itemknn_without_pruning_matches_implicits_cosine(small):
    ours = ItemKNN(neighbours=100, shrinkage=0.0).fit(small).weights_.toarray()
    ref = CosineRecommender(K=100)
    ref.fit(small, show_progress=False)
    theirs = ref.similarity.toarray()
    np.fill_diagonal(theirs, 0.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_weightings_are_implicits(small):
    """implicit weights the titles x users matrix (titles as documents); ours the transpose."""
    np.testing.assert_allclose(weight_interactions(small, "tfidf").toarray(), tfidf_weight(small.T).T.toarray(),
                               rtol=1e-6)
    np.testing.assert_allclose(weight_interactions(small, "bm25", 1.2, 0.75).toarray(),
                               bm25_weight(small.T, 1.2, 0.75).T.toarray(), rtol=1e-6)


def test_rp3beta_is_the_penalised_three_step_walk(small):
    X = small.toarray().astype(np.float64)
    Pu = X / X.sum(1, keepdims=True).clip(1e-12)          # user -> title
    Pi = (X / X.sum(0, keepdims=True).clip(1e-12)).T       # title -> user
    alpha, beta = 0.8, 0.4
    W = (Pi ** alpha) @ (Pu ** alpha)
    W /= np.where(X.astype(bool).sum(0) > 0, X.astype(bool).sum(0), 1.0) ** beta
    np.fill_diagonal(W, 0.0)
    got = RP3beta(neighbours=100, alpha=alpha, beta=beta).fit(small).weights_.toarray()
    np.testing.assert_allclose(got, W, rtol=1e-5, atol=1e-8)


def test_ease_solves_its_regression(small):
    """Each column of B is the ridge regression of that title on the others (Steck 2019, eq. 1)."""
    X = small.toarray().astype(np.float64)
    lam = 3.0
    B = EASE(l2=lam).fit(small).weights_
    for i in (0, 7, 24):
        others = np.delete(np.arange(X.shape[1]), i)
        A = X[:, others]
        b = np.linalg.solve(A.T @ A + lam * np.eye(len(others)), A.T @ X[:, i])
        np.testing.assert_allclose(B[others, i], b, rtol=1e-4, atol=1e-6)
        assert B[i, i] == 0


def test_ease_refuses_a_catalogue_too_large_for_memory():
    X = sp.csr_matrix((5, 300), dtype=np.float32)
    with pytest.raises(InputError, match=r"EASE holds a dense titles x titles matrix: 300 titles.*max_items=200"):
        EASE(max_items=200).fit(X)


@pytest.mark.parametrize("model, message", [
    (ItemKNN(neighbours=0), "neighbours must be an integer >= 1"),
    (ItemKNN(neighbours=2.5), "neighbours must be an integer"),
    (ItemKNN(shrinkage=-1), "shrinkage must be a number >= 0"),
    (ItemKNN(weighting="idf"), "weighting must be one of none, tfidf, bm25"),
    (ItemKNN(bm25_b=2.0), "bm25_b must be in"),
    (RP3beta(alpha=0), "alpha must be a number > 0"),
    (RP3beta(beta="x"), "beta must be a number"),
    (EASE(l2=0), "l2 must be a number > 0"),
])
def test_bad_parameters_name_themselves(small, model, message):
    with pytest.raises(InputError, match=message):
        model.fit(small)


def test_make_hybrid_picks_the_class_for_the_cf_model():
    assert type(make_hybrid(ALS())) is Hybrid and type(make_hybrid()) is Hybrid
    assert type(make_hybrid(EASE(), Content(), content_weight=0.2)) is DenseHybrid


def test_new_user_of_a_dense_hybrid_is_personalised_from_the_given_history(small):
    model = DenseHybrid(ItemKNN(neighbours=10), popularity_weight=0.0).fit(small)
    uid = small.shape[0] + 3
    hist = sp.csr_matrix((np.ones(2, np.float32), ([uid, uid], [1, 2])), shape=(uid + 1, small.shape[1]))
    cold, warm = model.score(np.array([uid])), model.score(np.array([uid]), hist)
    np.testing.assert_allclose(cold[0], model.prior_)      # nothing to go on: the popularity prior
    assert not np.allclose(warm, cold)


def test_item_item_models_learn_planted_structure():
    inter, items = planted_dataset(1200, 300, clusters=6, mean_plays=15, seed=5)
    models = {"popularity": Popularity(), "itemknn": ItemKNN(), "rp3beta": RP3beta(), "ease": EASE()}
    ndcg = evaluate_models(inter, items, models, k=10, split="random").set_index("model")["ndcg"]
    for name in ("itemknn", "rp3beta", "ease"):
        assert ndcg[name] > 1.2 * ndcg["popularity"], ndcg


def test_dense_hybrid_over_als_is_the_hybrid(small):
    """DenseHybrid standardises dense blocks; Hybrid computes the same z-scores in closed form."""
    from recsys.evaluate.synthetic import planted_dataset as planted

    inter, items = planted(300, 120, clusters=4, mean_plays=10, seed=3)
    X = sp.csr_matrix((inter["weight"].to_numpy(np.float32), (inter["user"], inter["item"])), shape=(300, 120))
    a = Hybrid(ALS(factors=8, iterations=4), Content(n_components=8), random_state=0).fit(X, items)
    b = DenseHybrid(ALS(factors=8, iterations=4), Content(n_components=8), random_state=0).fit(X, items)
    users = np.r_[np.arange(40), 400]                           # the last one unknown: popularity
    np.testing.assert_allclose(a.score(users, X), b.score(users, X), atol=2e-5)
    np.testing.assert_allclose(a.score(users, X, items=np.array([3, 9])), b.score(users, X, items=np.array([3, 9])),
                               atol=2e-5)
