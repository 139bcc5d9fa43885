"""The contract every scorer keeps (LensKit-style shared tests): name the class, get the checks."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from recsys.evaluate.synthetic import planted_dataset
from recsys.models import ALS, BPR, EASE, Content, DenseHybrid, Hybrid, ItemKNN, Popularity, Random, RP3beta
from recsys.models.base import rows_for

# small, fast configurations; the contract does not depend on the sizes
SCORERS = {
    "popularity": lambda rs: Popularity(),
    "random": lambda rs: Random(random_state=rs),
    "als": lambda rs: ALS(factors=8, iterations=4, random_state=rs),
    "bpr": lambda rs: BPR(factors=8, iterations=10, random_state=rs),
    "content": lambda rs: Content(n_components=8, random_state=rs),
    "hybrid": lambda rs: Hybrid(ALS(factors=8, iterations=4), Content(n_components=8), random_state=rs),
    "itemknn": lambda rs: ItemKNN(neighbours=20),
    "itemknn-bm25": lambda rs: ItemKNN(neighbours=20, weighting="bm25", shrinkage=0.0),
    "itemknn-tfidf": lambda rs: ItemKNN(neighbours=20, weighting="tfidf"),
    "rp3beta": lambda rs: RP3beta(neighbours=20),
    "ease": lambda rs: EASE(l2=50.0),
    "dense-hybrid-knn": lambda rs: DenseHybrid(ItemKNN(neighbours=20), Content(n_components=8), random_state=rs),
    "dense-hybrid-ease": lambda rs: DenseHybrid(EASE(l2=50.0), Content(n_components=8), random_state=rs),
}


@pytest.fixture(scope="module")
def data():
    inter, items = planted_dataset(300, 120, clusters=4, mean_plays=10, seed=3)
    X = sp.csr_matrix((inter["weight"].to_numpy(np.float32), (inter["user"], inter["item"])), shape=(300, 120))
    return X, items


@pytest.fixture(params=sorted(SCORERS))
def make(request):
    return SCORERS[request.param]


def test_fit_returns_self_and_scores_a_batch(make, data):
    X, items = data
    model = make(0)
    assert model.fit(X, items) is model
    s = model.score(np.arange(20), X)
    assert s.shape == (20, X.shape[1]) and s.dtype == np.float32 and np.isfinite(s).all()


def test_init_stores_params_only(make):
    model = make(0)
    assert not [k for k in vars(model) if k.endswith("_")]
    assert set(model.get_params(deep=False)) == set(vars(model))


def test_fit_twice_same_scores(make, data):
    X, items = data
    a = make(7).fit(X, items).score(np.arange(50), X)
    b = make(7).fit(X, items).score(np.arange(50), X)
    np.testing.assert_array_equal(a, b)
    m = make(7)
    first = m.fit(X, items).score(np.arange(50), X)
    np.testing.assert_array_equal(first, m.fit(X, items).score(np.arange(50), X))


def test_params_and_clone(make, data):
    X, items = data
    model = make(3)
    params = model.get_params()
    twin = clone(model)
    assert twin.get_params().keys() == params.keys()
    assert twin is not model
    if "random_state" in params:
        assert model.set_params(random_state=11) is model and model.random_state == 11
    twin.fit(X, items)
    assert not hasattr(model, "n_items_")  # cloning and fitting the clone leaves the original unfitted


def test_unknown_users_get_a_cold_start_answer(make, data):
    X, items = data
    model = make(0).fit(X, items)
    users = np.array([X.shape[0] + 5, 10**6, -1])
    s = model.score(users)
    assert s.shape == (3, X.shape[1]) and np.isfinite(s).all()
    ids, sc = model.recommend(users, None, n=5)
    assert ids.shape == (3, 5) and (ids >= 0).all()
    # a new user's history, passed as X (indexed by user id), is used without refitting
    uid = X.shape[0] + 2
    hist = sp.csr_matrix((np.ones(3, np.float32), ([uid] * 3, [1, 2, 3])), shape=(uid + 1, X.shape[1]))
    s2 = model.score(np.array([uid]), hist)
    assert np.isfinite(s2).all()


def test_pickle_round_trip(make, data):
    X, items = data
    model = make(0).fit(X, items)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.score(np.arange(10), X), again.score(np.arange(10), X))


def test_watched_titles_can_be_filtered(make, data):
    X, items = data
    model = make(0).fit(X, items)
    users = np.arange(40)
    ids, scores = model.recommend(users, X, n=15, filter_seen=True)
    seen = rows_for(users, X, X.shape[1]).toarray() > 0
    assert not seen[np.repeat(users, 15), ids.ravel()].any()
    assert (np.diff(scores, axis=1) <= 1e-6).all()   # best first
    excl = np.array([0, 1, 2])
    ids2, _ = model.recommend(users, X, n=15, exclude=excl)
    assert not np.isin(ids2, excl).any()


def test_no_warnings_from_fitting(make, data):
    X, items = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(0).fit(X, items).score(np.arange(5), X)


def test_scores_a_subset_of_titles(make, data):
    """``score(users, X, items=...)`` (the policies' extra candidates) equals the full scores' columns."""
    X, items = data
    model = make(0).fit(X, items)
    users, cols = np.arange(30), np.array([5, 0, 77, 3])
    full = model.score(users, X)
    np.testing.assert_allclose(model.score(users, X, items=cols), full[:, cols], rtol=1e-5, atol=1e-6)
