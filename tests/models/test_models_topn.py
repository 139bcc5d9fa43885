"""Top-n selection against a brute-force argsort."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.models import topn

from recsys.models import ALS, Random
from recsys.models.topn import OVERFETCH_MAX, top_n


def _brute(S, n, filt=None, excl=None):
    S = S.astype(np.float64).copy()
    if filt is not None:
        S[filt.toarray() > 0] = -np.inf
    if excl is not None:
        S[:, excl] = -np.inf
    ids = np.argsort(-S, axis=1, kind="stable")[:, :n]
    return ids, np.take_along_axis(S, ids, 1)


def _data(seed=0, users=80, items=60):
    X = sp.random(users, items, density=0.1, format="csr", dtype=np.float32, random_state=seed)
    return X


@pytest.fixture(params=["dense", "implicit"])
def factor_path(request, monkeypatch):
    """Run a factor-model test on the dense path and on implicit's top-k (large catalogs)."""
    if request.param == "implicit":
        monkeypatch.setattr(topn, "DENSE_ITEMS_MAX", 0)
    return request.param


def test_factor_path_matches_brute_force_with_filters(factor_path):
    X = _data()
    model = ALS(factors=6, iterations=3, random_state=0).fit(X)
    users = np.arange(30)
    S = model.score(users, X)
    filt = X[users]
    excl = np.array([3, 5, 8])
    for f in (filt, None):
        ids, sc = top_n(model, users, X, 10, filter=f, exclude=excl)
        bid, bsc = _brute(S, 10, f, excl)
        np.testing.assert_allclose(sc, bsc, rtol=1e-5)
        # ids agree where scores are not tied
        same = np.isclose(np.take_along_axis(S, ids, 1), np.take_along_axis(S, bid, 1))
        assert same.all()


def test_long_filter_rows_are_filtered(factor_path):
    X = sp.random(10, 200, density=0.5, format="csr", dtype=np.float32, random_state=1)
    assert np.diff(X.indptr).max() > OVERFETCH_MAX
    model = ALS(factors=4, iterations=2, random_state=0).fit(X)
    ids, sc = top_n(model, np.arange(10), X, 20, filter=X)
    assert not (X.toarray()[np.repeat(np.arange(10), 20), np.maximum(ids, 0).ravel()] > 0)[ids.ravel() >= 0].any()


def test_more_than_available_pads_with_minus_one(factor_path):
    X = _data(items=12)
    model = ALS(factors=3, iterations=2, random_state=0).fit(X)
    ids, sc = top_n(model, np.arange(5), X, 20, exclude=np.arange(6))
    assert ids.shape == (5, 20)
    assert ((ids >= 0).sum(1) == 6).all()
    assert np.isneginf(sc[ids < 0]).all()


def test_generic_path():
    X = _data()
    model = Random(random_state=1).fit(X)
    users = np.arange(20)
    ids, sc = top_n(model, users, X, 7, filter=X[users], chunk=6)
    bid, _ = _brute(model.score(users), 7, X[users])
    np.testing.assert_array_equal(ids, bid)


def _sampled_case(seed=0, n=60, m=5000):
    """Scores with many ties (rounded), an adversarial row and a nearly all-filtered row."""
    rng = np.random.default_rng(seed)
    S = np.round(rng.standard_normal((n, m)), 1).astype(np.float32)
    cols = topn._sample_columns(m)
    S[0, cols] = 100.0 + np.arange(len(cols))  # the sample overshoots: exact fallback
    S[1, :] = -np.inf
    S[1, :7] = 1.0  # fewer finite scores than k
    S[2, :] = 0.0  # everything tied
    return S


@pytest.mark.parametrize("k", [1, 40, 300])
def test_threshold_selection_is_exact_with_ties_by_id(k):
    S = _sampled_case()
    assert topn._SAMPLE_MARGIN * k < S.shape[1]  # the sampled path, not the whole-row sort
    ids, sc = topn._select(S.copy(), k, None, None)
    bid = np.argsort(-S, axis=1, kind="stable")[:, :k]
    finite = np.isfinite(np.take_along_axis(S, bid, 1))
    np.testing.assert_array_equal(np.where(finite, ids, -1), np.where(finite, bid, -1))
    np.testing.assert_array_equal(sc[finite], np.take_along_axis(S, bid, 1)[finite])
    assert np.isneginf(sc[~finite]).all()
    assert (~finite).sum() == k - 7 if k > 7 else True


def test_chunking_does_not_change_dense_results():
    X = sp.random(300, 4000, density=0.01, format="csr", dtype=np.float32, random_state=3)
    model = ALS(factors=8, iterations=3, random_state=0).fit(X)
    users = np.arange(300)
    a = top_n(model, users, X, 50, filter=X[users], chunk=7)
    b = top_n(model, users, X, 50, filter=X[users], chunk=1000)
    np.testing.assert_array_equal(a[0], b[0])
    # the same titles; their scores to float32 rounding: BLAS may sum a product of a few rows
    # in another order than a large one (OpenBLAS 0.3.31's small-matrix kernels, AVX-512)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)


def test_one_user_at_a_time_matches_the_batch():
    """Small batches score every title and mask the excluded; large ones never score them."""
    X = sp.random(200, 3000, density=0.01, format="csr", dtype=np.float32, random_state=4)
    model = ALS(factors=8, iterations=3, random_state=0).fit(X)
    users = np.arange(40)
    excl = np.arange(0, 3000, 7)
    batch = top_n(model, users, X, 30, filter=X[users], exclude=excl)
    ones = [top_n(model, users[i:i + 1], X, 30, filter=X[users[i:i + 1]], exclude=excl) for i in range(len(users))]
    np.testing.assert_array_equal(batch[0], np.vstack([o[0] for o in ones]))
    np.testing.assert_allclose(batch[1], np.vstack([o[1] for o in ones]), rtol=1e-6)
    assert not np.isin(batch[0], excl).any()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), m=st.integers(1, 2500), k=st.integers(1, 200), levels=st.sampled_from([3, 50, 0]),
       filtered=st.floats(0.0, 0.999), seed=st.integers(0, 2**31 - 1))
def test_selection_matches_a_stable_sort(n, m, k, levels, filtered, seed):
    """Any shape, k, tie density (levels: distinct values, 0 = continuous) and share of -inf."""
    k = min(k, m)
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((n, m)).astype(np.float32)
    if levels:
        S = np.floor(S * levels / 4).astype(np.float32)
    S[rng.random((n, m)) < filtered] = -np.inf
    ids, sc = topn._select(S.copy(), k)
    bid = np.argsort(-S, axis=1, kind="stable")[:, :k]
    bsc = np.take_along_axis(S, bid, 1)
    finite = np.isfinite(bsc)
    assert ids.shape == sc.shape == (n, k)
    np.testing.assert_array_equal(ids[finite], bid[finite])
    np.testing.assert_array_equal(sc[finite], bsc[finite])
    assert np.isneginf(sc[~finite]).all()
